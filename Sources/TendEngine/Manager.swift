import CTend
import Glibc
import TendModel
import TendSystem

/// Where the manager finds units and keeps its files.
public struct ManagerOptions: Sendable {
    public var unitPaths: [String]
    public var stateDir: String
    public var logDir: String
    /// Start units at launch (`--no-start` turns it off).
    public var startAll: Bool = true
    /// Log settings for units that don't set their own (tend.conf).
    public var logDefaults = LogDefaults()
    /// `--target NAME`: the target to start at launch instead of the default (see `JobScheduler.bootStart`).
    public var defaultTarget: String?
    public init(unitPaths: [String], stateDir: String, logDir: String) {
        self.unitPaths = unitPaths
        self.stateDir = stateDir
        self.logDir = logDir
    }
}

/// The manager-wide log settings (tend.conf's `[Logs]`), each overridable per unit in `[Service]`.
public struct LogDefaults: Sendable {
    public var maxSize: UInt64 = 16 << 20
    public var maxFiles: Int = 32
    public var maxUse: UInt64 = 512 << 20
    /// Generous: only a runaway service (over 5 million lines in 30 s) is limited.
    public var rateInterval: TimeSpan = .seconds(30)
    public var rateBurst: Int = 5_000_000
    public var lineMax: UInt64 = 48 * 1024
    public var timestamp: LogTimestampFormat = .iso
    public init() {}

    /// Applies `LogMaxSize=` and friends from a parsed configuration (tend.conf or a unit).
    public mutating func apply(_ c: ServiceConfig) {
        if let v = c.logMaxSize { maxSize = v }
        if let v = c.logMaxFiles { maxFiles = v }
        if let v = c.logMaxUse { maxUse = v }
        if let v = c.logRateLimitInterval { rateInterval = v }
        if let v = c.logRateLimitBurst { rateBurst = v }
        if let v = c.lineMax { lineMax = v }
        if let v = c.logTimestamp { timestamp = v }
    }

    public func settings(directory: String) -> LogSettings {
        LogSettings(directory: directory, maxSize: maxSize, maxFiles: maxFiles, maxUse: maxUse, timestamp: timestamp)
    }

    public var capture: CaptureSettings {
        CaptureSettings(lineMax: Int(lineMax), rateInterval: rateInterval.isInfinite ? 0 : rateInterval.usec,
                        rateBurst: rateBurst, timestamp: timestamp)
    }
}

/// How a unit's file loaded (`LoadState=`).
public enum LoadState: String, Sendable {
    case loaded
    case notFound = "not-found"
    case badSetting = "bad-setting"
    case error
}

/// One unit known to the manager, with the runtime's bookkeeping around its pure state machine.
public final class Unit {
    public let name: UnitName
    public internal(set) var loadState: LoadState
    public internal(set) var diagnostics: [Diagnostic]
    public internal(set) var machine: ServiceMachine?
    /// For a `.target` unit (no machine): its state and configuration.
    public internal(set) var targetState: TargetState?
    var targetConfig: ServiceConfig?
    /// Pidfds of the main and control processes, for race-free signalling.
    var pidfds: [Int32: Int32] = [:]
    /// Sessions the unit's commands were started in: its processes, in the absence of a cgroup.
    var sessions: Set<Int32> = []
    /// Other processes of the unit watched through a pidfd while it is being killed: pid → (pidfd, token).
    var watched: [Int32: (Int32, UInt64)] = [:]
    public internal(set) var log: LogSink?
    /// Why the last command could not be set up (`Failed at step EXEC spawning …`).
    public internal(set) var lastSetupError: String?
    /// The last kill signal sent to all of the unit's processes in its current kill state.
    var lastKillSignal: Int32?
    /// enabled/disabled/static, computed once per unit-file load.
    var enablementCache: String?

    // sd_notify
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

    public var notifyAccess: NotifyAccess { notifyAccessOverride ?? config?.effectiveNotifyAccess ?? .none }

    init(name: UnitName, result: UnitLoadResult, now: MonotonicInstant) {
        self.name = name
        diagnostics = result.diagnostics
        if let config = result.config, !result.hasErrors, name.suffix == "target" {
            loadState = .loaded
            targetConfig = config
            targetState = .inactive
        } else if let config = result.config, !result.hasErrors {
            loadState = .loaded
            machine = ServiceMachine(config: config, now: now)
        } else {
            loadState = result.config == nil && result.diagnostics.isEmpty ? .notFound : .badSetting
            machine = nil
        }
    }

    public var config: ServiceConfig? { machine?.config ?? targetConfig }
    public var activeState: ActiveState { machine?.activeState ?? (targetState == .active ? .active : .inactive) }
    public var subState: String { machine?.state.rawValue ?? (targetState == .active ? "active" : "dead") }
}

/// Errors a request can end in, with the message `tend` prints.
public struct ManagerError: Error, CustomStringConvertible, Sendable {
    public var description: String
    /// systemctl-like exit status for the client: 1 failure, 4 no such unit, 5 unit not loaded/bad setting.
    public var exitCode: Int32
    public init(_ description: String, exitCode: Int32 = 1) {
        self.description = description
        self.exitCode = exitCode
    }
}

