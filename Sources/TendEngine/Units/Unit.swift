import TendModel
import TendSystem

/// How a unit's file loaded (`LoadState=`).
public enum LoadState: String, Sendable {
    case loaded
    case notFound = "not-found"
    case badSetting = "bad-setting"
    case error
    case masked
}

/// A target's state: no processes, just reached or not (systemd.target(5)).
public enum TargetState: String, Sendable {
    case inactive, active
}

/// What a unit is. Each kind carries its own state; new kinds (service directories, timers, sockets) are new
/// cases, and every `switch` over this enum is a place that must learn about them. The payloads are classes, so
/// the state is mutated in place and reading a field (`service.machine.mainPID`) copies nothing: the notify
/// and reaping paths read units hundreds of thousands of times a second.
public enum UnitKind {
    /// A `.service`: its pure state machine (which holds its configuration).
    case service(ServiceUnit)
    /// A `.target`: reached or not, and its configuration (dependencies only).
    case target(TargetUnit)
    /// A daemontools/runit service directory (`NAME.dir`, its logger `NAME.log.dir`): a service run by the same
    /// state machine, with its `supervise/` files and the log pipe (Scan/).
    case directory(DirectoryUnit)
    /// A `.timer`: its schedule and last trigger (Timers/Timers.swift).
    case timer(TimerUnit)
    /// A unit whose file was not found or did not load: nothing to run, only diagnostics.
    case unloaded
}

/// A service's state: its machine.
public final class ServiceUnit {
    public internal(set) var machine: ServiceMachine
    init(_ machine: ServiceMachine) { self.machine = machine }
}

/// A target's state: its configuration and whether it is reached.
public final class TargetUnit {
    public internal(set) var config: ServiceConfig
    public internal(set) var state: TargetState
    init(_ config: ServiceConfig, _ state: TargetState) {
        self.config = config
        self.state = state
    }
}

/// One unit known to the manager: its kind and state, and the runtime's bookkeeping around it (processes,
/// notify socket, log). Owned by the registry; read by the control server.
public final class Unit {
    public let name: UnitName
    public internal(set) var loadState: LoadState
    public internal(set) var diagnostics: [Diagnostic]
    public internal(set) var kind: UnitKind

    // MARK: Processes (ProcessTracker)
    /// Pidfds of the main and control processes, for race-free signalling.
    var pidfds: [Int32: Int32] = [:]
    /// Sessions the unit's commands were started in: its processes, in the absence of a cgroup.
    var sessions: Set<Int32> = []
    /// Other processes of the unit watched through a pidfd while it is being killed: pid → (pidfd, token).
    var watched: [Int32: (Int32, UInt64)] = [:]
    /// Type=forking waiting for its PIDFile= to appear: the inotify instance and its reactor token.
    var pidFileWatch: (fd: Int32, token: UInt64)?
    /// The last kill signal sent to all of the unit's processes in its current kill state.
    var lastKillSignal: Int32?
    /// Why the last command could not be set up (`Failed at step EXEC spawning …`).
    public internal(set) var lastSetupError: String?
    /// The OOM kills of the unit's cgroup already reported (the counter when its main process started).
    var oomKillsSeen: UInt64 = 0

    // MARK: Log (LogSink)
    public internal(set) var log: LogSink?

    // MARK: sd_notify (NotifyReceiver)
    var notifyFD: Int32 = -1
    var notifyToken: UInt64 = 0
    /// NOTIFY_SOCKET= as the service sees it.
    public internal(set) var notifyPath: String?
    /// The holder's `main` entry for this unit while it runs (see Manager+Holder).
    var heldMain: HeldMain?
    /// The holder's `fdstore` entries for this unit.
    var heldStore: [String] = []
    /// `STATUS=`, kept after the service exits (systemctl's "Status:" line).
    public internal(set) var statusText: String?
    public internal(set) var statusErrno: Int32?
    public internal(set) var statusBusError: String?
    public internal(set) var statusExitStatus: Int32?
    /// `NOTIFYACCESS=` sent by the service, overriding NotifyAccess= until the next start.
    var notifyAccessOverride: NotifyAccess?
    public internal(set) var notifyAccepted = 0
    public internal(set) var notifyRejected = 0
    public internal(set) var notifyMalformed = 0
    /// Descriptors the service keeps in the manager (FDSTORE=1), passed back with LISTEN_FDS=.
    public internal(set) var fdStore: [(fd: Int32, name: String)] = []

    // MARK: Install
    /// enabled/disabled/static, computed once per unit-file load.
    var enablementCache: String?

