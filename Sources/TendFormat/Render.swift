import Glibc
import TendControl
import TendModel
import TendSystem

/// `tend status` and `tend list` text, with systemctl's labels and layout.
package enum StatusText {
    /// With `color`, systemctl's: the bullet and the state green when active, red when failed.
    package static func render(_ u: UnitInfo, now: UInt64, color: Bool = false) -> String {
        let name = u.unit
        let paint = paint(u.active, color)
        var s = "\(paint(bullet(u.active))) \(name) - \(u.description)\n"

        let path = u.fragmentPath ?? ""
        if u.load == "masked" {
            s += "     Loaded: masked (Reason: Unit \(name) is masked.)\n"
        } else if u.load == "loaded" {
            s += "     Loaded: loaded (\(path.isEmpty ? "built in" : path); \(u.enabled ?? "static"))\n"
        } else {
            s += "     Loaded: \(u.load)\(path.isEmpty ? "" : " (\(path))")\n"
        }
        let dropIns = u.dropIns ?? []
        if !dropIns.isEmpty { s += "    Drop-In: \(dropIns.joined(separator: "\n             "))\n" }

        var activeLine = paint(u.active == u.sub ? u.active : "\(u.active) (\(u.sub))")
        let result = u.result ?? "success"
        if result != "success" && (u.active == "failed" || u.sub == "auto-restart") { activeLine += " (Result: \(result))" }
        if let since = u.since, since > 0 {
            activeLine += " since \(TimeFormat.timestamp(UInt64(since))); \(TimeFormat.ago(UInt64(since), now: now))"
        }
        s += "     Active: \(activeLine)\n"
        if let target = u.timerUnit {  // a timer (systemctl's two lines)
            if let next = u.timerNext {
                s += "    Trigger: \(TimeFormat.timestamp(UInt64(next))); \(relativeTimeText(next, now: Int64(now)))\n"
            } else {
                s += "    Trigger: n/a\n"
            }
            s += "   Triggers: \(target)\n"
        }
        let processes = u.processes ?? []
        for p in processes { s += "    Process: \(p.pid) \(p.command) (\(p.text))\n" }
        if let pid = u.mainPID, pid > 0 {
            let comm = u.mainComm ?? ""
            s += "   Main PID: \(pid)\(comm.isEmpty ? "" : " (\(comm))")\n"
        } else if let e = u.execMain, e.pid > 0, !processes.contains(where: { $0.pid == e.pid }) {
            s += "   Main PID: \(e.pid) (\(e.statusText))\n"
        }
        if let pid = u.controlPID, pid > 0 { s += "    Control: \(pid) (\(u.controlCommand ?? ""))\n" }
        if let n = u.nRestarts, n > 0 { s += "   Restarts: \(n)\n" }
        if let status = u.statusText, !status.isEmpty { s += "     Status: \"\(status)\"\n" }
        if let tree = u.processTree, !tree.isEmpty {
            if let t = u.tasks { s += "      Tasks: \(t)\n" }
            if let m = u.memoryBytes { s += "     Memory: \(bytes(m))\n" }
            for (i, p) in tree.enumerated() {
                let label = i == 0 ? "  Processes: " : "             "
                s += label + (i == tree.count - 1 ? "└─" : "├─") + "\(p.pid) \(p.command)\n"
            }
        }
        if let e = u.setupError { s += "      Error: \(e)\n" }
        for d in u.diagnostics ?? [] { s += "    Problem: \(d)\n" }
        for n in u.notApplied ?? [] { s += "    Sandbox: \(n)\n" }
        let log = u.log ?? []
        if !log.isEmpty {
            s += "\n"
            let prefix = name.hasSuffix(".service") ? String(name.dropLast(8)) : name
            for record in log { s += LogText.short(Array(record.utf8), unit: prefix) }
        }
        return s
    }

    /// systemd's byte sizes: `880.0K`, `5.8M`, `1.2G` (powers of 1024), plain bytes below 1 KiB.
    package static func bytes(_ n: Int64) -> String {
        guard n >= 1024 else { return "\(max(n, 0))B" }
        let units = ["K", "M", "G", "T", "P", "E"]
        var unit = 0
        var scale: Int64 = 1024
        while unit < units.count - 1 && n / scale >= 1024 {
            scale *= 1024
            unit += 1
        }
        let tenths = (n % scale) * 10 / scale
        return "\(n / scale).\(tenths)\(units[unit])"
    }

    /// systemctl's bullets: ● active (and activating, reloading, deactivating), × failed, ○ inactive.
    package static func bullet(_ active: String) -> String {
        active == "failed" ? "×" : active == "inactive" ? "○" : "●"
    }

    /// Green for active and reloading, red for failed, as systemctl colours them; nothing without `color`.
    static func paint(_ active: String, _ color: Bool) -> (String) -> String {
        guard color else { return { $0 } }
        switch active {
        case "active", "reloading": return { "\u{1B}[0;1;32m" + $0 + "\u{1B}[0m" }
        case "failed": return { "\u{1B}[0;1;31m" + $0 + "\u{1B}[0m" }
        default: return { $0 }
        }
    }

    /// systemctl list-units: a bullet column (red × for failed), then UNIT LOAD ACTIVE SUB DESCRIPTION.
    package static func table(_ list: [UnitInfo], color: Bool = false) -> String {
        let rows = list.map { u in [u.unit, u.load, u.active, u.sub, u.description] }
        let header = ["UNIT", "LOAD", "ACTIVE", "SUB", "DESCRIPTION"]
        var widths = header.map(\.count)
        for r in rows { for i in 0..<4 { widths[i] = max(widths[i], r[i].count) } }
        func line(_ r: [String], _ mark: String) -> String {
            mark + " " + (0..<4).map { r[$0] + String(repeating: " ", count: widths[$0] - r[$0].count) }.joined(separator: " ")
                + " " + r[4] + "\n"
        }
        var s = line(header, " ")
        for (u, r) in zip(list, rows) {
            // systemctl marks a failed or not-loaded unit with a red ●, the others with a space.
            let bad = u.active == "failed" || u.load != "loaded"
            s += bad ? paint("failed", color)("●") + line(r, "") : line(r, " ")
        }
        s += "\n\(rows.count) units listed.\n"
        return s
    }
}
