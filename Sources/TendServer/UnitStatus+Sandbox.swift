import TendModel
import TendSystem

extension UnitStatusJSON {
    /// `tend show`'s properties for the execution directories and the sandbox, with systemd's names, and
    /// `SandboxNotApplied=`: what this manager could not apply here, `; `-separated (empty when all is).
    static func sandboxProperties(_ c: ServiceConfig, _ env: SandboxEnvironment) -> [(String, String)] {
        let s = c.sandbox
        func yes(_ b: Bool) -> String { b ? "yes" : "no" }
        func paths(_ p: [SandboxPath]) -> String { p.map { ($0.ignoreMissing ? "-" : "") + $0.path }.joined(separator: " ") }
        var p: [(String, String)] = []
        for kind in ExecDirectoryKind.allCases {
            p.append((kind.rawValue, (s.directories[kind] ?? []).joined(separator: " ")))
            p.append((kind.rawValue + "Mode", "0" + String(s.mode(kind), radix: 8)))
        }
        p += [
            ("RuntimeDirectoryPreserve", s.runtimeDirectoryPreserve.rawValue),
            ("OOMScoreAdjust", s.oomScoreAdjust.map(String.init) ?? ""),
            ("NoNewPrivileges", yes(s.noNewPrivileges)),
            ("PrivateTmp", yes(s.privateTmp)),
            ("ProtectSystem", s.protectSystem.rawValue),
            ("ProtectHome", s.protectHome.rawValue),
            ("ReadWritePaths", paths(s.readWritePaths)),
            ("ReadOnlyPaths", paths(s.readOnlyPaths)),
            ("InaccessiblePaths", paths(s.inaccessiblePaths)),
            ("PrivateDevices", yes(s.privateDevices)),
            ("PrivateNetwork", yes(s.privateNetwork)),
            ("CapabilityBoundingSet", Capabilities.describe(s.capabilityBoundingSet ?? Capabilities.all)),
            ("AmbientCapabilities", Capabilities.describe(s.ambientCapabilities)),
            ("RestrictNamespaces", s.allowedNamespaces.map { a in
                a.isEmpty ? "yes" : NamespaceType.allCases.filter { a.contains($0) }.map(\.rawValue).joined(separator: " ")
            } ?? "no"),
            ("SandboxNotApplied", SandboxPlan(s, env).notApplied.joined(separator: "; ")),
        ]
        return p
    }
}
