import Glibc
import TendModel
import TendSystem

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

/// The manager: the engine's facade. It owns the unit registry, the job engine, the process tracker, the notify
/// receiver and the log store, turns what they report into state-machine events and carries out the effects
/// the machines emit. One thread (the reactor's); nothing here is shared.
///
/// Everything it does to the operating system goes through `system` and `loop`, so unit tests run it on a fake
/// system with a manual clock (Tests/TendTestSupport).
public final class Manager {
    public let options: ManagerOptions
    public let system: any System
    public let loop: any Reactor
    let registry: UnitRegistry
    let tracker: ProcessTracker
    let notify: NotifyReceiver
    private let exec: ExecContext
    var shuttingDown = false
    var shutdownFinished = false
    let shutdownState = ShutdownState()
    let startup = StartupState()
    var shuttingDownForJobs: Bool { shuttingDown }
    /// Jobs, dependencies and targets (Jobs/JobScheduler.swift).
    public private(set) lazy var jobs = JobScheduler(host: self)
    /// Every timer unit's next elapse behind one deadline (Timers/Timers.swift).
    private(set) lazy var timers = TimerScheduler(manager: self)
    /// The local time zone, for OnCalendar= expressions without one.
    lazy var localZone = ZoneInfo.local(environment: system.environment["TZ"])
    let observers = EngineObservers()
    /// Called once shutdown is complete (all units inactive).
    public var onShutdownComplete: (() -> Void)?
    /// Where the manager's own messages go besides its log (`LOG_DIR/tend/`): nowhere by default; `tendd` sends
    /// them to stderr through swift-log. The engine itself prints nothing.
    public var logHandler: (LogLevel, String) -> Void = { _, _ in }
    /// The read buffer every log sink shares.
    private let logScratch = ScratchBuffer(size: 65536)
    /// The log store's writer thread, and the manager's own log (`LOG_DIR/tend/`).
    public let logWriter: LogWriter
    private var managerLog: LogSink!
    /// The manager's own messages are rate-limited like a unit's log (journald's default for a unit: 10,000 per
    /// 30 s), so a crash loop without a start limit can't fill a disk through the manager's stderr.
    public var messageLimit = MessageRateLimit()

    /// Every unit known, by name.
    public var units: [String: Unit] { registry.units }
    /// Every unit, sorted by name.
    public var sortedUnits: [Unit] { registry.sorted }

    /// The manager on Linux: the real system and an epoll loop.
    public convenience init(options: ManagerOptions) throws {
        try self.init(options: options, system: RealSystem(), reactor: try EventLoop())
    }

    public init(options: ManagerOptions, system: any System, reactor: any Reactor) throws {
        self.options = options
        self.system = system
        self.loop = reactor
        let env = system.environment
        registry = UnitRegistry(unitPaths: options.unitPaths, environment: env)
        tracker = ProcessTracker(system: system, reactor: reactor)
        notify = NotifyReceiver(system: system, reactor: reactor, tracker: tracker, stateDir: options.stateDir)
        exec = ExecContext(system: system, managerEnvironment: env,
                           defaultWorkingDirectory: system.isRoot ? "/" : (env["HOME"] ?? "/"),
                           defaultFileLimit: options.serviceFileLimit, privateRoot: options.stateDir + "/private")
        logWriter = try LogWriter()
        managerLog = LogSink(unit: "tend", settings: options.logDefaults.settings(directory: options.logDir + "/tend"),
                             capture: options.logDefaults.capture, writer: logWriter, loop: reactor, scratch: logScratch)
        observeRecords(managerLog)
        tracker.onEvent = { [unowned self] unit, event in self.dispatch(unit, event) }
        tracker.beforeExit = { unit in unit.log?.drainAll() }
        notify.onEvent = { [unowned self] unit, event in self.dispatch(unit, event) }
        notify.report = { [unowned self] level, message in self.report(level, message) }
    }

    /// The scanned service directories (Scan/ServiceScanner.swift), if any.
    var scanner: ServiceScanner?

