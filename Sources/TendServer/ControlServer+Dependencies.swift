import Glibc
import TendModel
import TendSystem
import TendEngine
import TendControl

/// The control requests of dependencies and installation: `enable`, `disable`, `is-enabled`, `dependencies`
/// (the data behind `list-dependencies` and `analyze`) and `units-changed` (sent by an offline `tend enable`).
/// All synchronous: one reply each.
public enum DependencyRequests {
    public static let commands: Set<String> = ["enable", "disable", "is-enabled", "dependencies", "units-changed"]

    public static func handle(_ cmd: String, _ request: JSON, manager: Manager) -> JSON {
        let units = request["units"]?.stringArray ?? []
        let installer = UnitInstaller(unitPaths: manager.options.unitPaths, environment: Posix.environment())
        switch cmd {
        case "enable", "disable":
            guard !units.isEmpty else { return failure("Too few arguments: name at least one unit.", exit: 1) }
            do {
                var notes: [String] = []
                let changes: [InstallChange]
                if cmd == "enable" {
                    (changes, notes) = try installer.enable(units)
                } else {
                    changes = try installer.disable(units)
                }
                manager.jobs.invalidate()
                return .object([
                    ("ok", .bool(true)), ("changes", JSON.installChanges(changes)), ("notes", .array(notes.map { .string($0) })),
                    ("unitDir", .string(installer.unitPaths.first ?? "")),
                ])
            } catch {
                return failure(error.description, exit: 1)
            }
        case "is-enabled":
            let states = units.map { installer.state($0) }
            return .object([("ok", .bool(true)), ("states", .array(states.map { .string($0) }))])
        case "units-changed":
            manager.jobs.invalidate()
            return .object([("ok", .bool(true))])
        case "dependencies":
            return dependencies(manager)
        default:
            return failure("Unknown command \"\(cmd)\".", exit: 1)
        }
    }

    static func failure(_ message: String, exit: Int64) -> JSON {
        .object([("ok", .bool(false)), ("error", .string(message)), ("exit", .int(exit))])
    }


    /// Every unit with its state, start times (seconds since the manager began starting units) and edges.
    static func dependencies(_ manager: Manager) -> JSON {
        let graph = manager.jobs.graph
        let origin = manager.jobs.bootTime
        func seconds(_ t: MonotonicInstant?) -> JSON {
            guard let t else { return .null }
            return .double(Double(Int64(t.ns) - Int64(origin.ns)) / 1e9)
        }
        var out: [JSON] = []
        let now = Posix.monotonicNow
        for u in manager.sortedUnits {
            let name = u.name.description
            let timing = manager.jobs.timings[name]
            let node = graph.node(name)
            var edges: [(String, JSON)] = []
            for kind in DependencyKind.allCases {
                let list = graph.targets(of: name, kind)
                if !list.isEmpty { edges.append((kind.rawValue, .array(list.map { .string($0) }))) }
            }
            var o: [(String, JSON)] = [
                ("unit", .string(name)), ("active", .string(u.activeState.rawValue)), ("sub", .string(u.subState)),
                ("description", .string(u.config?.description ?? name)),
                ("activating", seconds(timing?.activating)), ("activeEnter", seconds(timing?.active)),
                ("failed", seconds(timing?.failed)), ("heldBy", timing?.heldBy.map { .string($0) } ?? .null),
                ("jobResult", timing?.lastResult.map { .string($0.rawValue) } ?? .null),
                ("skippedBy", timing?.skippedBy.map { .string($0) } ?? .null),
                ("edges", .object(edges)),
            ]
            if let j = manager.jobs.job(for: name) {
                o.append(("job", .string(j.kind.rawValue + (j.running ? " running" : " waiting"))))
            }
            _ = node
            out.append(.object(o))
        }
        return .object([
            ("ok", .bool(true)), ("units", .array(out)), ("now", seconds(now)),
            ("unitPaths", .array(manager.options.unitPaths.map { .string($0) })),
        ])
    }
}

