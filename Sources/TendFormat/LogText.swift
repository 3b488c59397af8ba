import Glibc
import TendControl
import TendModel


/// The output formats of `tend logs -o`, after journalctl's.
public enum LogOutputFormat: String, Sendable, CaseIterable {
    case short, json, cat
    case shortISO = "short-iso"
    case shortPrecise = "short-precise"
}

/// Log records (`TIMESTAMP STREAM PID TEXT`) as journalctl would print them.
public enum LogText {
    /// `Nov 22 02:50:01 web[1234]: text` and the other formats of `tend logs -o`.
    public static func render(_ line: [UInt8], unit: String, _ format: LogOutputFormat) -> String {
        guard let r = LogFormat.parse(line) else { return String(decoding: line, as: UTF8.self) + "\n" }
        let short = unit.hasSuffix(".service") ? String(unit.dropLast(8)) : unit
        let who = r.stream == "tend" ? "tend" : r.identifier ?? short
        switch format {
        case .cat: return r.text + "\n"
        case .short: return "\(localTime(r.timestamp, precise: false)) \(who)[\(r.pid)]: \(r.text)\n"
        case .shortPrecise: return "\(localTime(r.timestamp, precise: true)) \(who)[\(r.pid)]: \(r.text)\n"
        case .shortISO: return "\(isoTime(r.timestamp)) \(who)[\(r.pid)]: \(r.text)\n"
        case .json:
            var iso: [UInt8] = []
            LogFormat.appendTimestamp(r.timestamp, .iso, to: &iso)
            return JSON.object([
                ("unit", .string(unit)), ("timestamp", .string(String(decoding: iso, as: UTF8.self))),
                ("realtimeUsec", .int(Int64(r.timestamp))),
                ("stream", .string(r.stream == "out" ? "stdout" : r.stream == "err" ? "stderr" : r.stream)),
                ("identifier", .string(who)),
                ("pid", .int(Int64(r.pid))), ("message", .string(r.text)),
            ]).serialized() + "\n"
        }
    }

    /// A status block's log lines: short format.
    public static func short(_ line: [UInt8], unit: String) -> String { render(line, unit: unit, .short) }

    nonisolated(unsafe) private static var cache: (second: UInt64, text: String) = (.max, "")

    /// `Nov 22 02:50:01` (or with `.123456`) in local time, the date part cached per second.
    public static func localTime(_ us: UInt64, precise: Bool) -> String {
        let second = us / 1_000_000
        var base: String
        if cache.second == second {
            base = cache.text
        } else {
            var t = time_t(second)
            var tm = tm()
            localtime_r(&t, &tm)
            var buf = [CChar](repeating: 0, count: 32)
            let n = strftime(&buf, buf.count, "%b %d %H:%M:%S", &tm)
            base = String(decoding: buf.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            cache = (second, base)
        }
        if precise {
            let frac = String(us % 1_000_000)
            base += "." + String(repeating: "0", count: 6 - frac.count) + frac
        }
        return base
    }

    /// `2026-11-22T02:50:01+0000` in local time, as journalctl's short-iso.
    public static func isoTime(_ us: UInt64) -> String {
        var t = time_t(us / 1_000_000)
        var tm = tm()
        localtime_r(&t, &tm)
        var buf = [CChar](repeating: 0, count: 40)
        let n = strftime(&buf, buf.count, "%Y-%m-%dT%H:%M:%S%z", &tm)
        return String(decoding: buf.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
