import TendModel
import TendSystem

/// How a unit's file loaded (`LoadState=`).
public enum LoadState: String, Sendable {
    case loaded
    case notFound = "not-found"
    case badSetting = "bad-setting"
    case error
}

/// A target's state: no processes, just reached or not (systemd.target(5)).
public enum TargetState: String, Sendable {
    case inactive, active
}

/// What a unit is. Each kind carries its own state; new kinds (service directories, timers, sockets) are new
/// cases, and every `switch` over this enum is a place that must learn about them.
public enum UnitKind: Sendable {
    /// A `.service`: its pure state machine (which holds its configuration).
    case service(ServiceMachine)
    /// A `.target`: reached or not, and its configuration (dependencies only).
    case target(ServiceConfig, TargetState)
    /// A unit whose file was not found or did not load: nothing to run, only diagnostics.
    case unloaded
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
    /// The last kill signal sent to all of the unit's processes in its current kill state.
    var lastKillSignal: Int32?
    /// Why the last command could not be set up (`Failed at step EXEC spawning …`).
    public internal(set) var lastSetupError: String?

    // MARK: Log (LogSink)
    public internal(set) var log: LogSink?

    // MARK: sd_notify (NotifyReceiver)
    var notifyFD: Int32 = -1
    var notifyToken: UInt64 = 0
    /// NOTIFY_SOCKET= as the service sees it.
    public internal(set) var notifyPath: String?
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
            loadState = result.config == nil && result.diagnostics.isEmpty ? .notFound : .badSetting
            return  // a running service keeps running on its old settings
        }
        loadState = .loaded
        switch kind {
        case .target(_, let state): kind = .target(config, state)
        case .service:
            withMachine { $0.updateConfig(config) }
        case .unloaded:
            kind = name.suffix == "target" ? .target(config, .inactive) : .service(ServiceMachine(config: config, now: now))
        }
    }

    /// The service's state machine, if the unit is a service.
    public var machine: ServiceMachine? {
        if case .service(let m) = kind { return m }
        return nil
    }

    /// The target's state, if the unit is a target.
    public var targetState: TargetState? {
        if case .target(_, let state) = kind { return state }
        return nil
    }

    var isTarget: Bool { targetState != nil }
    var isService: Bool { machine != nil }

    func setTargetState(_ state: TargetState) {
        if case .target(let c, _) = kind { kind = .target(c, state) }
    }

    /// Mutates the machine in place (the enum's payload is moved out first, so nothing is copied).
    @discardableResult
    func withMachine<R>(_ body: (inout ServiceMachine) -> R) -> R? {
        guard case .service(var m) = kind else { return nil }
        kind = .unloaded
        defer { kind = .service(m) }
        return body(&m)
    }

    public var config: ServiceConfig? {
        switch kind {
        case .service(let m): return m.config
        case .target(let c, _): return c
        case .unloaded: return nil
        }
    }

    public var activeState: ActiveState {
        switch kind {
        case .service(let m): return m.activeState
        case .target(_, let state): return state == .active ? .active : .inactive
        case .unloaded: return .inactive
        }
    }

    public var subState: String {
        switch kind {
        case .service(let m): return m.state.rawValue
        case .target(_, let state): return state == .active ? "active" : "dead"
        case .unloaded: return "dead"
        }
    }

    public var notifyAccess: NotifyAccess { notifyAccessOverride ?? config?.effectiveNotifyAccess ?? .none }
}
