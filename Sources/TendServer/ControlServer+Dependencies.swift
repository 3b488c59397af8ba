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
        func seconds(_ t: MonotonicInstant?) -> Double? {
            t.map { Double(Int64($0.ns) - Int64(origin.ns)) / 1e9 }
        }
        var out: [AnalyzeUnit] = []
        for u in manager.sortedUnits {
            let name = u.name.description
            let timing = manager.jobs.timings[name]
            var edges: [DependencyKind: [String]] = [:]
            for kind in DependencyKind.allCases {
                let list = graph.targets(of: name, kind)
                if !list.isEmpty { edges[kind] = list }
            }
            var a = AnalyzeUnit(name: name, activeState: u.activeState.rawValue, subState: u.subState,
                                activating: seconds(timing?.activating), active: seconds(timing?.active),
                                failed: seconds(timing?.failed), heldBy: timing?.heldBy, skippedBy: timing?.skippedBy,
                                edges: edges)
            a.attempt = seconds(timing?.attempt)
            a.retries = timing?.retries ?? 0
            a.restarts = timing?.restarts ?? 0
            a.lastRestart = seconds(timing?.lastRestart)
            a.description = u.config?.description ?? name
            a.jobResult = timing?.lastResult?.rawValue
            if let j = manager.jobs.job(for: name) { a.job = j.kind.rawValue + (j.running ? " running" : " waiting") }
            out.append(a)
        }
        return DependenciesReply(units: out, now: seconds(manager.system.monotonicNow), unitPaths: manager.options.unitPaths)
    }
}