    /// The holder this manager's descriptors outlive it in (`attach(holder:)`), if any.
    public internal(set) var holder: Holder?

    /// The manager's messages: into its own log and to `logHandler`.
    public func report(_ level: LogLevel, _ message: String) {
        let (allowed, ended) = messageLimit.admit(now: system.monotonicNow)
        if ended > 0 { reportSuppressed(ended) }
        guard allowed else {
            if messageLimit.suppressed == 1, let end = messageLimit.windowEnd {
                // Said when the window ends even if the manager has nothing more to say then.
                loop.setDeadline(ObjectIdentifier(self), slot: 0, at: end) { [unowned self] in
                    let n = self.messageLimit.endWindow()
                    if n > 0 { self.reportSuppressed(n) }
                }
            }
            return
        }
        emit(level, message)
    }

    private func emit(_ level: LogLevel, _ message: String) {
        managerLog.note(level == .info || level == .debug ? message : "\(level.rawValue): \(message)")
        logHandler(level, message)
    }

    private func reportSuppressed(_ n: Int) {
        loop.cancelDeadline(ObjectIdentifier(self), slot: 0)
        emit(.warning, "Suppressed \(n) messages of the manager (rate limit: \(messageLimit.burst) per \(messageLimit.interval)).")
    }

    /// Writes what the log writer still holds and stops it (at exit).
    public func finishLogs() {
        managerLog.flushPartial()
        for unit in units.values { unit.log?.drainAll() }
        logWriter.stop()
    }

    /// The unit's live processes: the members of its sessions, and the processes it watches by pidfd.
    public func processes(of unit: Unit) -> [ProcessInfo] { tracker.processes(of: unit) }

    /// The directory of a unit's log.
    public func logDirectory(_ unit: Unit) -> String { options.logDir + "/" + unit.name.description }

    /// The unit's log sink, created on first use with its settings.
    func sink(_ unit: Unit) -> LogSink {
        if let s = unit.log { return s }
        var d = options.logDefaults
        if let c = unit.config { d.apply(c) }
        let s = LogSink(unit: unit.name.description, settings: d.settings(directory: logDirectory(unit)),
                        capture: d.capture, writer: logWriter, loop: loop, scratch: logScratch)
        observeRecords(s)
        if let holder {
            let name = unit.name.description
            s.onPipesOpened = { fds in holder.hold("log \(name)", fds) }  // held as "log NAME 0" ... "log NAME 3"
        }
        unit.log = s
        return s
    }

    private func observeRecords(_ sink: LogSink) {
        sink.onRecords = { [unowned self] unit, chunk in
            if self.observers.wantLogs { self.observers.publishLogs(unit, chunk) }
        }
    }

    /// Manager-wide notify counters (`tend show` of the manager, benchmarks).
    public var notifyTotals: (accepted: Int, rejected: Int, malformed: Int) { notify.totals }

    // MARK: - Lifecycle

    /// The signals the manager handles through its signalfd. Block them before any thread exists.
    public static let handledSignals: [Int32] = [SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2]

    /// Sets up signals and the subreaper flag, loads every unit and starts them.
    public func boot() throws {
        try system.handleSignals(Manager.handledSignals, reactor: loop) { [unowned self] sig in self.handleSignal(sig) }
        if !system.becomeSubreaper() {
            logHandler(.warning, "Failed to become a child subreaper; daemons that double-fork won't be reaped.")
        }
        try system.makeDirectories(options.stateDir, mode: 0o755)
        try? system.makeDirectories(options.logDir, mode: 0o755)
        registry.loadAll(now: system.monotonicNow)
        setUpScanning()
        adoptFromHolder()
        jobs.invalidate()
        if options.startAll {
            jobs.bootStart(target: options.defaultTarget)
            startScannedServices()
        }
        loop.afterEvents { [unowned self] in self.checkStartupFinished() }
        scheduleCommand()
    }

    public func run() { loop.run() }

