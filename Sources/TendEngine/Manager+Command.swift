import Glibc
import TendModel
import TendSystem

/// CMD mode (`tend daemon -- CMD ARGS...`): the command is a service of its own (`tend-cmd.service`, written by
/// tendd into the state directory with `SuccessAction=exit`/`FailureAction=exit`), left out of the launch and
/// started once the launch is over, within `commandTimeout`. When it ends, the manager stops everything and
/// exits with its status (128 + the signal when it was killed, as a shell and tini report it). As a unit, it is
/// logged, shown by `tend status`, and adopted like any other service if the manager dies.
public let commandUnitName = "tend-cmd.service"

private let commandSlot = 3

extension Manager {
    /// At the end of `boot`: once the launch is over, start the command; give up after `commandTimeout`.
    func scheduleCommand() {
        guard let name = options.commandUnit, options.startAll else { return }
        if let u = unit(named: name), u.activeState == .active || u.activeState == .activating {
            return  // adopted from the previous manager: it runs already
        }
        if !options.commandTimeout.isInfinite {
            loop.setDeadline(ObjectIdentifier(self), slot: commandSlot, at: system.monotonicNow + options.commandTimeout) {
                [unowned self] in
                guard !self.startupFinished, !self.shuttingDown else { return }
                self.report(.error, "The launch did not finish within \(self.options.commandTimeout): not running the command.")
                self.shutdown(exitStatus: 1)
            }
        }
        whenStartupFinished { [unowned self] in
            self.loop.cancelDeadline(ObjectIdentifier(self), slot: commandSlot)
            guard !self.shuttingDown else { return }
            if self.systemState == .degraded {
                self.report(.warning, "Starting the command although some units failed (see tend list --failed).")
            }
            self.submit(.start, unit: name, wait: true) { failure in
                guard let failure else { return }
                self.report(.error, "The command failed to start: \(failure.message)")
                self.shutdown(exitStatus: 1)
            }
        }
    }

    /// The exit status for the command unit's end: its exit code, or 128 + the signal that killed it.
    func commandExitStatus(_ unit: Unit) -> Int32? {
        guard unit.name.description == options.commandUnit, let exit = unit.service?.machine.lastMainExit else { return nil }
        switch exit {
        case .exited(let code): return code
        case .killed(let sig), .dumped(let sig): return 128 + sig
        }
    }

    /// SIGHUP, SIGUSR1, SIGUSR2 with `--forward-signals`: to the command's main process. Returns whether it was sent.
    func forwardToCommand(_ sig: Int32) -> Bool {
        guard options.forwardSignals, let name = options.commandUnit, let u = units[name],
            u.service?.machine.mainPID != nil
        else { return false }
        tracker.signal(u, .main, sig)
        return true
    }
}
