import Glibc
import TendModel
import TendSystem

/// Default locations (DESIGN.md "Files and defaults").
public enum Defaults {
    public static var isRoot: Bool { getuid() == 0 }
    public static var env: [String: String] { Posix.environment() }

    public static var home: String { env["HOME"] ?? Posix.user(uid: getuid())?.home ?? "/" }

    public static var stateDir: String {
        if let d = env["TEND_STATE_DIR"], !d.isEmpty { return d }
        if isRoot { return "/run/tend" }
        if let r = env["XDG_RUNTIME_DIR"], !r.isEmpty { return r + "/tend" }
        return "/tmp/tend-\(getuid())"
    }

    public static var logDir: String {
        if let d = env["TEND_LOG_DIR"], !d.isEmpty { return d }
        if isRoot { return "/var/log/tend" }
        if let s = env["XDG_STATE_HOME"], !s.isEmpty { return s + "/tend/logs" }
        return home + "/.local/state/tend/logs"
    }

    public static var unitDirs: [String] {
        if isRoot { return ["/etc/tend/units"] }
        if let c = env["XDG_CONFIG_HOME"], !c.isEmpty { return [c + "/tend/units"] }
        return [home + "/.config/tend/units"]
    }
}


/// The version of tend, printed by `tend --version` and the manager at start-up.
public let tendVersion = "0.1.0"
