import Glibc
import TendControl
import TendModel
import TendSystem

/// `tend status` and `tend list` text, with systemctl's labels and layout.
package enum StatusText {
    package static func render(_ u: JSON, now: UInt64) -> String {
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

    package static func table(_ list: [JSON]) -> String {
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