/// The manager: owns every unit, runs the event loop, turns kernel events into state-machine events and
/// carries out the effects. One thread; nothing here is shared.
public final class Manager {
    public let options: ManagerOptions
    public let loop: EventLoop
    public internal(set) var units: [String: Unit] = [:]
    /// Every unit, by name (sorting the names, not building them for each comparison).
    public var sortedUnits: [Unit] { units.sorted { $0.key < $1.key }.map(\.value) }
    private var loader: UnitLoader
    /// Which unit a live pid belongs to, and as what.
    private var pidOwner: [Int32: (unit: Unit, role: ProcessRole)] = [:]
    private var signalFD: Int32 = -1
    private let managerEnvironment: [String: String]
    private let defaultWorkingDirectory: String
    /// Units currently in a kill state, re-checked when processes go.
    private var killing: Set<ObjectIdentifier> = []
    private var shuttingDown = false
    var shuttingDownForJobs: Bool { shuttingDown }
    /// Jobs, dependencies and targets (Manager/JobScheduler.swift).
    public private(set) lazy var jobs = JobScheduler(manager: self)
    var managerEnvironmentForConditions: [String: String] { managerEnvironment }
    let observers = EngineObservers()
    /// Called once shutdown is complete (all units inactive).
    public var onShutdownComplete: (() -> Void)?
    /// The manager's own event log (stderr, by default).
    public var logHandler: (LogLevel, String) -> Void = { level, message in
        let line = "tend[\(getpid())]: \(level == .info || level == .debug ? "" : level.rawValue + ": ")\(message)\n"
        _ = try? Posix.write(2, Array(line.utf8))
    }
    /// The read buffer every log sink shares.
    private let logScratch = ScratchBuffer(size: 65536)
    /// The log store's writer thread, and the manager's own log (`LOG_DIR/tend/`).
    public let logWriter: LogWriter
    private var managerLog: LogSink!
    /// A process snapshot shared by every check within one loop iteration, and the pids seen to end since.
    private var snapshot: [ProcessInfo]?
    private var goneSinceSnapshot: Set<Int32> = []

    public init(options: ManagerOptions) throws {
        self.options = options
        self.loop = try EventLoop()
        let env = Posix.environment()
        managerEnvironment = env
        defaultWorkingDirectory = getuid() == 0 ? "/" : (env["HOME"] ?? "/")
        loader = UnitLoader(searchPaths: options.unitPaths, context: SpecifierContext.current(environment: env))
        logWriter = try LogWriter()
        managerLog = LogSink(unit: "tend", settings: options.logDefaults.settings(directory: options.logDir + "/tend"),
                             capture: options.logDefaults.capture, writer: logWriter, loop: loop, scratch: logScratch)
    }

    /// The manager's messages: into its own log and to `logHandler` (stderr).
    public func report(_ level: LogLevel, _ message: String) {
        managerLog.note(level == .info || level == .debug ? message : "\(level.rawValue): \(message)")
        logHandler(level, message)
    }

    /// Writes what the log writer still holds and stops it (at exit).
    public func finishLogs() {
        managerLog.flushPartial()
        for unit in units.values { unit.log?.drainAll() }
        logWriter.stop()
    }

    /// The directory of a unit's log.
    public func logDirectory(_ unit: Unit) -> String { options.logDir + "/" + unit.name.description }

    /// The unit's log sink, created on first use with its settings.
    func sink(_ unit: Unit) -> LogSink {
        if let s = unit.log { return s }
        var d = options.logDefaults
        if let c = unit.config { d.apply(c) }
        let s = LogSink(unit: unit.name.description, settings: d.settings(directory: logDirectory(unit)),
                        capture: d.capture, writer: logWriter, loop: loop, scratch: logScratch)
        unit.log = s
        return s
    }

    // MARK: - Lifecycle

    /// The signals the manager handles through its signalfd. Block them before any thread exists.
    public static let handledSignals: [Int32] = [SIGCHLD, SIGTERM, SIGINT, SIGHUP]

    /// Sets up signals and the subreaper flag, loads every unit and starts them.
    public func boot() throws {
        var sigs = Manager.handledSignals
        let e = ctend_block_signals(&sigs, Int32(sigs.count))
        guard e == 0 else { throw SystemError("block signals", errno: e) }
        _ = Glibc.signal(SIGPIPE, SIG_IGN)
        let fd = ctend_signalfd(&sigs, Int32(sigs.count))
        guard fd >= 0 else { throw SystemError("create signalfd", errno: -fd) }
        signalFD = fd
        try loop.watch(fd) { [unowned self] _ in self.readSignals() }
        if ctend_set_child_subreaper() != 0 {
            logHandler(.warning, "Failed to become a child subreaper; daemons that double-fork won't be reaped.")
        }
        try Posix.mkdirs(options.stateDir, mode: 0o755)
        try? Posix.mkdirs(options.logDir, mode: 0o755)
        loadAll()
        if options.startAll { jobs.bootStart(target: options.defaultTarget) }
    }

    public func run() { loop.run() }

    /// Orderly shutdown: stop every unit, then `onShutdownComplete`.
    public func shutdown() {
        guard !shuttingDown else { return }
        shuttingDown = true
        report(.info, "Stopping all units.")
        jobs.stopAll()
        checkShutdownComplete()
    }

