import TendModel
import TendSystem

/// The manager's state as a whole, with systemctl is-system-running's words.
public enum SystemState: String, Sendable {
    /// The launch jobs are not all done yet.
    case starting
    /// Launched, and no unit is failed.
    case running
    /// Launched, and at least one unit is failed.
    case degraded
    /// Shutting down.
    case stopping
}

/// Whether the launch is over: as systemd's manager_check_finished, the first time the job queue is empty after
/// the launch jobs were queued.
final class StartupState {
    var finished = false
    /// Called once, when the launch is over (CMD mode, probes).
    var onFinished: [() -> Void] = []
}

extension Manager {
    public var systemState: SystemState {
        if shuttingDown { return .stopping }
        if !startup.finished { return .starting }
        return units.values.contains { $0.activeState == .failed } ? .degraded : .running
    }

    /// Whether the launch is over (`systemState` is past `starting`).
    public var startupFinished: Bool { startup.finished }

    /// Runs `work` once the launch is over (at once if it is).
    public func whenStartupFinished(_ work: @escaping () -> Void) {
        if startup.finished { work() } else { startup.onFinished.append(work) }
    }

    /// A job finished (or the launch queued none): the launch is over once no job is left.
    func checkStartupFinished() {
        guard !startup.finished, jobs.queuedJobs == 0 else { return }
        startup.finished = true
        let failed = units.values.filter { $0.activeState == .failed }.count
        report(.info, failed == 0 ? "Startup finished." : "Startup finished; \(failed) unit\(failed == 1 ? "" : "s") failed.")
        let work = startup.onFinished
        startup.onFinished = []
        for w in work { w() }
    }
}
