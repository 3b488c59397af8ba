import TendModel
import TendControl
/// Text, SVG and Graphviz renderings for `tend analyze` and `tend list-dependencies` (after systemd-analyze(1) and
/// systemctl(1)). Pure string building.
public enum Analyze {
    /// systemd's time span style: `512ms`, `1.204s`, `2min 3.100s`.
    public static func span(_ seconds: Double) -> String {
        let ms = Int((seconds * 1000).rounded())
        if ms < 1000 { return "\(ms)ms" }
        if ms < 60_000 { return "\(ms / 1000).\(pad3(ms % 1000))s" }
        return "\(ms / 60_000)min \(ms % 60_000 / 1000).\(pad3(ms % 1000))s"
    }

    /// `1 failed attempt`, `3 failed attempts`.
    static func attempts(_ n: Int) -> String { n == 1 ? "1 failed attempt" : "\(n) failed attempts" }

    private static func pad3(_ n: Int) -> String {
        let s = String(n)
        return String(repeating: "0", count: 3 - s.count) + s
    }

    // MARK: - blame

    /// Units sorted by the time they took to become active in their start-up, slowest first: the attempt that got
    /// each active, from its start to ready (automatic restarts after that are not counted).
    public static func blame(_ units: [AnalyzeUnit]) -> String {
        let rows = units.compactMap { u in u.startDuration.map { (u.name, $0) } }
            .sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
        let texts = rows.map { span($0.1) }
        let width = texts.map(\.count).max() ?? 0
        var out = ""
        for (i, row) in rows.enumerated() {
            out += String(repeating: " ", count: width - texts[i].count + 1) + texts[i] + " " + row.0 + "\n"
        }
        return out
    }

    // MARK: - critical-chain

    /// The chain of units `root` waited for (systemd-analyze's algorithm): from `root`, repeatedly the unit it is
    /// ordered after that became active last (no later than it started), as a tree, `@activating +duration` of
    /// each unit's start-up (the attempt that got it active), or `@active` when that took no time.
    public static func criticalChain(_ units: [AnalyzeUnit], root: String) -> String {
        var byName: [String: AnalyzeUnit] = [:]
        for u in units { byName[u.name] = u }
        var out = """
            The time when unit became active or started is printed after the "@" character.
            The time the unit took to start is printed after the "+" character.


            """
        guard let start = byName[root], start.active != nil || start.activating != nil else {
            return out + "\(root) has not been started (no timing data).\n"
        }
        var seen: Set<String> = []
        var current: AnalyzeUnit? = start
        var depth = 0
        while let u = current, seen.insert(u.name).inserted {
            let indent = depth == 0 ? "" : String(repeating: "  ", count: depth - 1) + "└─"
            var line = indent + u.name
            if let d = u.startDuration, d > 0.0005, let a = u.attemptStart {
                line += " @\(span(a)) +\(span(d))"
            } else if let a = u.active ?? u.activating {
                line += " @\(span(a))"
            }
            if u.failed != nil && u.active == nil { line += " (failed)" }
            if u.retries > 0 && u.active != nil { line += " (after \(attempts(u.retries)))" }
            out += line + "\n"
            let limit = u.activating ?? u.active ?? .infinity
            let candidates = (u.edges[.after] ?? []).compactMap { byName[$0] }.filter { c in
                guard let act = c.active else { return false }
                return act <= limit + 0.0005
            }
            current = candidates.max { a, b in a.active! != b.active! ? a.active! < b.active! : a.name > b.name }
            depth += 1
        }
        return out
    }

    // MARK: - list-dependencies

    /// systemctl's tree: what `root` requires, wants, is bound to..., recursing into targets (all units with
    /// `all`). `●` active, `○` inactive, `×` failed.
    public static func dependencyTree(_ units: [AnalyzeUnit], root: String, all: Bool = false, reverse: Bool = false) -> String {
        var byName: [String: AnalyzeUnit] = [:]
        for u in units { byName[u.name] = u }
        let kinds: [DependencyKind] = [.requires, .requisite, .wants, .bindsTo, .upholds]
        var reverseEdges: [String: [String]] = [:]
        if reverse {
            for u in units { for k in kinds { for d in u.edges[k] ?? [] { reverseEdges[d, default: []].append(u.name) } } }
        }
        func children(_ name: String) -> [String] {
            if reverse { return Set(reverseEdges[name] ?? []).sorted() }
            var set: Set<String> = []
            for k in kinds { set.formUnion(byName[name]?.edges[k] ?? []) }
            // systemd's ConsistsOf=: the units that are PartOf= this one.
            for u in units where (u.edges[.partOf] ?? []).contains(name) { set.insert(u.name) }
            return set.sorted { a, b in
                // Targets after the other units, as systemctl lists them.
                let ta = a.hasSuffix(".target"), tb = b.hasSuffix(".target")
                return ta != tb ? !ta : a < b
            }
        }
        func marker(_ name: String) -> String {
            switch byName[name]?.activeState {
            case "active", "reloading", "activating", "deactivating": return "●"
            case "failed": return "×"
            default: return "○"
            }
        }
        var out = root + "\n"
        func walk(_ name: String, _ prefix: String, _ path: Set<String>) {
            let kids = children(name)
            for (i, k) in kids.enumerated() {
                let last = i == kids.count - 1
                out += marker(k) + " " + prefix + (last ? "└─" : "├─") + k + "\n"
                if (all || k.hasSuffix(".target")) && !path.contains(k) {
                    walk(k, prefix + (last ? "  " : "│ "), path.union([k]))
                }
            }
        }
        walk(root, "", [root])
        return out
    }