    private func checkShutdownComplete() {
        guard shuttingDown else { return }
        let busy = units.values.contains { u in
            guard let m = u.machine else { return false }
            return m.activeState != .inactive && m.activeState != .failed
        }
        if !busy {
            report(.info, "All units stopped.")
            onShutdownComplete?()
        }
    }

    // MARK: - Loading

    private func loadAll() {
        let now = Posix.monotonicNow
        for name in loader.listUnitNames() where units[name.description] == nil {
            let unit = Unit(name: name, result: loader.load(name), now: now)
            units[name.description] = unit
        }
        jobs.addBuiltinTargets(now: now)
    }

    /// Finds a unit by name (loading it on demand, as systemd loads units a command names).
    public func unit(named raw: String) -> Unit? {
        guard let name = UnitName(parsing: raw) else { return nil }
        if let u = units[name.description] { return u }
        let result = loader.load(name)
        guard result.config != nil else { return nil }
        let unit = Unit(name: name, result: result, now: Posix.monotonicNow)
        units[name.description] = unit
        return unit
    }

    /// daemon-reload: re-read every unit file. Running units keep their processes; the new settings apply
    /// from their next start (as with systemd, where most settings take effect then).
    public func reloadUnits() {
        loader = UnitLoader(searchPaths: options.unitPaths, context: SpecifierContext.current(environment: managerEnvironment))
        let now = Posix.monotonicNow
        var seen: Set<String> = []
        for name in loader.listUnitNames() {
            seen.insert(name.description)
            let result = loader.load(name)
            if let existing = units[name.description] {
                existing.diagnostics = result.diagnostics
                existing.enablementCache = nil
                if let config = result.config, !result.hasErrors, existing.targetState != nil {
                    existing.loadState = .loaded
                    existing.targetConfig = config
                } else if let config = result.config, !result.hasErrors {
                    existing.loadState = .loaded
                    if let log = existing.log {
                        var d = options.logDefaults
                        d.apply(config)
                        log.update(settings: d.settings(directory: logDirectory(existing)), capture: d.capture)
                    }
                    if var m = existing.machine {
                        m.updateConfig(config)
                        existing.machine = m
                    } else {
                        existing.machine = ServiceMachine(config: config, now: now)
                    }
                } else {
                    existing.loadState = .badSetting
                }
            } else {
                units[name.description] = Unit(name: name, result: result, now: now)
            }
        }
        // Units whose file is gone are forgotten once inactive.
        for (key, unit) in units where !seen.contains(key) {
            if unit.activeState == .inactive || unit.activeState == .failed { units[key] = nil }
        }
        jobs.addBuiltinTargets(now: now)
        report(.info, "Reloaded \(seen.count) unit files.")
    }

    /// `tend cat`: the unit's files as loaded.
    public func catText(_ raw: String) -> String? {
        guard let name = UnitName(parsing: raw) else { return nil }
        return loader.catText(name)
    }

    // MARK: - Jobs (from clients)

    /// Queues a job; `completion` runs when it finishes (at once when `wait` is false).
    public func enqueue(_ type: JobType, unit raw: String, wait: Bool = true, completion: @escaping (Bool, String?) -> Void) {
        let kind: JobKind
        switch type {
        case .start: kind = .start
        case .stop: kind = .stop
        case .restart: kind = .restart
        case .reload: kind = .reload
        }
        submit(kind, unit: raw, wait: wait, completion: completion)
    }

    /// Queues a job of any kind through the job engine (dependencies, ordering, restart propagation), as
    /// systemd sends every request through its job queue. With `wait` false the client hears only of a refused
    /// transaction (it fails synchronously), not of the job.
    public func submit(_ kind: JobKind, unit raw: String, wait: Bool = true, completion: @escaping (Bool, String?) -> Void) {
        if let name = UnitName(parsing: raw), name.isTemplate, kind != .stop {
            completion(false, "Unit name \(name) is missing the instance name (\(name.prefix)@INSTANCE.\(name.suffix)).")
            return
        }
        guard let unit = unit(named: raw) else {
            completion(false, "Unit \(UnitName(parsing: raw)?.description ?? raw) not found.")
            return
        }
        guard unit.loadState == .loaded, unit.machine != nil || unit.targetState != nil else {
            let errors = unit.diagnostics.filter { $0.severity == .error }.map(\.description)
            completion(false, "Unit \(unit.name) has a bad setting:\n" + errors.joined(separator: "\n"))
            return
        }
        if shuttingDown && kind != .stop {
            completion(false, "The manager is shutting down.")
            return
        }
        var answered = false
        jobs.submit(kind, unit.name.description) { result, message in
            guard !answered else { return }
            answered = true
            completion(result == .done || !wait && result == .canceled, message)
        }
        if !answered && !wait {
            answered = true
            completion(true, nil)
        }
    }

