import Glibc
import TendControl
import TendCore

/// `tend status` and `tend list` text, with systemctl's labels and layout.
enum StatusText {
    static func render(_ u: JSON, now: UInt64) -> String {
        let name = u["unit"]?.string ?? "?"
        let active = u["active"]?.string ?? "inactive"
        let sub = u["sub"]?.string ?? "dead"
        let load = u["load"]?.string ?? "loaded"
        let bullet = active == "failed" ? "×" : "●"
        var s = "\(bullet) \(name) - \(u["description"]?.string ?? name)\n"

        let path = u["fragmentPath"]?.string ?? ""
        if load == "loaded" {
            s += "     Loaded: loaded (\(path.isEmpty ? "built in" : path); \(u["enabled"]?.string ?? "static"))\n"
        } else {
            s += "     Loaded: \(load)\(path.isEmpty ? "" : " (\(path))")\n"
        }
        let dropIns = u["dropIns"]?.stringArray ?? []
        if !dropIns.isEmpty { s += "    Drop-In: \(dropIns.joined(separator: "\n             "))\n" }

        var activeLine = active == sub ? active : "\(active) (\(sub))"
        let result = u["result"]?.string ?? "success"
        if result != "success" && (active == "failed" || sub == "auto-restart") { activeLine += " (Result: \(result))" }
        if let since = u["since"]?.int, since > 0 {
            activeLine += " since \(TimeFormat.timestamp(UInt64(since))); \(TimeFormat.ago(UInt64(since), now: now))"
        }
        s += "     Active: \(activeLine)\n"
        for p in u["processes"]?.array ?? [] {
            s += "    Process: \(p["pid"]?.int ?? 0) \(p["command"]?.string ?? "") (\(p["text"]?.string ?? ""))\n"
        }
        if let pid = u["mainPID"]?.int, pid > 0 {
            let comm = u["mainComm"]?.string ?? ""
            s += "   Main PID: \(pid)\(comm.isEmpty ? "" : " (\(comm))")\n"
        } else if let pid = u["execMainPID"]?.int, pid > 0, let text = u["execMainStatusText"]?.string,
            !(u["processes"]?.array ?? []).contains(where: { $0["pid"]?.int == pid })
        {
            s += "   Main PID: \(pid) (\(text))\n"
        }
        if let pid = u["controlPID"]?.int, pid > 0 {
            s += "    Control: \(pid) (\(u["controlCommand"]?.string ?? ""))\n"
        }
        if let n = u["nRestarts"]?.int, n > 0 { s += "   Restarts: \(n)\n" }
        if let status = u["statusText"]?.string, !status.isEmpty { s += "     Status: \"\(status)\"\n" }
        if let e = u["setupError"]?.string { s += "      Error: \(e)\n" }
        for d in u["diagnostics"]?.stringArray ?? [] { s += "    Problem: \(d)\n" }
        let log = u["log"]?.stringArray ?? []
        if !log.isEmpty {
            s += "\n"
            let prefix = name.hasSuffix(".service") ? String(name.dropLast(8)) : name
            for record in log { s += LogText.short(Array(record.utf8), unit: prefix) }
        }
        return s
    }

    static func table(_ list: [JSON]) -> String {
        let rows = list.map { u in
            [u["unit"]?.string ?? "", u["load"]?.string ?? "", u["active"]?.string ?? "", u["sub"]?.string ?? "",
             u["description"]?.string ?? ""]
        }
        let header = ["UNIT", "LOAD", "ACTIVE", "SUB", "DESCRIPTION"]
        var widths = header.map(\.count)
        for r in rows { for i in 0..<4 { widths[i] = max(widths[i], r[i].count) } }
        func line(_ r: [String]) -> String {
            (0..<4).map { r[$0] + String(repeating: " ", count: widths[$0] - r[$0].count) }.joined(separator: " ")
                + " " + r[4] + "\n"
        }
        var s = line(header)
        for r in rows { s += line(r) }
        s += "\n\(rows.count) units listed.\n"
        return s
    }
}

/// Log records (`TIMESTAMP STREAM PID TEXT`) as journalctl would print them.
enum LogText {
    /// `Nov 22 02:50:01 web[1234]: text` and the other formats of `tend logs -o`.
    static func render(_ line: [UInt8], unit: String, _ format: Logs.LogFormatOption) -> String {
        guard let r = LogFormat.parse(line) else { return String(decoding: line, as: UTF8.self) + "\n" }
        let short = unit.hasSuffix(".service") ? String(unit.dropLast(8)) : unit
        let who = r.stream == "tend" ? "tend" : short
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
                ("pid", .int(Int64(r.pid))), ("message", .string(r.text)),
            ]).serialized() + "\n"
        }
    }

    /// A status block's log lines: short format.
    static func short(_ line: [UInt8], unit: String) -> String { render(line, unit: unit, .short) }

    nonisolated(unsafe) private static var cache: (second: UInt64, text: String) = (.max, "")

    /// `Nov 22 02:50:01` (or with `.123456`) in local time, the date part cached per second.
    static func localTime(_ us: UInt64, precise: Bool) -> String {
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
    static func isoTime(_ us: UInt64) -> String {
        var t = time_t(us / 1_000_000)
        var tm = tm()
        localtime_r(&t, &tm)
        var buf = [CChar](repeating: 0, count: 40)
        let n = strftime(&buf, buf.count, "%Y-%m-%dT%H:%M:%S%z", &tm)
        return String(decoding: buf.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
