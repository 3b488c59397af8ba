import TendControl
import TendModel

/// `tend analyze security NAME`, in the spirit of `systemd-analyze security`: for each isolation setting, what
/// the unit asked for and whether this manager applies it here (from `tend show`'s properties, which the
/// manager computes against its own environment, `SandboxNotApplied=` included).
public enum AnalyzeSecurity {
    public enum State: String, Sendable { case applied, notApplied = "not-applied", unset = "not-set" }

    public struct Row: Sendable {
        public var setting: String
        public var value: String
        public var state: State
        /// What it gives, or why it is not applied.
        public var note: String
    }

    static let settings: [(name: String, off: Set<String>, gives: String)] = [
        ("User", ["", "root", "0"], "runs as a user other than root"),
        ("PrivateTmp", ["no"], "its own /tmp and /var/tmp"),
        ("ProtectSystem", ["no"], "/usr and /boot read-only (full: /etc too; strict: all but /dev, /proc, /sys)"),
        ("ProtectHome", ["no"], "/home, /root, /run/user hidden (or read-only, or empty)"),
        ("ReadOnlyPaths", [""], "the listed paths read-only"),
        ("ReadWritePaths", [""], "only the listed paths writable under a read-only tree"),
        ("InaccessiblePaths", [""], "the listed paths hidden"),
        ("PrivateDevices", ["no"], "a /dev with only null, zero, full, random, urandom, tty"),
        ("PrivateNetwork", ["no"], "no network but its own loopback"),
        ("NoNewPrivileges", ["no"], "no privileges gained through set-user-ID programs or file capabilities"),
        ("CapabilityBoundingSet", [], "capabilities limited to the listed ones"),
        ("AmbientCapabilities", [""], "capabilities kept as a non-root user"),
        ("RestrictNamespaces", ["no"], "creating namespaces refused (seccomp)"),
        ("OOMScoreAdjust", [""], "the kernel's OOM killer preference"),
    ]

    public static func rows(_ properties: [(String, String)]) -> [Row] {
        let allCapabilities = Capabilities.describe(Capabilities.all)
        var values: [String: String] = [:]
        for (k, v) in properties { values[k] = v }
        let missing = (values["SandboxNotApplied"] ?? "").split(separator: ";").map {
            String($0.drop { $0 == " " })
        }
        var out: [Row] = []
        for s in settings {
            let value = values[s.name] ?? ""
            let off = s.name == "CapabilityBoundingSet" ? value == allCapabilities : s.off.contains(value)
            if off {
                out.append(Row(setting: s.name, value: value.isEmpty ? "(not set)" : value, state: .unset, note: "not set"))
            } else if let m = missing.first(where: { $0.hasPrefix(s.name + "=") }) {
                let reason = m.firstIndex(of: "(").map { String(m[$0...]) } ?? m
                out.append(Row(setting: s.name, value: value, state: .notApplied, note: "NOT APPLIED " + reason))
            } else {
                out.append(Row(setting: s.name, value: value, state: .applied, note: s.gives))
            }
        }
        return out
    }

    public static func text(unit: String, _ rows: [Row]) -> String {
        let width = rows.map(\.setting.count).max() ?? 0
        var s = "Isolation of \(unit) as this manager applies it:\n\n"
        for r in rows {
            let mark = r.state == .applied ? "✓" : r.state == .notApplied ? "✗" : "-"
            var value = r.value
            if value.count > 40 { value = String(value.prefix(37)) + "..." }
            s += "\(mark) \(r.setting + String(repeating: " ", count: width - r.setting.count))  \(value): \(r.note)\n"
        }
        let applied = rows.filter { $0.state == .applied }.count
        let refused = rows.filter { $0.state == .notApplied }.count
        s += "\n\(applied) of \(rows.count) settings in force"
        s += refused > 0 ? ", \(refused) asked for but not applied here.\n" : ".\n"
        return s
    }
}
