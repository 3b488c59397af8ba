import Glibc
import TendModel
import TendSystem

/// How the manager ends: the orderly shutdown (SIGTERM/SIGINT, `SuccessAction=`/`FailureAction=exit`), its
/// bound (`--shutdown-timeout`), the forced end (`exit-force`, or the bound reached) and the exit status.
final class ShutdownState {
    /// What `tendd` exits with (0 unless an action or the bound said otherwise).
    var exitStatus: Int32 = 0
    /// Whether the processes left have been killed (the bound passed, or `exit-force`).
    var forced = false
    /// Whether an emergency action set the exit status (the first one wins, as the first trigger starts the end).
    var statusFromAction = false
}

/// The exit status when the shutdown bound had to kill units (and no action chose a status): 124, as
/// timeout(1) reports "timed out".
public let shutdownTimedOutExitStatus: Int32 = 124

/// The reactor's deadline slots the manager uses for itself (slot 0 is the message rate limit's).
private let boundSlot = 1
private let graceSlot = 2
/// After the processes left were killed, how long to wait for them to be reaped before exiting anyway.
private let killGrace = TimeSpan.milliseconds(1500)

extension Manager {
    /// The status the manager exits with once `run()` returns.
    public var exitStatus: Int32 { shutdownState.exitStatus }

    /// Orderly shutdown: a stop job for every unit (in the reverse of the start order), then
    /// `onShutdownComplete`. After `options.shutdownTimeout` what is left is killed. `exitStatus` sets the
    /// manager's exit status (an action's); `force` kills every unit's processes at once (`exit-force`).
    public func shutdown(exitStatus: Int32? = nil, force: Bool = false) {
        // Once the end has begun, a later action can only hasten it (exit-force), not change its status.
        if shuttingDown {
            if force && !shutdownState.forced { killTheRest(reason: "exit-force") }
            return
        }
        if let exitStatus {
            shutdownState.exitStatus = exitStatus
            shutdownState.statusFromAction = true
        }
        shuttingDown = true
        report(.info, "Stopping all units.")
        if !options.shutdownTimeout.isInfinite {
            loop.setDeadline(ObjectIdentifier(self), slot: boundSlot, at: system.monotonicNow + options.shutdownTimeout) {
                [unowned self] in
                self.killTheRest(reason: "timeout")
            }
        }
        jobs.stopAll()
        if force { killTheRest(reason: "exit-force") }
        checkShutdownComplete()
    }

    /// The units not yet down.
    private var busyUnits: [Unit] {
        sortedUnits.filter { u in
            guard let s = u.service else { return false }
            return s.machine.activeState != .inactive && s.machine.activeState != .failed
        }
    }

    /// SIGKILL to every process of every unit still up; the manager exits once they are reaped, or after a
    /// short grace whatever happens (a process in uninterruptible sleep does not hold the container).
    private func killTheRest(reason: String) {
        guard shuttingDown, !shutdownState.forced else { return }
        shutdownState.forced = true
        loop.cancelDeadline(ObjectIdentifier(self), slot: boundSlot)
        let busy = busyUnits
        if reason == "timeout" {
            report(.warning, "The shutdown timeout (\(options.shutdownTimeout)) passed: killing \(busy.map { $0.name.description }.joined(separator: ", ")).")
            if !shutdownState.statusFromAction { shutdownState.exitStatus = shutdownTimedOutExitStatus }
        } else if !busy.isEmpty {
            report(.info, "Exiting immediately: killing \(busy.map { $0.name.description }.joined(separator: ", ")).")
        }
        for unit in busy {
            // A stop request first, so that the kill is not taken for a crash to restart from.
            if unit.activeState != .deactivating { dispatch(unit, .stop) }
            tracker.signal(unit, .all, SIGKILL)
        }
        loop.setDeadline(ObjectIdentifier(self), slot: graceSlot, at: system.monotonicNow + killGrace) { [unowned self] in
            let left = self.busyUnits
            for unit in left { self.tracker.signal(unit, .all, SIGKILL) }
            self.report(.warning, "Exiting with \(left.map { $0.name.description }.joined(separator: ", ")) not reaped.")
            self.finishShutdown()
        }
        checkShutdownComplete()
    }

    func checkShutdownComplete() {
        guard shuttingDown, !shutdownFinished else { return }
        if busyUnits.isEmpty {
            report(.info, "All units stopped.")
            finishShutdown()
        }
    }

    private func finishShutdown() {
        guard !shutdownFinished else { return }
        shutdownFinished = true
        loop.cancelDeadline(ObjectIdentifier(self), slot: boundSlot)
        loop.cancelDeadline(ObjectIdentifier(self), slot: graceSlot)
        if shutdownState.exitStatus != 0 { report(.info, "Exiting with status \(shutdownState.exitStatus).") }
        onShutdownComplete?()
    }

    /// A unit's state changed: `SuccessAction=`/`FailureAction=`/`StartLimitAction=` (systemd's unit_notify),
    /// and, during shutdown, no automatic restart (systemd's service_shall_restart refuses one while a stop job
    /// is pending).
    func emergencyCheck(_ unit: Unit, from: ServiceState, to: ServiceState) {
        if shuttingDown && to == .autoRestart {
            loop.afterEvents { [unowned self] in self.dispatch(unit, .stop) }
            return
        }
        // Read in place: most units have no action, and copying the machine costs more than this check.
        guard let s = unit.service, s.machine.config.successAction != .none || s.machine.config.failureAction != .none
            || s.machine.config.startLimitAction != .none
        else { return }
        let m = s.machine
        guard let request = EmergencyRequest.forChange(m.config, from: from.activeState, to: to.activeState,
                                                     result: m.result, mainExit: m.lastMainExit)
        else { return }
        guard request.action != .none else { return }
        // Without a status of its own, a failure still ends the manager with a failure (systemd keeps 0 here).
        let status = commandExitStatus(unit) ?? request.exitStatus.map(Int32.init) ?? (request.reason == "unit succeeded" ? 0 : 1)
        let force = request.action == .exitForce
        report(.notice, "\(unit.name): \(request.reason): \(force ? "killing every unit and exiting" : "stopping every unit and exiting") with status \(status).")
        loop.afterEvents { [unowned self] in self.shutdown(exitStatus: status, force: force) }
    }
}