    func failureMessage(_ unit: Unit, _ type: JobType) -> String {
        let verb = type == .start ? "start" : type == .stop ? "stop" : type == .reload ? "reload" : "restart"
        var msg = "Job for \(unit.name) failed"
        if let m = unit.machine {
            if type == .reload && m.state == .running {
                msg = "Failed to \(verb) \(unit.name): the reload command failed"
            } else {
                msg += " because "
                switch m.result {
                case .startLimitHit: msg += "the start rate limit was hit (start request repeated too quickly)"
                case .timeout: msg += "a timeout was exceeded"
                case .exitCode: msg += "the control process exited with error code"
                case .signal: msg += "a fatal signal was delivered to the control process"
                case .coreDump: msg += "a fatal signal was delivered causing the control process to dump core"
                case .resources: msg += "of unavailable resources or another system error"
                case .protocol: msg += "the service did not take the steps required by its unit configuration"
                case .watchdog: msg += "the service watchdog timed out"
                case .success: msg += "it was stopped or its state changed before it became active"
                }
                msg += "."
            }
        }
        if let last = lastProcessLine(unit) { msg += "\n" + last }
        if let e = unit.lastSetupError { msg += "\n" + e }
        msg += "\nSee \"tend status \(unit.name)\" and \"tend logs \(unit.name)\" for details."
        return msg
    }

    private func lastProcessLine(_ unit: Unit) -> String? {
        guard let p = unit.machine?.processLog.last else { return nil }
        return "Process: \(p.pid) \(p.kind.rawValue)=\(p.command) (\(p.cause.statusText))"
    }

    /// `tend reset-failed`.
    public func resetFailed(_ raw: String?) throws {
        if let raw {
            guard let u = unit(named: raw) else { throw ManagerError("Unit \(raw) not loaded.", exitCode: 5) }
            dispatch(u, .resetFailed)
        } else {
            for u in units.values where u.machine != nil { dispatch(u, .resetFailed) }
        }
    }

    /// `tend kill`: a signal to the main process, or to every process of the unit.
    public func kill(_ raw: String, signal: Int32, who: KillTarget) throws {
        guard let u = unit(named: raw), let m = u.machine else {
            throw ManagerError("Unit \(raw) not loaded.", exitCode: 5)
        }
        guard m.activeState != .inactive && m.activeState != .failed else {
            throw ManagerError("No process of \(u.name) to signal: the unit is not active.")
        }
        if who == .main && m.mainPID == nil { throw ManagerError("No main process of \(u.name) to signal.") }
        self.signal(u, who, signal)
    }

    // MARK: - Dispatch

    /// Feeds an event to a unit's machine and carries out the effects, with the events they produce.
    func dispatch(_ unit: Unit, _ first: ServiceEvent) {
        guard unit.machine != nil else { return }
        var queue: [ServiceEvent] = [first]
        var index = 0
        while index < queue.count {
            let event = queue[index]
            index += 1
            let before = unit.machine!.state
            let effects = unit.machine!.handle(event, now: Posix.monotonicNow)
            for fx in effects { perform(unit, fx, queue: &queue) }
            let after = unit.machine!.state
            if before != after { stateChanged(unit, from: before, to: after) }
            if index == queue.count, let extra = checkProcessesGone(unit) { queue.append(extra) }
        }
        if let m = unit.machine, m.state == .dead || m.state == .failed, !unit.fdStore.isEmpty {
            // The store outlives restarts, not a stop (systemd's FileDescriptorStorePreserve=no).
            for entry in unit.fdStore { Posix.close(entry.fd) }
            unit.fdStore = []
        }
        checkShutdownComplete()
    }

    private func perform(_ unit: Unit, _ fx: ServiceEffect, queue: inout [ServiceEvent]) {
        switch fx {
        case .spawn(let role, let kind, let command):
            queue.append(spawn(unit, role, kind, command))
        case .kill(let target, let sig):
            signal(unit, target, sig)
        case .armTimer(let at):
            loop.setDeadline(ObjectIdentifier(unit), at: at) { [unowned self] in self.dispatch(unit, .timer) }
        case .cancelTimer:
            loop.cancelDeadline(ObjectIdentifier(unit))
        case .armWatchdog(let at):
            loop.setDeadline(ObjectIdentifier(unit), slot: 1, at: at) { [unowned self] in self.dispatch(unit, .watchdogTimer) }
        case .cancelWatchdog:
            loop.cancelDeadline(ObjectIdentifier(unit), slot: 1)
        case .resolveMainPID:
            queue.append(.mainPIDResolved(resolveMainPID(unit)))
        case .jobFinished(let type, let ok):
            jobs.machineJobFinished(unit, type, ok)
        case .log(let level, let message):
            report(level, "\(unit.name): \(message)")
            unit.log?.note(message)
        }
    }

    private func stateChanged(_ unit: Unit, from: ServiceState, to: ServiceState) {
        publishState(unit)
        jobs.unitStateChanged(unit, from: from, to: to)
        if to.isKillState {
            killing.insert(ObjectIdentifier(unit))
        } else {
            killing.remove(ObjectIdentifier(unit))
            unit.lastKillSignal = nil
        }
        if to == .dead || to == .failed || to == .autoRestart {
            for (pid, (fd, token)) in unit.watched {
                loop.unwatch(token)
                Posix.close(fd)
                _ = pid
            }
            unit.watched = [:]
            // Processes left behind (KillMode=process/none) are no longer tracked as the unit's.
            unit.sessions = []
        }
        if let m = unit.machine, let main = m.mainPID { unit.log?.currentPID = main }
    }