    /// A signal the manager handles: SIGCHLD reaps, SIGTERM/SIGINT shut down, SIGHUP reloads.
    public func handleSignal(_ sig: Int32) {
        switch sig {
        case SIGCHLD: tracker.reapChildren()
        case SIGTERM, SIGINT: shutdown()
        case SIGHUP: if !forwardToCommand(sig) { reloadUnits() }
        case SIGUSR1, SIGUSR2: _ = forwardToCommand(sig)
        default: break
        }
    }

    // shutdown(exitStatus:force:) and its bound: Manager+Shutdown.swift.

    // MARK: - Loading

    /// Finds a unit by name (loading it on demand, as systemd loads units a command names).
    public func unit(named raw: String) -> Unit? { registry.lookup(raw, now: system.monotonicNow) }

    /// daemon-reload: re-read every unit file. Running units keep their processes; the new settings apply
    /// from their next start (as with systemd, where most settings take effect then).
    public func reloadUnits() {
        let count = registry.reload(now: system.monotonicNow) { unit in
            guard unit.loadState == .loaded, unit.isService, let config = unit.config, let log = unit.log else { return }
            var d = options.logDefaults
            d.apply(config)
            log.update(settings: d.settings(directory: logDirectory(unit)), capture: d.capture)
        }
        jobs.invalidate()
        report(.info, "Reloaded \(count) unit files.")
    }

    /// `tend cat`: the unit's files as loaded.
    public func catText(_ raw: String) -> String? { registry.catText(raw) }

    // MARK: - Jobs (from clients)

    /// Queues a job of any kind through the job engine (dependencies, ordering, restart propagation), as
    /// systemd sends every request through its job queue. `completion` gets nil when the job is done, or why
    /// it was refused or failed. With `wait` false the client hears only of a refusal (which is synchronous),
    /// not of the job.
    public func submit(_ kind: JobKind, unit raw: String, wait: Bool = true, completion: @escaping (JobFailure?) -> Void) {
        if let name = UnitName(parsing: raw), name.isTemplate, kind != .stop {
            completion(JobFailure(.badUnitName, "Unit name \(name) is missing the instance name (\(name.prefix)@INSTANCE.\(name.suffix))."))
            return
        }
        guard let unit = unit(named: raw) else {
            completion(JobFailure(.unitNotFound, "Unit \(UnitName(parsing: raw)?.description ?? raw) not found."))
            return
        }
        // A unit whose file is masked or broken can still be stopped, as in systemd.
        guard unit.loadState == .loaded || kind == .stop && unit.activeState != .inactive, unit.isService || unit.hasNoProcesses else {
            completion(JobFailure(.badSetting, unit.badSettingMessage))
            return
        }
        if shuttingDown && kind != .stop {
            completion(JobFailure(.shuttingDown, "The manager is shutting down."))
            return
        }
        var answered = false
        jobs.submit(kind, unit.name.description) { result, message in
            guard !answered else { return }
            answered = true
            if result == .done || !wait && result == .canceled {
                completion(nil)
            } else {
                completion(JobFailure(.job(result), message ?? "Job for \(unit.name) failed."))
            }
        }
        if !answered && !wait {
            answered = true
            completion(nil)
        }
    }

    /// `reload-or-restart`: a reload if the unit is active and can reload, else a restart (systemd's
    /// JOB_RELOAD_OR_START collapse).
    public func reloadOrRestartKind(_ raw: String) -> JobKind {
        guard let u = unit(named: raw), u.activeState == .active, let c = u.config else { return .restart }
        return !c.execReload.isEmpty || c.type == .notifyReload ? .reload : .restart
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
                case .oomKill: msg += "the kernel's OOM killer ended a process of it (memory limit reached)"
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
        // An active unit may have no process at all (a oneshot with RemainAfterExit=): systemctl fails then too.
        if who == .all && m.mainPID == nil && m.controlPID == nil && tracker.processes(of: u).isEmpty {
            throw ManagerError("No process of \(u.name) to signal.")
        }
        tracker.signal(u, who, signal)
    }

    // MARK: - Dispatch

