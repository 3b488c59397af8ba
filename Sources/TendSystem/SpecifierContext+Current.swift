import Glibc
import TendModel

extension SpecifierContext {
    /// The values for the user running this process: systemd's system-manager directories for root, the XDG
    /// directories of systemd's user manager for anyone else.
    public static func current(environment: [String: String]) -> SpecifierContext {
        let uid = getuid()
        let gid = getgid()
        var userName = uid == 0 ? "root" : String(uid)
        var home = environment["HOME"] ?? (uid == 0 ? "/root" : "/")
        var shell = "/bin/sh"
        if let pw = getpwuid(uid) {
            userName = String(cString: pw.pointee.pw_name)
            if environment["HOME"] == nil { home = String(cString: pw.pointee.pw_dir) }
            if uid != 0 { shell = String(cString: pw.pointee.pw_shell) }
        }
        var groupName = gid == 0 ? "root" : String(gid)
        if let gr = getgrgid(gid) { groupName = String(cString: gr.pointee.gr_name) }
        var hostBuffer = [CChar](repeating: 0, count: 256)
        var hostName = "localhost"
        if gethostname(&hostBuffer, hostBuffer.count - 1) == 0 {
            hostName = String(
                decoding: hostBuffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) },
                as: UTF8.self)
        }
        func xdg(_ key: String, _ fallback: String) -> String {
            if let v = environment[key], v.hasPrefix("/") { return v }
            return fallback
        }
        let tmp = environment["TMPDIR"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        var u = utsname()
        var release = "", machine = ""
        if uname(&u) == 0 {
            release = withUnsafeBytes(of: u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            machine = withUnsafeBytes(of: u.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        let arch = ["x86_64": "x86-64", "aarch64": "arm64", "i686": "x86", "armv7l": "arm"][machine] ?? machine
        var context: SpecifierContext
        if uid == 0 {
            context = SpecifierContext(
                userName: userName, uid: uid, home: home, runtimeDir: "/run", stateDir: "/var/lib",
                cacheDir: "/var/cache", logsDir: "/var/log", configDir: "/etc", hostName: hostName,
                groupName: groupName, gid: gid, shell: shell, tempDir: tmp ?? "/tmp", varTempDir: tmp ?? "/var/tmp")
        } else {
            let state = xdg("XDG_STATE_HOME", home + "/.local/state")
            context = SpecifierContext(
                userName: userName, uid: uid, home: home,
                runtimeDir: xdg("XDG_RUNTIME_DIR", "/run/user/\(uid)"), stateDir: state,
                cacheDir: xdg("XDG_CACHE_HOME", home + "/.cache"), logsDir: state + "/log",
                configDir: xdg("XDG_CONFIG_HOME", home + "/.config"), hostName: hostName, groupName: groupName,
                gid: gid, shell: shell, tempDir: tmp ?? "/tmp", varTempDir: tmp ?? "/var/tmp")
        }
        context.kernelRelease = release
        context.architecture = arch
        func text(_ path: String) -> String? { Posix.readFile(path, limit: 1 << 16).map { String(decoding: $0, as: UTF8.self) } }
        context.osRelease = SpecifierContext.parseAssignments(text("/etc/os-release") ?? text("/usr/lib/os-release") ?? "")
        let hex = { (s: String?) in String((s ?? "").filter { $0.isHexDigit }.prefix(32)) }
        let machineID = hex(text("/etc/machine-id"))
        context.machineID = machineID.count == 32 ? machineID : ""
        context.bootID = hex(text("/proc/sys/kernel/random/boot_id"))
        context.prettyHostName = SpecifierContext.parseAssignments(text("/etc/machine-info") ?? "")["PRETTY_HOSTNAME"] ?? ""
        return context
    }
}