    // MARK: - Processes

    private func spawn(_ unit: Unit, _ role: ProcessRole, _ kind: CommandKind, _ command: ExecCommand) -> ServiceEvent {
        guard let m = unit.machine else { return .spawnFailed(role, errno: EINVAL) }
        let config = m.config
        var opened: [Int32] = []
        defer { for fd in opened { Posix.close(fd) } }
        var stdio: [Int32] = [-1, -1, -1]
        var failure: String?
        if case .file(let path) = config.standardInput {
            if let fd = try? Posix.open(path, O_RDONLY) { stdio[0] = fd; opened.append(fd) } else { failure = "Failed to open standard input \(path)" }
        }
        func target(_ out: StandardOutput, _ index: Int) {
            switch out {
            case .inherit: stdio[index] = index == 1 ? stdio[0] : stdio[1]
            case .null: stdio[index] = -1
            case .journal:
                let log = sink(unit)
                do {
                    try log.openPipes()
                    stdio[index] = index == 1 ? log.stdoutWrite : log.stderrWrite
                } catch {
                    failure = "Failed to set up logging: \(error)"
                }
            case .file(let p), .append(let p), .truncate(let p):
                var flags = O_WRONLY | O_CREAT
                if case .append = out { flags |= O_APPEND }
                if case .truncate = out { flags |= O_TRUNC }
                do {
                    let fd = try Posix.open(p, flags, mode: 0o644)
                    opened.append(fd)
                    stdio[index] = fd
                } catch {
                    failure = "Failed to open \(p) for standard \(index == 1 ? "output" : "error"): \(error)"
                }
            }
        }
        target(config.standardOutput, 1)
        target(config.standardError, 2)
        _ = sink(unit)
        if let failure {
            unit.lastSetupError = failure
            report(.error, "\(unit.name): \(failure)")
            return .spawnFailed(role, errno: EIO)
        }

        var extra: [(String, String)] = []
        if let main = m.mainPID ?? m.lastMainPID, role == .control { extra.append(("MAINPID", String(main))) }
        if kind == .execStop || kind == .execStopPost {
            extra.append(("SERVICE_RESULT", m.result.rawValue))
            if let exit = m.lastMainExit {
                extra.append(("EXIT_CODE", exit.codeName))
                switch exit {
                case .exited(let s): extra.append(("EXIT_STATUS", String(s)))
                case .killed(let sig), .dumped(let sig): extra.append(("EXIT_STATUS", Signals.name(sig) ?? String(sig)))
                }
            }
        }
        var pidEnvironment: [String] = []
        var passed: [Int32] = []
        if unit.notifyAccess != .none || m.watchdogInterval.usec > 0 {
            if let path = notifySocket(unit) { extra.append(("NOTIFY_SOCKET", path)) }
        }
        if role == .main && kind == .execStart {
            let wd = m.watchdogInterval
            if wd.usec > 0 && !wd.isInfinite {
                extra.append(("WATCHDOG_USEC", String(wd.usec)))
                pidEnvironment.append("WATCHDOG_PID")
            }
            if !unit.fdStore.isEmpty {
                passed = unit.fdStore.map(\.fd)
                extra.append(("LISTEN_FDS", String(passed.count)))
                extra.append(("LISTEN_FDNAMES", unit.fdStore.map(\.name).joined(separator: ":")))
                pidEnvironment.append("LISTEN_PID")
            }
        }
        var request = SpawnRequest(config: config, command: command, kind: kind, stdio: stdio, extraEnvironment: extra,
                                   managerEnvironment: managerEnvironment, defaultWorkingDirectory: defaultWorkingDirectory)
        request.pidEnvironment = pidEnvironment
        request.passedFDs = passed
        do {
            let (p, setupError) = try Spawner.spawn(request)
            pidOwner[p.pid] = (unit, role)
            if p.pidfd >= 0 { unit.pidfds[p.pid] = p.pidfd }
            unit.sessions.insert(p.pid)
            if let setupError {
                unit.lastSetupError = setupError
                report(.error, "\(unit.name): \(setupError)")
                unit.log?.note(setupError)
            } else if role == .main {
                unit.lastSetupError = nil
            }
            if role == .main { unit.log?.currentPID = p.pid }
            return .spawned(role, pid: p.pid, setupFailed: p.failedStage != 0)
        } catch {
            let message = "Failed to spawn '\(kind.rawValue)' task: \(error)"
            unit.lastSetupError = message
            report(.error, "\(unit.name): \(message)")
            unit.log?.note(message)
            return .spawnFailed(role, errno: (error as? SpawnError)?.errno ?? EIO)
        }
    }