    // MARK: - dot

    /// Graphviz, systemd-analyze dot's colours: Requires= black, Requisite= dark blue, Wants= grey, Conflicts= red,
    /// After= green (BindsTo= and PartOf= drawn like Requires=, dashed).
    public static func dot(_ units: [AnalyzeUnit], order: Bool = true, require: Bool = true) -> String {
        var out = "digraph tend {\n"
        out += "\tgraph [rankdir=LR, fontname=\"Helvetica\"];\n\tnode [shape=box, style=rounded, fontname=\"Helvetica\"];\n"
        for u in units.sorted(by: { $0.name < $1.name }) {
            let style: [(DependencyKind, String)] = [
                (.requires, "color=\"black\""), (.bindsTo, "color=\"black\", style=dashed"),
                (.partOf, "color=\"black\", style=dotted"), (.requisite, "color=\"darkblue\""),
                (.wants, "color=\"grey66\""), (.upholds, "color=\"grey66\", style=dashed"),
                (.conflicts, "color=\"red\""), (.after, "color=\"green\""),
            ]
            for (kind, attrs) in style {
                if kind == .after && !order { continue }
                if kind != .after && !require { continue }
                for d in (u.edges[kind] ?? []).sorted() {
                    out += "\t\"\(u.name)\"->\"\(d)\" [\(attrs)];\n"
                }
            }
        }
        out += "}\n"
        return out
    }

    // MARK: - plot