    init(name: UnitName, result: UnitLoadResult, now: MonotonicInstant) {
        self.name = name
        diagnostics = result.diagnostics
        kind = .unloaded
        loadState = .notFound
        apply(result, now: now)
    }

    /// A unit file (re)loaded: running services keep their processes and take the new settings from their
    /// next transition that reads them, as systemd's daemon-reload does.
    func apply(_ result: UnitLoadResult, now: MonotonicInstant) {
        diagnostics = result.diagnostics
        enablementCache = nil
        guard let config = result.config, !result.hasErrors else {
            loadState = result.isMasked ? .masked
                : result.config == nil && result.diagnostics.isEmpty ? .notFound : .badSetting
            return  // a running service keeps running on its old settings
        }
        loadState = .loaded
        switch kind {
        case .target(let t): t.config = config
        case .service(let s): s.machine.updateConfig(config)
        case .directory(let d): d.service.machine.updateConfig(config)
        case .timer(let t): t.config = config
        case .unloaded:
            kind = name.suffix == "target"
                ? .target(TargetUnit(config, .inactive))
                : name.suffix == "timer" ? .timer(TimerUnit(config))
                : .service(ServiceUnit(ServiceMachine(config: config, now: now)))
        }
    }

    /// Why a job can't run on a unit whose file did not load: its errors, `file:line` first.
    var badSettingMessage: String {
        if loadState == .masked { return "Unit \(name) is masked." }
        return "Unit \(name) has a bad setting:\n" + diagnostics.filter { $0.severity == .error }.map(\.description).joined(separator: "\n")
    }

    /// The service's state, if the unit is a service: read fields through it (`service.machine.mainPID`).
    public var service: ServiceUnit? {
        switch kind {
        case .service(let s): return s
        case .directory(let d): return d.service
        case .target, .timer, .unloaded: return nil
        }
    }

    /// The service directory's state, if the unit is one.
    public var directory: DirectoryUnit? {
        if case .directory(let d) = kind { return d }
        return nil
    }

    /// A copy of the service's state machine, if the unit is a service.
    public var machine: ServiceMachine? { service?.machine }

    /// The target's state, if the unit is a target.
    public var targetState: TargetState? {
        if case .target(let t) = kind { return t.state }
        return nil
    }

    var isTarget: Bool { targetState != nil }
    var isService: Bool { service != nil }

    /// The timer's state, if the unit is a timer.
    public var timer: TimerUnit? {
        if case .timer(let t) = kind { return t }
        return nil
    }

    /// A target or a timer: started and stopped by the job engine without processes.
    var hasNoProcesses: Bool { isTarget || timer != nil }

    func setTargetState(_ state: TargetState) {
        if case .target(let t) = kind { t.state = state }
        if case .timer(let t) = kind { t.state = state == .active ? .waiting : .dead }
    }

    public var config: ServiceConfig? {
        switch kind {
        case .service(let s): return s.machine.config
        case .directory(let d): return d.service.machine.config
        case .target(let t): return t.config
        case .timer(let t): return t.config
        case .unloaded: return nil
        }
    }

    /// `Description=`, read in place (`list` asks it of every unit).
    public var unitDescription: String? {
        switch kind {
        case .service(let s): return s.machine.config.description
        case .directory(let d): return d.service.machine.config.description
        case .target(let t): return t.config.description
        case .timer(let t): return t.config.description
        case .unloaded: return nil
        }
    }

    public var activeState: ActiveState {
        switch kind {
        case .service(let s): return s.machine.activeState
        case .directory(let d): return d.service.machine.activeState
        case .target(let t): return t.state == .active ? .active : .inactive
        case .timer(let t): return t.state == .dead ? .inactive : .active
        case .unloaded: return .inactive
        }
    }

    public var subState: String {
        switch kind {
        case .service(let s): return s.machine.state.rawValue
        case .directory(let d): return d.service.machine.state.rawValue
        case .target(let t): return t.state == .active ? "active" : "dead"
        case .timer(let t): return t.state.rawValue
        case .unloaded: return "dead"
        }
    }

    public var notifyAccess: NotifyAccess {
        if let o = notifyAccessOverride { return o }
        switch kind {
        case .service(let s): return s.machine.config.effectiveNotifyAccess
        case .directory(let d): return d.service.machine.config.effectiveNotifyAccess
        case .target(let t): return t.config.effectiveNotifyAccess
        case .timer: return .none
        case .unloaded: return .none
        }
    }
}