    /// Sends a signal as the machine asked. The main and control processes get it through their pidfd; `.all`
    /// reaches every process of the unit's sessions (its process groups and their members).
    private func signal(_ unit: Unit, _ target: KillTarget, _ sig: Int32) {
        guard let m = unit.machine else { return }
        func send(_ pid: Int32) {
            if let fd = unit.pidfds[pid] {
                _ = ctend_pidfd_send_signal(fd, sig)
            } else {
                _ = Glibc.kill(pid, sig)
            }
        }
        switch target {
        case .main:
            if let p = m.mainPID { send(p) }
        case .control:
            if let p = m.controlPID { send(p) }
        case .all:
            // Look before signalling: a main process that dies at once would have its children in transit to
            // the manager (reparenting) while the process tree is walked, and they could be missed.
            let members = unitProcesses(unit)
            if let p = m.mainPID { send(p) }
            if let p = m.controlPID { send(p) }
            for proc in members where proc.pid != m.mainPID && proc.pid != m.controlPID {
                _ = Glibc.kill(proc.pid, sig)
            }
            if sig != SIGCONT && sig != SIGHUP { unit.lastKillSignal = sig }
        }
    }

    /// The live processes of a unit: members of the sessions its commands started, plus the tracked pids.
    /// One /proc scan serves every check of a loop iteration; pids known to be gone since are left out.
    private func unitProcesses(_ unit: Unit) -> [ProcessInfo] {
        if snapshot == nil {
            snapshot = ProcessTable.descendants(of: getpid()) ?? ProcessTable.scan()
            goneSinceSnapshot = []
            loop.afterEvents { [unowned self] in
                self.snapshot = nil
                self.goneSinceSnapshot = []
            }
        }
        let me = getpid()
        return snapshot!.filter { p in
            p.pid != me && p.state != "Z" && p.state != "X" && !goneSinceSnapshot.contains(p.pid)
                && (unit.sessions.contains(p.session) || unit.pidfds[p.pid] != nil)
        }
    }

    /// In a kill state: `.allProcessesGone` if nothing of the awaited scope is left; otherwise make sure each
    /// remaining process is watched (a pidfd turns readable when it exits) so its end triggers another check.
    private func checkProcessesGone(_ unit: Unit) -> ServiceEvent? {
        guard let m = unit.machine, let scope = m.awaitedProcesses else { return nil }
        if scope != .all {
            return m.mainPID == nil && m.controlPID == nil ? .allProcessesGone : nil
        }
        var alive = 0
        for p in unitProcesses(unit) {
            if unit.watched[p.pid] != nil || pidOwner[p.pid] != nil {
                alive += 1
                continue
            }
            let fd = ctend_pidfd_open(p.pid)
            guard fd >= 0 else {
                goneSinceSnapshot.insert(p.pid)  // ESRCH: it ended after the scan
                continue
            }
            // Found now but not signalled with the rest (forked since, or in transit between parents): it gets
            // the unit's kill signal too, as systemd's repeated cgroup kill would give it.
            if let sig = unit.lastKillSignal {
                _ = ctend_pidfd_send_signal(fd, sig)
                if sig != SIGKILL { _ = ctend_pidfd_send_signal(fd, SIGCONT) }
            }
            let pid = p.pid
            do {
                let token = try loop.watch(fd) { [unowned self] _ in
                    if let entry = unit.watched.removeValue(forKey: pid) {
                        self.loop.unwatch(entry.1)
                        Posix.close(entry.0)
                    }
                    self.goneSinceSnapshot.insert(pid)
                    self.recheck(unit)
                }
                unit.watched[pid] = (fd, token)
                alive += 1
            } catch {
                Posix.close(fd)
            }
        }
        return alive == 0 && m.mainPID == nil && m.controlPID == nil ? .allProcessesGone : nil
    }

    private func recheck(_ unit: Unit) {
        guard unit.machine?.awaitedProcesses != nil else { return }
        if let e = checkProcessesGone(unit) { dispatch(unit, e) }
    }

