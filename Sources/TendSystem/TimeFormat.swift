import Glibc
import TendModel

/// Monotonic → realtime conversion with one reading of both clocks per request.
public struct Clock {
    let monotonic = Posix.monotonicNow
    let realtime = Posix.realtimeMicroseconds
    public init() {}
    public func realtime(_ t: MonotonicInstant) -> UInt64 { realtime &- monotonic.usec(since: t) }
}

/// Times as systemctl prints them.
public enum TimeFormat {
    /// `Sun 2026-11-22 02:50:01 UTC` in the local time zone.
    public static func timestamp(_ realtimeUS: UInt64) -> String {
        guard realtimeUS > 0 else { return "" }
        var t = time_t(realtimeUS / 1_000_000)
        var tm = tm()
        localtime_r(&t, &tm)
        var buf = [CChar](repeating: 0, count: 64)
        let n = strftime(&buf, buf.count, "%a %Y-%m-%d %H:%M:%S %Z", &tm)
        return String(decoding: buf.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `5min 3s ago` style span, systemd's rounding (two most significant units).
    public static func ago(_ realtimeUS: UInt64, now: UInt64) -> String {
        guard now >= realtimeUS else { return "now" }
        let us = now - realtimeUS
        let units: [(String, UInt64)] = [
            ("y", 31_557_600_000_000), ("month", 2_629_800_000_000), ("w", 604_800_000_000), ("d", 86_400_000_000),
            ("h", 3_600_000_000), ("min", 60_000_000), ("s", 1_000_000), ("ms", 1_000),
        ]
        var rest = us
        var parts: [String] = []
        for (name, size) in units where rest >= size && parts.count < 2 {
            parts.append("\(rest / size)\(name)")
            rest %= size
            if name == "s" { break }
        }
        if parts.isEmpty { return "\(us)us ago" }
        return parts.joined(separator: " ") + " ago"
    }
}
