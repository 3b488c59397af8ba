import TendModel
import TendSystem

/// The wire format, both directions: one JSON object per line (docs/control-protocol.md). A request is
/// `{"cmd": "start", "units": ["web"], ...}` (`ControlRequest`); the reply is `{"ok": true, ...}` (the
/// `ControlReply` types) or `{"ok": false, "error": "…", "code": "unit-not-found", "exit": 5}` (`ControlError`).
/// `subscribe` is answered once, then followed by one `ControlEvent` per line until the client goes away.
public enum ControlProtocol {
    /// The protocol's version, in the `ping` and `subscribe` replies. Raised when a request, a reply field or
    /// an error code changes meaning; new optional fields and new requests keep it.
    public static let version: Int64 = 1
    /// Largest request accepted; a longer line is answered with `request-too-large` and the connection closed.
    public static let maxRequest = 1 << 20
    /// Most reply bytes queued for a client that doesn't read; past it the connection is closed.
    public static let maxOutput = 64 << 20
    /// Most event bytes queued for a subscriber that doesn't read; past it the subscription is cut off.
    public static let maxEventBacklog = 1 << 20
    /// The most log records `status` returns per unit: the manager reads them on its only thread, so a client
    /// asking for a hundred million would stall supervision (`tend logs` reads the files itself, without limit).
    public static let maxStatusLines = 1000
    /// ... and at most this many bytes of them (records may be up to LineMax= long): the oldest lines that don't
    /// fit are left out, so one request costs the manager at most a few milliseconds of reading.
    public static let maxStatusLogBytes = 1 << 20
    public static let socketName = "control.sock"
}

/// Why a request failed, as a stable string on the wire. Each code has exactly one exit status, which `tend`
/// exits with (systemctl's conventions: 1 failure, 4 no such unit or no permission, 5 unit not loaded).
public enum ControlErrorCode: String, CaseIterable, Sendable {
    /// The line is not JSON, not an object, has no `"cmd"` string, or a field has the wrong type.
    case malformedRequest = "malformed-request"
    /// The request line is longer than `ControlProtocol.maxRequest`.
    case requestTooLarge = "request-too-large"
    /// `"cmd"` names no request this manager knows.
    case unknownCommand = "unknown-command"
    /// Well-formed but unusable arguments (e.g. no unit named where one is needed).
    case invalidArgument = "invalid-argument"
    /// The peer is neither root nor the manager's own user.
    case accessDenied = "access-denied"
    /// A job, `kill` or `reset-failed` names a unit that has no unit file (`systemctl start` exits 5).
    case unitNotFound = "unit-not-found"
    /// `show` (and `status`, `list-dependencies` client-side) name a unit that doesn't exist (exit 4).
    case noSuchUnit = "no-such-unit"
    /// A template name without an instance (`greet@`), which can't be started.
    case badUnitName = "bad-unit-name"
    /// The unit file has errors: the unit is loaded as `bad-setting` and refuses to start.
    case badSetting = "bad-setting"
    /// The job ran and failed (or a job it depended on did, or an assertion did not hold).
    case jobFailed = "job-failed"
    /// `kill` of a unit that has no processes.
    case notActive = "not-active"
    /// `kill --who main` of a unit without a main process.
    case noMainProcess = "no-main-process"
    /// `cat` of a unit that has no files.
    case noUnitFiles = "no-unit-files"
    /// `enable`/`disable` could not change the links.
    case installFailed = "install-failed"
    /// The manager is stopping and takes no new jobs.
    case shuttingDown = "shutting-down"
    /// Client side: the socket could not be reached (no manager running, wrong state directory).
    case connectionFailed = "connection-failed"
    /// Client side: the manager closed the connection without a reply, or the reply is not understood.
    case protocolError = "protocol-error"
    /// Client side: no reply or event within the time asked for.
    case timedOut = "timed-out"
    /// Anything else.
    case failed

    /// The exit status of `tend` for this code.
    public var exitStatus: Int32 {
        switch self {
        case .unitNotFound: return 5
        case .noSuchUnit, .accessDenied: return 4
        default: return 1
        }
    }
}

/// A failed request: its code, the message `tend` prints, the exit status, and for requests naming several
/// units, each unit's own error.
public struct ControlError: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: ControlErrorCode
    public var message: String
    /// `code.exitStatus`, unless a newer manager sent a code this client doesn't know (then the wire's `exit`).
    public var exitStatus: Int32
    /// The unit this error is about, if one.
    public var unit: String?
    /// Per-unit errors of a request naming several units (the message joins theirs).
    public var errors: [ControlError]

    public init(_ code: ControlErrorCode, _ message: String, unit: String? = nil, errors: [ControlError] = []) {
        self.code = code
        self.message = message
        self.exitStatus = code.exitStatus
        self.unit = unit
        self.errors = errors
    }

    public var description: String { message }

    /// Several units' errors as one: `unit-not-found` if any unit was missing (exit 5, as systemctl),
    /// else the first error's code.
    public static func combined(_ errors: [ControlError]) -> ControlError? {
        guard let first = errors.first else { return nil }
        if errors.count == 1 { return first }
        let code = errors.contains { $0.code == .unitNotFound } ? .unitNotFound : first.code
        return ControlError(code, errors.map(\.message).joined(separator: "\n"), errors: errors)
    }

    // MARK: Wire

    public var json: JSON {
        var o: [(String, JSON)] = [
            (Wire.ok, .bool(false)), (Wire.error, .string(message)), (Wire.code, .string(code.rawValue)),
            (Wire.exit, .int(Int64(exitStatus))),
        ]
        if let unit { o.append((Wire.unit, .string(unit))) }
        if !errors.isEmpty { o.append((Wire.errors, .array(errors.map(\.json)))) }
        return .object(o)
    }

    /// Reads an error object; an unknown code keeps the wire's exit status (a newer manager).
    public init(json: JSON) {
        let raw = json[Wire.code]?.string
        let known = raw.flatMap(ControlErrorCode.init(rawValue:))
        self.init(known ?? .failed, json[Wire.error]?.string ?? "The request failed.", unit: json[Wire.unit]?.string,
                  errors: (json[Wire.errors]?.array ?? []).map { ControlError(json: $0) })
        if known == nil, let exit = json[Wire.exit]?.int { exitStatus = Int32(clamping: exit) }
    }

    static func malformed(_ why: String) -> ControlError { ControlError(.malformedRequest, "Malformed request: \(why).") }
}

/// The field names of the wire, each spelled once: requests, replies, errors and events are encoded and
/// decoded in TendControl only, by the server and every client alike.
enum Wire {
    static let cmd = "cmd", ok = "ok", error = "error", code = "code", exit = "exit", errors = "errors"
    static let unit = "unit", units = "units", noBlock = "noBlock", lines = "lines", all = "all"
    static let signal = "signal", who = "who", missing = "missing", texts = "texts", states = "states"
    static let changes = "changes", notes = "notes", unitDir = "unitDir", now = "now", unitPaths = "unitPaths"
    static let type = "type", path = "path", target = "target", message = "message"
    static let pid = "pid", logDir = "logDir", version = "version", tend = "tend", subscribers = "subscribers"
    static let rejected = "rejected", event = "event", active = "active", sub = "sub", result = "result"
    static let job = "job", time = "time", logs = "logs", stream = "stream", text = "text"
}