    /// Type=forking: the daemon's pid from PIDFile=, or the one process left of the unit.
    private func resolveMainPID(_ unit: Unit) -> Int32? {
        guard let config = unit.config else { return nil }
        if let path = config.pidFile {
            guard let bytes = Posix.readFile(path, limit: 64) else { return nil }
            let text = String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == "\n" || $0 == " " }).first
            guard let t = text, let pid = Int32(t), pid > 0, ProcessTable.stat(pid) != nil else { return nil }
            adopt(unit, pid)
            return pid
        }
        guard config.guessMainPID else { return nil }
        let me = getpid()
        let all = ProcessTable.scan()
        let candidates = all.filter { p in
            p.state != "Z" && p.pid != me
                && (unit.sessions.contains(p.session) || (p.ppid == me && pidOwner[p.pid] == nil))
                && pidOwner[p.pid] == nil
        }
        guard candidates.count == 1 else { return nil }
        adopt(unit, candidates[0].pid)
        return candidates[0].pid
    }

    private func adopt(_ unit: Unit, _ pid: Int32) {
        pidOwner[pid] = (unit, .main)
        let fd = ctend_pidfd_open(pid)
        if fd >= 0 { unit.pidfds[pid] = fd }
        if let info = ProcessTable.stat(pid) { unit.sessions.insert(info.session) }
        unit.log?.currentPID = pid
        // A daemon that is not our child (no subreaper) can't be reaped: watch its pidfd for the exit.
        if let info = ProcessTable.stat(pid), info.ppid != getpid(), fd >= 0 {
            if let token = try? loop.watch(fd, { [unowned self] _ in
                if let entry = unit.watched.removeValue(forKey: pid) { self.loop.unwatch(entry.1) }
                self.processEnded(pid, .exited(0))
            }) {
                unit.watched[pid] = (-1, token)
            }
        }
    }

    // MARK: - Signals and child exits

    private func readSignals() {
        while true {
            let sig = ctend_signalfd_read(signalFD)
            if sig <= 0 { break }
            switch sig {
            case SIGCHLD: reapChildren()
            case SIGTERM, SIGINT: shutdown()
            case SIGHUP: reloadUnits()
            default: break
            }
        }
    }

    private func reapChildren() {
        var pid: pid_t = 0
        var code: Int32 = 0
        var status: Int32 = 0
        var reapedOrphan = false
        while ctend_reap_any(&pid, &code, &status) == 1 {
            let cause: ExitCause
            switch code {
            case 1: cause = .exited(status)  // CLD_EXITED
            case 3: cause = .dumped(status)  // CLD_DUMPED
            default: cause = .killed(status)
            }
            goneSinceSnapshot.insert(pid)
            if pidOwner[pid] != nil { processEnded(pid, cause) } else { reapedOrphan = true }
        }
        if reapedOrphan {
            for unit in units.values where killing.contains(ObjectIdentifier(unit)) { recheck(unit) }
        }
    }

    private func processEnded(_ pid: Int32, _ cause: ExitCause) {
        guard let (unit, _) = pidOwner.removeValue(forKey: pid) else { return }
        if let entry = unit.watched.removeValue(forKey: pid) { loop.unwatch(entry.1) }
        if let fd = unit.pidfds.removeValue(forKey: pid) { Posix.close(fd) }
        goneSinceSnapshot.insert(pid)
        // Its last output first, then the news of its death.
        unit.log?.drainAll()
        dispatch(unit, .exited(pid: pid, cause))
    }

    // MARK: - sd_notify

    /// Manager-wide notify counters (`tend show` of the manager, benchmarks).
    public private(set) var notifyTotals = (accepted: 0, rejected: 0, malformed: 0)
    private var notifyCounter = 0
    private var notifyBuffer = [UInt8](repeating: 0, count: NotifyMessage.maxSize + 1)
    private var notifyFDs = [Int32](repeating: -1, count: 768)

    /// The unit's own notify socket, created on first use: a socket per service makes attributing a message
    /// trivial and keeps a message whose sender already exited attributable (DESIGN.md, sd_notify).
    private func notifySocket(_ unit: Unit) -> String? {
        if let p = unit.notifyPath { return p }
        let dir = options.stateDir + "/notify"
        try? Posix.mkdirs(dir, mode: 0o755)
        chmod(dir, 0o755)
        notifyCounter += 1
        var path = "\(dir)/\(notifyCounter)"
        // sun_path holds 107 bytes: a deep state directory falls back to an abstract name.
        if path.utf8.count > 100 { path = "@tend/\(getpid())/\(notifyCounter)" }
        let fd = ctend_notify_socket(path)
        guard fd >= 0 else {
            report(.error, "\(unit.name): Failed to create notify socket \(path): \(Posix.errorText(-fd))")
            return nil
        }
        do {
            unit.notifyToken = try loop.watch(fd) { [unowned self] _ in self.readNotify(unit) }
        } catch {
            Posix.close(fd)
            return nil
        }
        unit.notifyFD = fd
        unit.notifyPath = path
        return path
    }

    private func readNotify(_ unit: Unit) {
        var budget = 512  // datagrams per wakeup, so one chatty service can't starve the loop
        while budget > 0 {
            budget -= 1
            var len = 0
            var pid: pid_t = 0
            var uid: uid_t = 0
            var gid: gid_t = 0
            var nfds: Int32 = 0
            let rc = notifyBuffer.withUnsafeMutableBytes { buf in
                notifyFDs.withUnsafeMutableBufferPointer { fds in
                    ctend_recv_notify(unit.notifyFD, buf.baseAddress!, NotifyMessage.maxSize, &len, &pid, &uid, &gid,
                                      fds.baseAddress!, 768, &nfds)
                }
            }
            guard rc == 1 else { return }
            let fds = Array(notifyFDs.prefix(Int(nfds)))
            handleNotify(unit, len: len, pid: pid, uid: uid, fds: fds)
        }
    }

    private func handleNotify(_ unit: Unit, len: Int, pid: Int32, uid: uid_t, fds: [Int32]) {
        var kept: Set<Int32> = []
        defer { for fd in fds where !kept.contains(fd) { Posix.close(fd) } }
        guard len <= NotifyMessage.maxSize else {
            countNotify(unit, malformed: true)
            return
        }
        guard notifyAllowed(unit, pid: pid) else {
            unit.notifyRejected += 1
            notifyTotals.rejected += 1
            return
        }
        let msg: NotifyMessage
        do {
            msg = try NotifyMessage.parse(notifyBuffer[0..<len])
        } catch {
            countNotify(unit, malformed: true)
            return
        }
        countNotify(unit, malformed: false)
        guard let m = unit.machine else { return }

        if let s = msg.status { unit.statusText = s }
        if let e = msg.errno { unit.statusErrno = e }
        if let b = msg.busError { unit.statusBusError = b }
        if let x = msg.exitStatus { unit.statusExitStatus = x }
        if let a = msg.notifyAccess { unit.notifyAccessOverride = a }

        var events: [NotifyEvent] = []
        if let newMain = msg.mainPID, newMain != m.mainPID {
            // Only a process of the service may become its main process (root may name any).
            if (uid == 0 || belongs(unit, pid: newMain)) && ProcessTable.stat(newMain) != nil {
                if let old = m.mainPID, pidOwner[old]?.unit === unit { pidOwner[old] = nil }
                adopt(unit, newMain)
                events.append(.mainPID(newMain))
            } else {
                report(.warning, "\(unit.name): New main PID \(newMain) does not belong to the service, ignoring.")
            }
        }
        if let w = msg.watchdogUsec { events.append(.watchdogUsec(w)) }
        if msg.reloading { events.append(.reloading) }
        if msg.ready { events.append(.ready) }
        if msg.stopping { events.append(.stopping) }
        if let e = msg.extendTimeoutUsec { events.append(.extendTimeout(e)) }
        if msg.watchdogPing { events.append(.watchdogPing) }
        if msg.watchdogTrigger { events.append(.watchdogTrigger) }
        if msg.restartReset { events.append(.restartReset) }

        if msg.fdStoreRemove, let name = msg.fdName {
            for entry in unit.fdStore where entry.name == name { Posix.close(entry.fd) }
            unit.fdStore.removeAll { $0.name == name }
        }
        if msg.fdStore {
            let max = m.config.fileDescriptorStoreMax
            for fd in fds where unit.fdStore.count < max {
                unit.fdStore.append((fd, msg.fdName ?? "stored"))
                kept.insert(fd)
            }
            if fds.count > kept.count {
                report(.warning, "\(unit.name): File descriptor store full (FileDescriptorStoreMax=\(max)), closing \(fds.count - kept.count) received descriptors.")
            }
        }
        for e in events { dispatch(unit, .notify(e)) }
        // Descriptors not stored (BARRIER=1's among them) are closed by the defer: after every earlier message
        // was processed, which is exactly what a barrier waits for.
    }

    private func countNotify(_ unit: Unit, malformed: Bool) {
        if malformed {
            unit.notifyMalformed += 1
            notifyTotals.malformed += 1
        } else {
            unit.notifyAccepted += 1
            notifyTotals.accepted += 1
        }
    }

    /// NotifyAccess=: main (the main process), exec (main or control), all (any process of the service).
    private func notifyAllowed(_ unit: Unit, pid: Int32) -> Bool {
        guard pid > 0, let m = unit.machine else { return false }
        switch unit.notifyAccess {
        case .none: return false
        case .main: return pid == m.mainPID
        case .exec: return pid == m.mainPID || pid == m.controlPID
        case .all: return belongs(unit, pid: pid)
        }
    }

    /// Whether a process is one of the service's: its main or control process, in one of its sessions, or a
    /// descendant of either.
    private func belongs(_ unit: Unit, pid: Int32) -> Bool {
        guard let m = unit.machine else { return false }
        var current = pid
        for _ in 0..<64 {
            if current == m.mainPID || current == m.controlPID { return true }
            guard let info = ProcessTable.stat(current) else { return false }
            if unit.sessions.contains(info.session) { return true }
            if info.ppid <= 1 || info.ppid == getpid() { return false }
            current = info.ppid
        }
        return false
    }

    // MARK: - Observers

    /// Calls `handler` with every unit state change and job result from now on; returns a token for
    /// `unsubscribe`. The handler runs on the manager's thread, inside the event that caused it: it must not
    /// block (queue the event and write it out later, as the control server does).
    public func subscribe(_ handler: @escaping (EngineEvent) -> Void) -> UInt64 { observers.add(handler) }

    public func unsubscribe(_ token: UInt64) { observers.remove(token) }

    func publishState(_ unit: Unit) {
        guard !observers.isEmpty else { return }
        observers.publish(.unitChanged(unit: unit.name.description, activeState: unit.activeState,
                                       subState: unit.subState, result: unit.machine?.result.rawValue ?? "success"))
    }

    // MARK: - Queries

    /// The realtime (µs since the epoch) of a monotonic instant.
    public func realtime(of t: MonotonicInstant) -> UInt64 {
        let now = Posix.monotonicNow
        let rt = Posix.realtimeMicroseconds
        return rt &- now.usec(since: t)
    }


    /// Whether a unit is enabled: a link to it in some `*.wants/` or `*.requires/` directory of the unit paths.
    public func enablement(_ unit: Unit) -> String {
        if let cached = unit.enablementCache { return cached }
        let state = computeEnablement(unit)
        unit.enablementCache = state
        return state
    }

    private func computeEnablement(_ unit: Unit) -> String {
        guard let config = unit.config else { return "static" }
        if UnitInstaller.isLinked(unit.name.description, unitPaths: options.unitPaths, hint: config) { return "enabled" }
        if config.wantedBy.isEmpty && config.requiredBy.isEmpty && config.alias.isEmpty { return "static" }
        return "disabled"
    }
}
