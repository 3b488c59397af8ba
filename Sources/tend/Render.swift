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
            s += "     Loaded: loaded (\(path); \(u["enabled"]?.string ?? "static"))\n"
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

/// Log records (`TIMESTAMP STREAM PID TEXT`, UTC with microseconds) as journalctl would print them.
enum LogText {
    struct Record {
        var timestamp: Substring
        var stream: Substring
        var pid: Substring
        var text: Substring
    }

    static func parse(_ record: String) -> Record? {
        let parts = record.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count >= 3 else { return nil }
        return Record(timestamp: parts[0], stream: parts[1], pid: parts[2], text: parts.count > 3 ? parts[3] : "")
    }

    /// Realtime µs of `2026-11-22T02:50:01.123456Z`.
    static func microseconds(_ ts: Substring) -> UInt64? {
        let b = Array(ts.utf8)
        guard b.count >= 26 else { return nil }
        func num(_ r: Range<Int>) -> Int32 { Int32(String(decoding: b[r], as: UTF8.self)) ?? 0 }
        var tm = tm()
        tm.tm_year = num(0..<4) - 1900
        tm.tm_mon = num(5..<7) - 1
        tm.tm_mday = num(8..<10)
        tm.tm_hour = num(11..<13)
        tm.tm_min = num(14..<16)
        tm.tm_sec = num(17..<19)
        let secs = timegm(&tm)
        return UInt64(secs) * 1_000_000 + UInt64(num(20..<26))
    }

    /// `Nov 22 02:50:01 web[1234]: text` in local time.
    static func short(_ bytes: [UInt8], unit: String) -> String {
        let record = String(decoding: bytes, as: UTF8.self)
        guard let r = parse(record), let us = microseconds(r.timestamp) else { return record + "\n" }
        var t = time_t(us / 1_000_000)
        var tm = tm()
        localtime_r(&t, &tm)
        var buf = [CChar](repeating: 0, count: 32)
        let n = strftime(&buf, buf.count, "%b %d %H:%M:%S", &tm)
        let when = String(decoding: buf.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let who = r.stream == "tend" ? "tend" : unit
        return "\(when) \(who)[\(r.pid)]: \(r.text)\n"
    }

    /// One line from the logs stream: `UNIT RECORD`.
    static func render(_ line: [UInt8], _ format: Logs.LogFormat) -> String {
        guard let space = line.firstIndex(of: 32) else { return String(decoding: line, as: UTF8.self) + "\n" }
        let unit = String(decoding: line[..<space], as: UTF8.self)
        let record = Array(line[(space + 1)...])
        let shortName = unit.hasSuffix(".service") ? String(unit.dropLast(8)) : unit
        switch format {
        case .short: return short(record, unit: shortName)
        case .cat:
            let text = String(decoding: record, as: UTF8.self)
            return String(parse(text)?.text ?? Substring(text)) + "\n"
        case .json:
            let text = String(decoding: record, as: UTF8.self)
            guard let r = parse(text) else { return JSON.object([("unit", .string(unit)), ("message", .string(text))]).serialized() + "\n" }
            return JSON.object([
                ("unit", .string(unit)), ("timestamp", .string(String(r.timestamp))),
                ("realtimeUsec", .int(Int64(microseconds(r.timestamp) ?? 0))),
                ("stream", .string(r.stream == "out" ? "stdout" : r.stream == "err" ? "stderr" : String(r.stream))),
                ("pid", .int(Int64(r.pid) ?? 0)), ("message", .string(String(r.text))),
            ]).serialized() + "\n"
        }
    }
}
