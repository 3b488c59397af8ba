
/// Signal names as systemd spells them (`KILL`, `RTMIN+3`), both ways.
public enum Signals {
    /// The classic signals, numbered as the C library on this platform numbers them.
    package static let table: [(String, Int32)] = [
        ("HUP", SIGHUP), ("INT", SIGINT), ("QUIT", SIGQUIT), ("ILL", SIGILL), ("TRAP", SIGTRAP),
        ("ABRT", SIGABRT), ("BUS", SIGBUS), ("FPE", SIGFPE), ("KILL", SIGKILL), ("USR1", SIGUSR1),
        ("SEGV", SIGSEGV), ("USR2", SIGUSR2), ("PIPE", SIGPIPE), ("ALRM", SIGALRM), ("TERM", SIGTERM),
        ("STKFLT", SIGSTKFLT), ("CHLD", SIGCHLD), ("CONT", SIGCONT), ("STOP", SIGSTOP), ("TSTP", SIGTSTP),
        ("TTIN", SIGTTIN), ("TTOU", SIGTTOU), ("URG", SIGURG), ("XCPU", SIGXCPU), ("XFSZ", SIGXFSZ),
        ("VTALRM", SIGVTALRM), ("PROF", SIGPROF), ("WINCH", SIGWINCH), ("IO", SIGIO), ("PWR", SIGPWR),
        ("SYS", SIGSYS),
    ]
    /// Aliases accepted when parsing but never printed.
    static let aliases: [(String, Int32)] = [("IOT", SIGABRT), ("POLL", SIGIO), ("CLD", SIGCHLD)]

    /// glibc reserves the first two real-time signals for itself, so `SIGRTMIN` is 34 for programs (as
    /// systemd's `signal_to_string()` counts); `SIGRTMAX` is 64 on Linux.
    static let rtMin: Int32 = 34
    static let rtMax: Int32 = 64

    /// The number of a signal written as `SIGKILL`, `KILL`, `sigkill`, `RTMIN+3`, `SIGRTMAX-1` or `9`.
    /// Returns nil for an unknown name or a number outside 1...64.
    public static func number(named raw: String) -> Int32? {
        var s = raw.trimmedWhitespace.uppercased()
        if s.isEmpty { return nil }
        if let v = Int32(s) { return (1...rtMax).contains(v) ? v : nil }
        if s.hasPrefix("SIG") { s.removeFirst(3) }
        if let hit = (table + aliases).first(where: { $0.0 == s }) { return hit.1 }
        if s == "RTMIN" { return rtMin }
        if s == "RTMAX" { return rtMax }
        // k is compared before it is added: `RTMIN+2147483644` must be refused, not overflow.
        if s.hasPrefix("RTMIN+"), let k = Int32(s.dropFirst(6)), k >= 0, k <= rtMax - rtMin { return rtMin + k }
        if s.hasPrefix("RTMAX-"), let k = Int32(s.dropFirst(6)), k >= 0, k <= rtMax - rtMin { return rtMax - k }
        return nil
    }

    /// The name of signal `n` without the `SIG` prefix, as `systemctl` prints it (`9` → `KILL`, `36` →
    /// `RTMIN+2`), or nil for a number that is not a signal.
    public static func name(_ n: Int32) -> String? {
        if let hit = table.first(where: { $0.1 == n }) { return hit.0 }
        if n == rtMin { return "RTMIN" }
        if n > rtMin && n <= rtMax { return "RTMIN+\(n - rtMin)" }
        return nil
    }
}