    /// Feeds an event to a unit's machine and carries out the effects, with the events they produce.
    func dispatch(_ unit: Unit, _ first: ServiceEvent) {
        guard let service = unit.service else { return }
        var queue: [ServiceEvent] = [first]
        var index = 0
        while index < queue.count {
            let event = queue[index]
            index += 1
            let before = service.machine.state
            let effects = service.machine.handle(event, now: system.monotonicNow)
            let after = service.machine.state
            for fx in effects { perform(unit, fx, queue: &queue) }
            if before != after { stateChanged(unit, from: before, to: after) }
            if index == queue.count, let extra = tracker.checkProcessesGone(unit) { queue.append(extra) }
        }
        if service.machine.state == .dead || service.machine.state == .failed, !unit.fdStore.isEmpty {
            notify.emptyStore(unit)
        }
        if holder != nil { syncHeldMain(unit) }
        checkShutdownComplete()
    }

    func perform(_ unit: Unit, _ fx: ServiceEffect, queue: inout [ServiceEvent]) {
        switch fx {
        case .spawn(let role, let kind, let command):
            queue.append(spawn(unit, role, kind, command))
        case .kill(let target, let sig):
            tracker.signal(unit, target, sig)
        case .armTimer(let at):
            loop.setDeadline(ObjectIdentifier(unit), slot: 0, at: at) { [unowned self] in self.dispatch(unit, .timer) }
        case .cancelTimer:
            loop.cancelDeadline(ObjectIdentifier(unit), slot: 0)
        case .armWatchdog(let at):
            loop.setDeadline(ObjectIdentifier(unit), slot: 1, at: at) { [unowned self] in self.dispatch(unit, .watchdogTimer) }
        case .cancelWatchdog:
            loop.cancelDeadline(ObjectIdentifier(unit), slot: 1)
        case .resolveMainPID:
            if let pid = tracker.resolveMainPID(unit) {
                queue.append(.mainPIDResolved(pid))
            } else if let path = unit.config?.pidFile,
                tracker.awaitPIDFile(unit, { [unowned self] pid in self.dispatch(unit, .mainPIDResolved(pid)) }) {
                // As systemd: the daemon may write its PID file after its parent exited; wait for it until the
                // start times out.
                note(unit, .info, "PID file \(path) not readable (yet?) after start.")
            } else {
                queue.append(.mainPIDResolved(nil))
            }
        case .jobFinished(let type, let ok):
            jobs.machineJobFinished(unit, type, ok)
        case .log(let level, let message):
            note(unit, level, message)
        }
    }

    /// A message about one unit, in the manager's log and the unit's own; debug ones only to `logHandler`
    /// (the end of a process the manager itself signalled is not news, as in systemd).
    func note(_ unit: Unit, _ level: LogLevel, _ message: String) {
        if level == .debug { return logHandler(level, "\(unit.name): \(message)") }
        report(level, "\(unit.name): \(message)")
        unit.log?.note(message)
    }

    func stateChanged(_ unit: Unit, from: ServiceState, to: ServiceState) {
        if to != .start, unit.pidFileWatch != nil { tracker.cancelPIDFileWatch(unit) }
        // As systemd's service_enter_dead: the PID file is out of date once the service is down.
        if to == .dead || to == .failed || to == .autoRestart, let path = unit.config?.pidFile { _ = unlink(path) }
        if to == .dead || to == .failed || to == .autoRestart, let config = unit.config {
            system.serviceStopped(config, privateDirectory: exec.privateDirectory(unit), restarting: to == .autoRestart)
        }
        publishState(unit)
        emergencyCheck(unit, from: from, to: to)
        jobs.unitStateChanged(unit, from: from, to: to)
        tracker.stateChanged(unit, to: to)
        if let main = unit.service?.machine.mainPID { unit.log?.currentPID = main }
        if unit.directory != nil { directoryStateChanged(unit, to: to) }
    }

    // MARK: - Processes

