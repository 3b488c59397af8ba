import TendModel
import TendSystem
/// The wire format, both directions: one JSON object per line. A request is
/// `{"cmd": "start", "units": ["web"], ...}`; the reply is `{"ok": true, ...}` or
/// `{"ok": false, "error": "…", "exit": N}`. `logs` with `"follow": true` is followed by raw log records,
/// one per line, until the client goes away.
public enum ControlProtocol {
    /// Largest request accepted; a longer line closes the connection.
    public static let maxRequest = 1 << 20
    public static let socketName = "control.sock"
}
