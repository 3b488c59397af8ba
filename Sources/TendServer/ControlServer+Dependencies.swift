import Glibc
import TendModel
import TendSystem
import TendEngine
import TendControl

/// The control requests of dependencies and installation: `enable`, `disable`, `is-enabled`, `dependencies`
/// (the data behind `list-dependencies` and `analyze`) and `units-changed` (sent by an offline `tend enable`).
/// All synchronous: one reply each.
public enum DependencyRequests {
    static func installer(_ manager: Manager) -> UnitInstaller {
        UnitInstaller(unitPaths: manager.options.unitPaths, environment: Posix.environment())
    }

    public static func enable(_ units: [String], manager: Manager) throws(ControlError) -> InstallReply {
        let installer = installer(manager)
        do {
            let (changes, notes) = try installer.enable(units)
            manager.jobs.invalidate()
            return InstallReply(changes: changes, notes: notes, unitDir: installer.unitPaths.first ?? "")
        } catch {
            throw ControlError(.installFailed, error.description)
        }
    }

    public static func disable(_ units: [String], manager: Manager) throws(ControlError) -> InstallReply {
        let installer = installer(manager)
        do {
            let changes = try installer.disable(units)
            manager.jobs.invalidate()
            return InstallReply(changes: changes, unitDir: installer.unitPaths.first ?? "")
        } catch {
            throw ControlError(.installFailed, error.description)
        }
    }

    public static func isEnabled(_ units: [String], manager: Manager) -> IsEnabledReply {
        let installer = installer(manager)
        return IsEnabledReply(states: units.map { installer.state($0) })
    }

    /// Every unit with its state, start times (seconds since the manager began starting units) and edges.
    public static func dependencies(_ manager: Manager) -> DependenciesReply {
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
        return DependenciesReply(units: out, now: seconds(now).number, unitPaths: manager.options.unitPaths)
    }
}