    /// An SVG timeline like `systemd-analyze plot`: one row per unit started, in start order; the activating part
    /// of its bar light, the active part dark (to the end of the plot while it stays active), failed red; a thin
    /// line from the unit it waited for last; a time axis with a grid. It shows the start-up transaction: the
    /// failed attempts of a start-up that was retried are drawn light red, and automatic restarts after the unit
    /// became ready are not drawn on the time axis but counted in its note (`restarted 3×, last @1min 2.000s`).
    public static func plot(_ units: [AnalyzeUnit], title: String = "tend", now: Double? = nil) -> String {
        let rows = units.filter { $0.activating != nil || $0.active != nil || $0.failed != nil }
            .sorted { a, b in
                let x = a.activating ?? a.active ?? a.failed ?? 0, y = b.activating ?? b.active ?? b.failed ?? 0
                return x != y ? x < y : a.name < b.name
            }
        let ends = rows.flatMap { [$0.activating, $0.active, $0.failed, $0.active == nil ? $0.attempt : nil].compactMap { $0 } }
        let lastEvent = ends.max() ?? 0
        let end = max(lastEvent * 1.08, lastEvent + 0.01, 0.05)
        // Scale: about 900 px for the whole span, at least 1.5 px per ms for short boots.
        let plotWidth = 900.0
        let scale = plotWidth / end
        let labelWidth = max(170.0, Double((rows.map(\.name.count).max() ?? 10)) * 7.2 + 24)
        let left = labelWidth + 20
        let rowHeight = 22.0
        let top = 96.0
        let height = top + Double(rows.count) * rowHeight + 56
        let width = left + plotWidth + 190
        var s = ""
        func x(_ t: Double) -> Double { left + t * scale }
        func f(_ v: Double) -> String {
            let r = (v * 10).rounded() / 10
            return r == r.rounded() ? String(Int(r)) : String(r)
        }
        s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f(width))\" height=\"\(f(height))\" "
        s += "viewBox=\"0 0 \(f(width)) \(f(height))\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
        s += """
            <style>
              .name { font-size: 12px; fill: #1f2933; }
              .dim { font-size: 11px; fill: #52606d; }
              .tick { font-size: 10px; fill: #7b8794; }
              .title { font-size: 18px; font-weight: bold; fill: #1f2933; }
              .sub { font-size: 12px; fill: #52606d; }
              .held { stroke: #9aa5b1; stroke-width: 1; fill: none; stroke-dasharray: 3 2; }
            </style>
            <rect x="0" y="0" width="\(f(width))" height="\(f(height))" fill="#ffffff"/>

            """
        // Title and summary.
        let started = rows.filter { $0.active != nil }.count
        let failedCount = rows.filter { $0.failed != nil && $0.active == nil }.count
        s += "<text class=\"title\" x=\"20\" y=\"30\">\(xml(title)) — startup timeline</text>\n"
        var summary = "\(rows.count) units, \(started) reached active"
        if failedCount > 0 { summary += ", \(failedCount) failed" }
        let restarted = rows.filter { $0.restarts > 0 }.count
        if restarted > 0 { summary += ", \(restarted) restarted since (not drawn)" }
        summary += "; last became ready at \(span(rows.compactMap(\.active).max() ?? 0))"
        s += "<text class=\"sub\" x=\"20\" y=\"50\">\(xml(summary))</text>\n"
        // Legend.
        let legend: [(String, String)] = [
            ("#9cc3e6", "activating"), ("#1f6fb2", "active"), ("#b48ad8", "target reached"),
            ("#e5534b", "failed"), ("#f4a09c", "failed attempts"), ("#cbd2d9", "skipped (condition)"),
        ]
        var lx = left
        for (color, label) in legend {
            s += "<rect x=\"\(f(lx))\" y=\"60\" width=\"14\" height=\"10\" rx=\"2\" fill=\"\(color)\"/>"
            s += "<text class=\"dim\" x=\"\(f(lx + 19))\" y=\"69\">\(label)</text>\n"
            lx += 30 + Double(label.count) * 6.6
        }
        s += "<line x1=\"\(f(lx + 4))\" y1=\"65\" x2=\"\(f(lx + 30))\" y2=\"65\" class=\"held\"/>"
        s += "<text class=\"dim\" x=\"\(f(lx + 36))\" y=\"69\">waited for</text>\n"
        // Grid: a "nice" step giving 8–16 lines.
        var step = 0.001
        for candidate in [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300] {
            step = candidate
            if end / candidate <= 12 { break }
        }
        let gridBottom = top + Double(rows.count) * rowHeight + 6
        var t = 0.0
        while t <= end + 1e-9 {
            s += "<line x1=\"\(f(x(t)))\" y1=\"\(f(top - 8))\" x2=\"\(f(x(t)))\" y2=\"\(f(gridBottom))\" stroke=\"#e4e7eb\"/>"
            s += "<text class=\"tick\" x=\"\(f(x(t)))\" y=\"\(f(top - 12))\" text-anchor=\"middle\">\(span(t))</text>"
            s += "<text class=\"tick\" x=\"\(f(x(t)))\" y=\"\(f(gridBottom + 14))\" text-anchor=\"middle\">\(span(t))</text>\n"
            t += step
        }
        // Rows.
        var rowOf: [String: Int] = [:]
        for (i, u) in rows.enumerated() { rowOf[u.name] = i }
        for (i, _) in rows.enumerated() {
            let y = top + Double(i) * rowHeight
            if i % 2 == 1 {
                s += "<rect x=\"0\" y=\"\(f(y))\" width=\"\(f(width))\" height=\"\(f(rowHeight))\" fill=\"#f5f7fa\"/>\n"
            }
        }
        // "Waited for" connectors under the bars.
        for (i, u) in rows.enumerated() {
            guard let h = u.heldBy, let j = rowOf[h], let a = u.activating else { continue }
            let hu = rows[j]
            // Only a wait that happened: the unit waited for finished before this one's job ran.
            guard let hEnd = hu.active ?? hu.failed, hEnd <= a + 0.0005 else { continue }
            let y1 = top + Double(j) * rowHeight + rowHeight / 2
            let y2 = top + Double(i) * rowHeight + rowHeight / 2
            s += "<path class=\"held\" d=\"M\(f(x(hEnd))) \(f(y1)) V\(f(y2)) H\(f(x(a)))\"/>\n"
        }
        for (i, u) in rows.enumerated() {
            let y = top + Double(i) * rowHeight
            let isTarget = u.name.hasSuffix(".target")
            let bar = y + 4, barH = rowHeight - 8
            s += "<text class=\"name\" x=\"\(f(labelWidth))\" y=\"\(f(y + 15))\" text-anchor=\"end\">\(xml(u.name))</text>\n"
            let a = u.activating ?? u.active ?? u.failed ?? 0
            if u.skippedBy != nil && u.active == nil {
                s += "<rect x=\"\(f(x(a)))\" y=\"\(f(bar))\" width=\"3\" height=\"\(f(barH))\" fill=\"#cbd2d9\"/>"
                s += "<text class=\"dim\" x=\"\(f(x(a) + 8))\" y=\"\(f(y + 15))\">skipped: \(xml(u.skippedBy!))</text>\n"
                continue
            }
            let readyOrFail = u.active ?? u.failed ?? end
            let failed = u.failed != nil && (u.active == nil || u.failed! >= u.active!)
            // A retried start-up: its failed attempts (and the waits between them), light red, up to the attempt
            // that got it active; one that never got active is light red up to its latest attempt.
            var from = a
            if u.retries > 0, u.active != nil, let t = u.attemptStart, t > a {
                s += "<rect x=\"\(f(x(a)))\" y=\"\(f(bar))\" width=\"\(f(max(1.5, (t - a) * scale)))\" height=\"\(f(barH))\" rx=\"2\" fill=\"#f4a09c\">"
                s += "<title>\(xml(u.name)): \(attempts(u.retries)) \(span(a)) → \(span(t))</title></rect>\n"
                from = t
            }
            var lightEnd = readyOrFail
            if u.active == nil, u.retries > 0, let t = u.attempt { lightEnd = max(lightEnd, t) }
            let w1 = max(1.5, (lightEnd - from) * scale)
            let lightColor = failed && u.active == nil ? "#f4a09c" : (isTarget ? "#d9c6ee" : "#9cc3e6")
            s += "<rect x=\"\(f(x(from)))\" y=\"\(f(bar))\" width=\"\(f(w1))\" height=\"\(f(barH))\" rx=\"2\" fill=\"\(lightColor)\">"
            s += "<title>\(xml(u.name)): activating \(span(from)) → \(u.active.map { "active " + span($0) } ?? (failed ? "failed" : "…"))</title></rect>\n"
            var labelX = x(from) + w1
            if let act = u.active {
                // Up, or (after the start-up) going through an automatic restart.
                let stillUp = u.activeState == "active" || u.activeState == "reloading"
                    || (u.restarts > 0 && (u.activeState == "activating" || u.activeState == "deactivating"))
                let stop = failed ? u.failed! : (stillUp ? end : act)
                let w2 = max(stillUp || failed ? 2 : 0, (stop - act) * scale)
                if w2 > 0 {
                    let color = failed ? "#e5534b" : (isTarget ? "#b48ad8" : "#1f6fb2")
                    s += "<rect x=\"\(f(x(act)))\" y=\"\(f(bar + 3))\" width=\"\(f(w2))\" height=\"\(f(barH - 6))\" rx=\"1.5\" fill=\"\(color)\" fill-opacity=\"0.85\"/>\n"
                }
                if isTarget {
                    s += "<path d=\"M\(f(x(act))) \(f(bar - 1)) l5 \(f(barH / 2 + 1)) l-5 \(f(barH / 2 + 1)) l-5 -\(f(barH / 2 + 1)) z\" fill=\"#7e4fb3\"/>\n"
                }
                labelX = max(labelX, x(act) + (isTarget ? 8 : 2))
                if stillUp { labelX = x(end) }
            } else if failed {
                s += "<rect x=\"\(f(x(u.failed!) - 2))\" y=\"\(f(bar))\" width=\"3\" height=\"\(f(barH))\" fill=\"#c62828\"/>\n"
            }
            var note = u.startDuration.map { isTarget && $0 < 0.001 ? "" : span($0) } ?? (failed ? "failed" : "")
            if failed && u.active == nil, let fl = u.failed { note = "failed after \(span(fl - a))" }
            func add(_ text: String) { note += note.isEmpty ? text : "  · " + text }
            if u.retries > 0 { add(u.active == nil ? "retried \(u.retries)×" : "after \(attempts(u.retries))") }
            if let h = u.heldBy { add("after \(h)") }
            if u.restarts > 0 {
                add("restarted \(u.restarts)×" + (u.lastRestart.map { ", last @\(span($0))" } ?? ""))
            }
            if !note.isEmpty {
                s += "<text class=\"dim\" x=\"\(f(labelX + 6))\" y=\"\(f(y + 15))\">\(xml(note))</text>\n"
            }
        }
        if let now {
            s += "<text class=\"tick\" x=\"20\" y=\"\(f(height - 12))\">rendered \(span(now)) after the manager began starting units</text>\n"
        }
        s += "</svg>\n"
        return s
    }

    /// Text escaped for XML and HTML element content and double-quoted attributes (the SVG plot, tend web's pages).
    package static func xml(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}
