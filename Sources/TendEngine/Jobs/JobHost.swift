import TendModel
import TendSystem

/// What the job engine needs from the manager around it: units, the clock, a way to run a unit's machine, and
/// where to report. `Manager` is the one host; the scheduler holds no reference to its concrete type and
/// reads neither the clock nor any directory itself.
protocol JobHost: AnyObject {
    var now: MonotonicInstant { get }
    var units: [String: Unit] { get }
    var sortedUnits: [Unit] { get }
    /// A unit by name, loaded on demand.
    func unit(named: String) -> Unit?
    var isShuttingDown: Bool { get }
    func report(_ level: LogLevel, _ message: String)
    /// A message about one unit: the manager's log and the unit's own.
    func note(_ unit: Unit, _ level: LogLevel, _ message: String)
    /// Feeds a request to the unit's state machine; it answers later with `machineJobFinished`.
    func dispatch(_ unit: Unit, _ event: ServiceEvent)
    /// The client's account of a failed job (`Job for web.service failed because …`).
    func failureMessage(_ unit: Unit, _ type: JobType) -> String
    /// A target was reached or left (services report their own changes).
    func publishState(_ unit: Unit)
    func publish(_ event: EngineEvent)
    /// Runs `work` after the current events (completions reported inside a dispatch are handled there).
    func afterEvents(_ work: @escaping () -> Void)
    /// `Condition*=`/`Assert*=` of a unit about to start.
    func evaluateConditions(_ config: ServiceConfig) -> ConditionOutcome
    /// The units linked into `NAME.wants/` and `NAME.requires/` of the unit directories.
    func installedDependencies(of unit: String) -> (wants: [String], requires: [String])
    /// Whether the unit directories use targets: a `default.target` or `multi-user.target` file, or any
    /// `*.wants`/`*.requires` directory (see `JobScheduler.bootStart`).
    var unitDirectoriesUseTargets: Bool { get }
    /// CMD mode's unit, which the launch leaves out (Manager+Command.swift).
    var commandUnit: String? { get }
}

extension Manager: JobHost {
    var now: MonotonicInstant { system.monotonicNow }
    var isShuttingDown: Bool { shuttingDownForJobs }
    var commandUnit: String? { options.commandUnit }
    func publish(_ event: EngineEvent) {
        observers.publish(event)
        if case .jobFinished = event, !startup.finished { loop.afterEvents { [unowned self] in self.checkStartupFinished() } }
    }
    func afterEvents(_ work: @escaping () -> Void) { loop.afterEvents(work) }

    func evaluateConditions(_ config: ServiceConfig) -> ConditionOutcome {
        Conditions.evaluate(config.conditions, environment: system.environment)
    }

    func installedDependencies(of unit: String) -> (wants: [String], requires: [String]) {
        var wants: [String] = [], requires: [String] = []
        for dir in options.unitPaths {
            wants += listDirectory("\(dir)/\(unit).wants").filter(JobScheduler.isUnitName)
            requires += listDirectory("\(dir)/\(unit).requires").filter(JobScheduler.isUnitName)
        }
        return (wants, requires)
    }

    var unitDirectoriesUseTargets: Bool {
        for dir in options.unitPaths {
            for entry in listDirectory(dir) {
                if entry == "default.target" || entry == "multi-user.target" { return true }
                if entry.hasSuffix(".wants") || entry.hasSuffix(".requires") { return true }
            }
        }
        return false
    }
}