    private func spawn(_ unit: Unit, _ role: ProcessRole, _ kind: CommandKind, _ command: ExecCommand) -> ServiceEvent {
        guard let m = unit.machine else { return .spawnFailed(role, errno: EINVAL) }
        let prepared = exec.prepare(unit, m, role, kind, command, logPipes: {
            let log = self.sink(unit)
            try log.openPipes()
            return (log.stdoutWrite, log.stderrWrite)
        }, notifySocket: { self.notify.socketPath(unit) })
        _ = sink(unit)
        let context: ExecContext.Prepared
        switch prepared {
        case .failure(let e):
            for fd in e.opened { system.close(fd) }
            unit.lastSetupError = e.message
            report(.error, "\(unit.name): \(e.message)")
            return .spawnFailed(role, errno: EIO)
        case .success(let c):
            context = c
        }
        var request = context.request
        var opened = context.opened
        // s6's notification-fd: the write end of a readiness pipe as descriptor N of `run`.
        if role == .main, kind == .execStart, let n = m.config.readinessFD, let w = readinessPipe(unit, fd: n) {
            request.passedFDs = [Int32](repeating: -1, count: Int(n) - 3) + [w]
            opened.append(w)
        }
        defer { for fd in opened { system.close(fd) } }
        // The cgroup's OOM count before the process exists (none yet for a new cgroup): a process OOM-killed
        // at once is then still told from a kill -9 when its exit is read.
        let oomBefore = role == .main || unit.service?.machine.mainPID == nil
            ? system.cgroupOOMKills(unit.name.description) ?? 0 : nil
        do {
            let (p, setupError) = try system.spawn(request)
            tracker.track(p, unit: unit, role: role)
            if let oomBefore { unit.oomKillsSeen = oomBefore }
            if let setupError {
                unit.lastSetupError = setupError
                report(.error, "\(unit.name): \(setupError)")
                unit.log?.note(setupError)
            } else if role == .main {
                unit.lastSetupError = nil
            }
            // Lines are stamped with the main process, or the command running while there is none (ExecStartPre=).
            if role == .main || unit.service?.machine.mainPID == nil { unit.log?.currentPID = p.pid }
            unit.log?.identifier = m.config.syslogIdentifier.flatMap { $0.isEmpty ? nil : $0 }
            if role == .main {
                for note in system.limitNotes(m.config) {
                    report(.warning, "\(unit.name): \(note)")
                    unit.log?.note(note)
                }
            }
            return .spawned(role, pid: p.pid, setupFailed: p.failedStage != 0)
        } catch {
            let message = "Failed to spawn '\(kind.rawValue)' task: \(error)"
            unit.lastSetupError = message
            report(.error, "\(unit.name): \(message)")
            unit.log?.note(message)
            return .spawnFailed(role, errno: (error as? SpawnError)?.errno ?? EIO)
        }
    }

    // MARK: - Observers

    /// Calls `handler` with every unit state change and job result from now on; returns a token for
    /// `unsubscribe`. The handler runs on the manager's thread, inside the event that caused it: it must not
    /// block (queue the event and write it out later, as the control server does).
    public func subscribe(_ handler: @escaping (EngineEvent) -> Void) -> UInt64 { observers.add(handler) }

    public func unsubscribe(_ token: UInt64) { observers.remove(token) }

    /// Calls `handler` with every chunk of log records any unit's log (and the manager's own, as unit `tend`)
    /// is given from now on: whole records, newline-terminated, in the store's format (`LogFormat`). Same rules
    /// as `subscribe`; `unsubscribe` ends it. Costs nothing while no one listens.
    public func subscribeLogs(_ handler: @escaping (String, [UInt8]) -> Void) -> UInt64 { observers.addLogs(handler) }


    func publishState(_ unit: Unit) {
        timers.stateChanged(unit)
        guard !observers.isEmpty else { return }
        observers.publish(.unitChanged(unit: unit.name.description, activeState: unit.activeState,
                                       subState: unit.subState, result: unit.service?.machine.result.rawValue ?? "success"))
    }

    // MARK: - Queries

    /// The realtime (µs since the epoch) of a monotonic instant.
    public func realtime(of t: MonotonicInstant) -> UInt64 {
        let now = system.monotonicNow
        let rt = system.realtimeMicroseconds
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
