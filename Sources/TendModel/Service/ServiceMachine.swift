import RealModule

/// One service's lifecycle as a pure transition function, after systemd's `src/core/service.c`.
///
/// Longer than our usual ~500 lines on purpose: one transition function over one private state, read like
/// service.c from top to bottom. Split across files, its private fields (the run's jobs, intent, command index,
/// start limit) would have to become visible to the whole module.
///
/// States: see `ServiceState`. Each command chain (ExecStartPre=, ExecStop=, ...) is a state, and so is each
/// kill step and the wait before an automatic restart, so a stop timeout is simply "timer fired in
/// stop-sigterm". Why a run ended is kept apart from the state, in `result`; the first failure of a run wins.
///
/// Desired vs current state: requests (`start`, `stop`, `restart`, `reload`) are events like process exits.
/// A stop interrupts anything (a start in progress, a reload, a pending automatic restart); a start during a
/// stop is remembered and carried out once the service is down; a start of an active service does nothing.
///
/// Processes: at most one main process and one control process (the current ExecStartPre=/ExecStop=/...
/// command) are tracked here. Everything else a service starts is the runtime's business: in the kill
/// states the machine emits `.kill` and waits for `.allProcessesGone`, which the runtime sends once no
/// process of the service is left in the scope `awaitedProcesses` names.
///
/// Time is passed in with every event; deadlines go out as `.armTimer`. Nothing here reads a clock, sleeps
/// or touches the system.
public struct ServiceMachine: Sendable {
    public private(set) var config: ServiceConfig
    public private(set) var state: ServiceState = .dead
    public private(set) var result: ServiceResult = .success
    public private(set) var mainPID: Int32?
    public private(set) var controlPID: Int32?
    /// What the control process runs, for `tend status`.
    public private(set) var controlCommand: (kind: CommandKind, command: ExecCommand)?
    /// When the current state was entered.
    public private(set) var stateSince: MonotonicInstant
    /// When the unit last entered an active state and last left it (systemd's timestamps).
    public private(set) var activeEnterTimestamp: MonotonicInstant?
    public private(set) var inactiveEnterTimestamp: MonotonicInstant?
    /// `NRestarts=`: automatic restarts since the last manual start or reset-failed.
    public private(set) var restartCount = 0
    /// Automatic restarts by the result that caused them (`exit-code`, `signal`, `watchdog`, `timeout`, …; `success`
    /// for Restart=always after a clean exit), since the unit was loaded; never reset (tend web's metrics).
    public private(set) var restartsByCause: [String: Int] = [:]
    /// The last main process and how it ended (`ExecMainPID=`, `ExecMainCode=`, `ExecMainStatus=`).
    public private(set) var lastMainPID: Int32?
    public private(set) var lastMainExit: ExitCause?
    /// Processes of the current run that ended, oldest first (bounded).
    public private(set) var processLog: [ProcessRecord] = []
    /// The deadline armed, if any.
    public private(set) var deadline: MonotonicInstant?
    /// The watchdog deadline armed, if any, and the interval in force (WatchdogSec=, or WATCHDOG_USEC=).
    public private(set) var watchdogDeadline: MonotonicInstant?
    private var watchdogOverride: TimeSpan?
    public var watchdogInterval: TimeSpan { watchdogOverride ?? config.watchdog }

    /// Which command of the current chain runs (index into that chain).
    private var commandIndex = 0
    /// What the requests want of the unit, as one value (see `Intent`).
    public private(set) var intent: Intent = .auto
    /// The jobs in flight, each finished exactly once, by `finish(_:ok:)`.
    private var jobs = MachineJobs()
    /// Whether the last kill was sent while restarting (RestartKillSignal=).
    private var restarting = false
    /// Start rate limit (StartLimitIntervalSec=/StartLimitBurst=): begin of the window and starts in it.
    private var startLimitBegin: MonotonicInstant?
    private var startLimitCount = 0
    /// Steps of the exponential restart backoff taken (RestartSteps=); reset after a stable run.
    private var backoffStep = 0
    /// When the current run began (its first start attempt).
    private var runStartedAt: MonotonicInstant?
    /// The signal sent by the last kill step, so a death by exactly that signal counts as clean.
    private var lastKillSignal: Int32?

    /// daemon-reload: new settings apply from the next transition that reads them (a running process keeps
    /// running; the next start uses the new command lines).
    public mutating func updateConfig(_ new: ServiceConfig) { config = new }

    public init(config: ServiceConfig, now: MonotonicInstant) {
        self.config = config
        self.stateSince = now
    }

    /// The scope of processes the runtime must watch for `.allProcessesGone`, or nil outside kill states.
    /// KillMode=control-group: everything; mixed: everything once the final signal went out; process/none: main
    /// and control only.
    public var awaitedProcesses: KillTarget? {
        guard state.isKillState else { return nil }
        switch config.killMode {
        case .controlGroup: return .all
        case .mixed: return (state == .stopSigkill || state == .finalSigkill) ? .all : .main
        case .process, .none: return .main
        }
    }

    public var activeState: ActiveState { state.activeState }

    /// The delay before the next automatic restart: RestartSec=, growing towards RestartMaxDelaySec= over
    /// RestartSteps= restarts (systemd's exponential interpolation).
    public var nextRestartDelay: TimeSpan {
        let base = config.restartSec
        // As systemd's service_restart_usec_next(): RestartSec=0 means no backoff at all (0 × anything is 0).
        guard config.restartSteps > 0, base.usec > 0, !config.restartMaxDelay.isInfinite,
            config.restartMaxDelay > base
        else {
            return base
        }
        let step = min(backoffStep, config.restartSteps)
        if step >= config.restartSteps { return config.restartMaxDelay }
        let from = Double(base.usec)
        let to = Double(config.restartMaxDelay.usec)
        let fraction = Double(step) / Double(config.restartSteps)
        let value = (from * _pow(to / from, fraction)).rounded()
        // Between RestartSec= and RestartMaxDelaySec= in exact arithmetic; a Double that rounds past the
        // largest span (or is not a number) must not trap the conversion.
        guard value.isFinite, value < Double(UInt64.max) else { return config.restartMaxDelay }
        return TimeSpan(usec: Swift.min(Swift.max(UInt64(value), base.usec), config.restartMaxDelay.usec))
    }

    /// The manager was started again (after its own death, or daemon-reexec) and found this service's main
    /// process still running: the service is running again as it was, with its restart count. Returns the
    /// effects (the watchdog's deadline).
    public mutating func adopt(mainPID pid: Int32, restartCount count: Int, now: MonotonicInstant) -> [ServiceEffect] {
        var fx: [ServiceEffect] = []
        mainPID = pid
        restartCount = count
        result = .success
        intent = .auto
        runStartedAt = now
        enter(.running, now, &fx)
        armWatchdog(now, &fx)
        return fx
    }

    // MARK: - The transition function

    /// Feeds one event; returns what the runtime must do, in order.
    public mutating func handle(_ event: ServiceEvent, now: MonotonicInstant) -> [ServiceEffect] {
        var fx: [ServiceEffect] = []
        switch event {
        case .start: requestStart(now, &fx)
        case .stop: requestStop(now, &fx)
        case .restart: requestRestart(now, &fx)
        case .reload: requestReload(now, &fx)
        case .resetFailed:
            startLimitBegin = nil
            startLimitCount = 0
            restartCount = 0
            backoffStep = 0
            if state == .failed {
                result = .success
                enter(.dead, now, &fx)
            }
        case .spawned(let role, let pid, let setupFailed): spawned(role, pid, setupFailed, now, &fx)
        case .spawnFailed(let role, let err): spawnFailed(role, err, now, &fx)
        case .exited(let pid, let cause): exited(pid, cause, now, &fx)
        case .allProcessesGone: allGone(now, &fx)
        case .timer:
            guard let d = deadline, d <= now else { return fx }  // a stale timer: ignore
            deadline = nil
            timeout(now, &fx)
        case .mainPIDResolved(let pid): mainPIDResolved(pid, now, &fx)
        case .notify(let n): notify(n, now, &fx)
        case .watchdogTimer:
            guard let d = watchdogDeadline, d <= now else { return fx }
            watchdogDeadline = nil
            watchdogExpired(now, &fx)
        case .oomKilled: oomKilled(now, &fx)
        }
        return fx
    }

    // MARK: Requests

    private mutating func requestStart(_ now: MonotonicInstant, _ fx: inout [ServiceEffect]) {
        switch state.activeState {
        case .active, .reloading:
            emitJobFinished(.start, ok: true, &fx)
        case .activating where state != .autoRestart:
            acceptUpJob()  // finishes with the start in progress
        case .deactivating:
            intent = .upAfterStop
            acceptUpJob()
        case .inactive, .failed, .activating:
            // A manual start begins a new series: the restart counter and the backoff start over.
            restartCount = 0
            backoffStep = 0
            acceptUpJob()
            beginStart(now, &fx, automatic: false)
        }
    }

    private mutating func requestStop(_ now: MonotonicInstant, _ fx: inout [ServiceEffect]) {
        intent = .down
        // The start (or restart) in progress or waiting is cancelled; its job ends with its own type.
        finish(.start, ok: false, &fx)
        finish(.reload, ok: false, &fx)
        switch state {
        case .dead, .failed:
            emitJobFinished(.stop, ok: true, &fx)
        case .autoRestart:
            // systemd's service_stop(): the pending restart is given up and the unit is simply dead, not
            // failed; Result= still says how the last run ended. Entering dead cancels the restart timer.
            enter(.dead, now, &fx)
            inactiveEnterTimestamp = now
            emitJobFinished(.stop, ok: true, &fx)
        case .stop, .stopWatchdog, .stopSigterm, .stopSigkill, .stopPost, .finalSigterm, .finalSigkill:
            jobs.stop = true
        case .startPre, .start, .startPost, .reload:
            // Something is still running that ExecStop= can't expect (a start not finished, a reload):
            // systemd's service_stop() goes straight to killing, skipping ExecStop=.
            jobs.stop = true
            enterSignal(.stopSigterm, .success, now, &fx)
        case .running, .exited:
            jobs.stop = true
            enterStop(.success, now, &fx)
        }
    }

    private mutating func requestRestart(_ now: MonotonicInstant, _ fx: inout [ServiceEffect]) {
        switch state.activeState {
        case .inactive, .failed:
            acceptUpJob(.restart)
            requestStart(now, &fx)
        default:
            // A start or restart in progress (or waiting for a stop) is replaced by this restart: its job is
            // cancelled, as systemd cancels a replaced job, so that every job ends exactly once.
            finish(.start, ok: false, &fx)
            if state == .autoRestart {
                cancelTimer(&fx)
                acceptUpJob(.restart)
                beginStart(now, &fx, automatic: false)
                return
            }
            restarting = true
            // Set before stopping: with nothing to wait for (KillMode=none) the stop reaches dead at once,
            // and dead must find the start it has to carry out; the stop half must not end the job.
            intent = .upAfterStop
            acceptUpJob(.restart)
            if state.activeState != .deactivating {
                switch state {
                case .startPre, .start, .startPost, .reload: enterSignal(.stopSigterm, .success, now, &fx)
                default: enterStop(.success, now, &fx)
                }
            }
        }
    }

    private mutating func requestReload(_ now: MonotonicInstant, _ fx: inout [ServiceEffect]) {
        guard state == .running || state == .exited else {
            emitJobFinished(.reload, ok: false, &fx)
            fx.append(.log(.warning, "Reload requested while the service is \(state.activeState.rawValue), ignoring."))
            return
        }
        if config.type == .notifyReload && state == .running && mainPID != nil {
            // Type=notify-reload: ReloadSignal= to the main process, then wait for RELOADING=1 and READY=1.
            jobs.reload = true
            enter(.reload, now, &fx)
            armTimer(now + config.timeoutStart, &fx)
            fx.append(.kill(.main, signal: config.reloadSignal))
            return
        }
        guard !config.execReload.isEmpty else {
            emitJobFinished(.reload, ok: false, &fx)
            fx.append(.log(.warning, "Job type reload is not applicable: no ExecReload= set."))
            return
        }
        jobs.reload = true
        enter(.reload, now, &fx)
        commandIndex = 0
        runControl(.execReload, config.execReload, now, &fx)
    }

    // MARK: Starting

    private mutating func beginStart(_ now: MonotonicInstant, _ fx: inout [ServiceEffect], automatic: Bool) {
        if !checkStartLimit(now) {
            fx.append(.log(.error, "Start request repeated too quickly."))
            result = .startLimitHit
            finishStartJob(ok: false, &fx)
            enter(.failed, now, &fx)
            inactiveEnterTimestamp = now
            fx.append(.log(.error, "Failed with result 'start-limit-hit'."))
            return
        }
        runStartedAt = now
        result = .success
        intent = .auto
        mainPID = nil
        controlPID = nil
        lastKillSignal = nil
        restarting = false
        if config.execStartPre.isEmpty {
            enterStart(now, &fx)
        } else {
            enter(.startPre, now, &fx)
            commandIndex = 0
            armTimer(now + config.timeoutStart, &fx)
            runControl(.execStartPre, config.execStartPre, now, &fx)
        }
    }

    /// The start rate limit: at most StartLimitBurst= starts per StartLimitIntervalSec=; 0 disables it.
    private mutating func checkStartLimit(_ now: MonotonicInstant) -> Bool {
        guard config.startLimitInterval.usec > 0, config.startLimitBurst > 0 else { return true }
        if let begin = startLimitBegin, now < begin + config.startLimitInterval {
            if startLimitCount >= config.startLimitBurst { return false }
            startLimitCount += 1
            return true
        }
        startLimitBegin = now
        startLimitCount = 1
        return true
    }

    private mutating func enterStart(_ now: MonotonicInstant, _ fx: inout [ServiceEffect]) {
        enter(.start, now, &fx)
        commandIndex = 0
        guard let first = config.execStart.first else {
            // Type=oneshot with no ExecStart= (only ExecStop=): nothing to run.
            enterStartPost(now, &fx)
            return
        }
        if config.type == .oneshot {
            armTimer(now + config.timeoutStart, &fx)
        } else if config.type == .forking || config.type == .exec || config.type == .notify
            || config.type == .notifyReload
        {
            armTimer(now + config.timeoutStart, &fx)
        }
        fx.append(.spawn(.main, .execStart, first))
    }

    private mutating func enterStartPost(_ now: MonotonicInstant, _ fx: inout [ServiceEffect]) {
        guard !config.execStartPost.isEmpty else {
            enterRunning(.success, now, &fx)
            return
        }
        enter(.startPost, now, &fx)
        commandIndex = 0
        armTimer(now + config.timeoutStart, &fx)
        runControl(.execStartPost, config.execStartPost, now, &fx)
    }

    /// The start is complete, or a reload ended: decide between running, exited and stopping.
    private mutating func enterRunning(_ f: ServiceResult, _ now: MonotonicInstant, _ fx: inout [ServiceEffect]) {
        setResult(f)
        if result != .success {
            // As systemd's service_enter_running(): a run that failed (the main process crashed, or died
            // during start-post/reload) goes straight to killing; ExecStop= is for services that are
            // stopped, ExecStopPost= still runs.
            enterSignal(.stopSigterm, result, now, &fx)
            return
        }
        if mainPID != nil || (config.type == .forking && !config.guessMainPID && config.pidFile == nil) {
            let wasActive = state.activeState == .active || state == .reload
            enter(.running, now, &fx)
            if !config.runtimeMax.isInfinite, let since = activeEnterTimestamp {
                armTimer(since + config.runtimeMax, &fx)
            }
            if !wasActive { fx.append(.log(.info, "Started.")) }
            // The watchdog runs once start-up is complete (systemd.service(5), WatchdogSec=).
            armWatchdog(now, &fx)
            finishStartJob(ok: true, &fx)
        } else if config.remainAfterExit {
            let wasActive = state.activeState == .active || state == .reload
            enter(.exited, now, &fx)
            if !wasActive { fx.append(.log(.info, "Finished start; remaining active (RemainAfterExit=yes).")) }
            finishStartJob(ok: true, &fx)
        } else {
            // The main process is gone already (a oneshot, or a daemon that exited during start-post).
            if config.type == .oneshot { finishStartJob(ok: true, &fx) }
            enterStop(.success, now, &fx)
        }
    }

    // MARK: Stopping

    private mutating func enterStop(_ f: ServiceResult, _ now: MonotonicInstant, _ fx: inout [ServiceEffect]) {
        setResult(f)
        finish(.reload, ok: false, &fx)
        guard !config.execStop.isEmpty, didReachActive || state == .startPost || state == .reload else {
            enterSignal(.stopSigterm, .success, now, &fx)
            return
        }
        enter(.stop, now, &fx)
        commandIndex = 0
        armTimer(now + config.timeoutStop, &fx)
        runControl(.execStop, config.execStop, now, &fx)
    }

    /// ExecStop= runs only for a service that started successfully (systemd.service(5)).
    private var didReachActive: Bool { state == .running || state == .exited }

    private mutating func enterSignal(
        _ target: ServiceState, _ f: ServiceResult, _ now: MonotonicInstant, _ fx: inout [ServiceEffect]
    ) {
        setResult(f)
        finishStartJob(ok: false, &fx)
        // A reload interrupted by killing (a stop or restart request, the main process dying) failed.
        finish(.reload, ok: false, &fx)
        enter(target, now, &fx)
        let signal: Int32
        switch target {
        case .stopWatchdog: signal = config.watchdogSignal
        case .stopSigterm, .finalSigterm: signal = restarting ? (config.restartKillSignal ?? config.killSignal) : config.killSignal
        default: signal = config.finalKillSignal
        }
        lastKillSignal = signal
        let isFinal = target == .stopSigkill || target == .finalSigkill
        var sent = false
        switch config.killMode {
        case .none:
            break
        case .process:
            if mainPID != nil || controlPID != nil { sent = true }
            if mainPID != nil { fx.append(.kill(.main, signal: signal)) }
            if controlPID != nil { fx.append(.kill(.control, signal: signal)) }
        case .mixed where !isFinal:
            sent = true
            if mainPID != nil { fx.append(.kill(.main, signal: signal)) }
            if controlPID != nil { fx.append(.kill(.control, signal: signal)) }
        case .controlGroup, .mixed:
            sent = true
            fx.append(.kill(.all, signal: signal))
        }
        if sent && signal != 9 && signal != 18 {
            // A stopped process can't act on SIGTERM: wake it (systemd sends SIGCONT after the kill signal).
            fx.append(.kill(awaitedProcesses ?? .all, signal: 18))
            if config.sendSIGHUP && !isFinal { fx.append(.kill(awaitedProcesses ?? .all, signal: 1)) }
        }
        if !sent {
            // KillMode=none, or nothing to signal: move on at once.
            afterKillStep(now, &fx)
            return
        }
        armTimer(now + (target == .stopWatchdog ? config.effectiveTimeoutAbort : config.timeoutStop), &fx)
    }

    /// The processes are gone (or nothing was signalled): the next step after a kill state.
    private mutating func afterKillStep(_ now: MonotonicInstant, _ fx: inout [ServiceEffect]) {
        switch state {
        case .stopWatchdog, .stopSigterm, .stopSigkill: enterStopPost(now, &fx)
        case .finalSigterm, .finalSigkill: enterDead(result, now, &fx, allowRestart: true)
        default: assertionFailure("a kill step ended in \(state), which is not a kill state")
        }
    }

    private mutating func enterStopPost(_ now: MonotonicInstant, _ fx: inout [ServiceEffect]) {
        guard !config.execStopPost.isEmpty else {
            enterSignal(.finalSigterm, .success, now, &fx)
            return
        }
        enter(.stopPost, now, &fx)
        commandIndex = 0
        armTimer(now + config.timeoutStop, &fx)
        runControl(.execStopPost, config.execStopPost, now, &fx)
    }

    private mutating func enterDead(
        _ f: ServiceResult, _ now: MonotonicInstant, _ fx: inout [ServiceEffect], allowRestart: Bool
    ) {
        setResult(f)
        let restart = allowRestart && intent == .auto && shouldRestart()
        let wasRunLong = runLongEnoughToResetBackoff(now)
        mainPID = nil
        controlPID = nil
        controlCommand = nil
        lastKillSignal = nil
        finishStartJob(ok: config.type == .oneshot && result == .success && !restart, &fx)
        finish(.stop, ok: true, &fx)
        if result == .success {
            enter(.dead, now, &fx)
            fx.append(.log(.info, "Deactivated successfully."))
        } else {
            enter(.failed, now, &fx)
            fx.append(.log(.warning, "Failed with result '\(result.rawValue)'."))
        }
        inactiveEnterTimestamp = now
        if intent == .upAfterStop {
            intent = .auto
            restartCount = 0
            backoffStep = 0
            acceptUpJob()
            beginStart(now, &fx, automatic: false)
            return
        }
        if restart {
            if wasRunLong { backoffStep = 0 }
            var delay = nextRestartDelay
            // runsv: a `run` that lived less than a second is started again after a pause, not at once.
            if config.shortRunPause.usec > 0, let run = runStartedAt, now.usec(since: run) < 1_000_000 {
                delay = Swift.max(delay, config.shortRunPause)
            }
            backoffStep += 1
            enter(.autoRestart, now, &fx)
            // Counted when scheduled, so NRestarts and the log agree from this moment on.
            restartCount += 1
            restartsByCause[result.rawValue, default: 0] += 1
            fx.append(.log(.info, "Scheduled restart job in \(delay), restart counter is at \(restartCount)."))
            armTimer(now + delay, &fx)
        }
    }

    /// The backoff of RestartSteps= starts over once a run stayed up longer than RestartMaxDelaySec=
    /// (or, when that is unset, StartLimitIntervalSec=, default 10 s): a service that ran stably and then
    /// failed once is restarted after RestartSec= again, not after the longest delay.
    private func runLongEnoughToResetBackoff(_ now: MonotonicInstant) -> Bool {
        guard let since = activeEnterTimestamp, let run = runStartedAt, since >= run else { return false }
        let stable = config.restartMaxDelay.isInfinite ? config.startLimitInterval : config.restartMaxDelay
        guard stable.usec > 0 else { return false }
        return now.usec(since: since) >= stable.usec
    }

    /// systemd's `service_shall_restart`: the policy table of systemd.service(5), after
    /// RestartPreventExitStatus= and RestartForceExitStatus=.
    /// systemd's service_notify_cgroup_oom_event: `continue` only says so; `stop` stops the service (SIGTERM
    /// to the rest), `kill` kills it at once; either way with result oom-kill.
    private mutating func oomKilled(_ now: MonotonicInstant, _ fx: inout [ServiceEffect]) {
        fx.append(.log(.warning, "A process of this unit has been killed by the OOM killer."))
        guard config.oomPolicy != .continue else { return }
        switch state {
        case .startPre, .start, .startPost, .running, .reload, .exited:
            enterSignal(config.oomPolicy == .kill ? .stopSigkill : .stopSigterm, .oomKill, now, &fx)
        case .stop, .stopWatchdog, .stopSigterm, .stopSigkill, .stopPost, .finalSigterm, .finalSigkill:
            setResult(.oomKill)
        case .dead, .failed, .autoRestart:
            break
        }
    }

    private func shouldRestart() -> Bool {
        if result == .startLimitHit { return false }
        if result == .oomKill && config.restartPreventExitStatus.oomKill { return false }
        if result == .oomKill && config.restartForceExitStatus.oomKill { return true }
        if let exit = lastMainExit, ServiceMachine.matches(config.restartPreventExitStatus, exit) { return false }
        if let exit = lastMainExit, ServiceMachine.matches(config.restartForceExitStatus, exit) { return true }
        return ServiceMachine.policyRestarts(config.restart, result: result)
    }

    /// The `Restart=` table of systemd.service(5): which results restart under which policy.
    public static func policyRestarts(_ policy: RestartPolicy, result: ServiceResult) -> Bool {
        switch policy {
        case .no: return false
        case .always: return true
        case .onSuccess: return result == .success
        case .onFailure: return result != .success
        case .onAbnormal: return result != .success && result != .exitCode
        case .onWatchdog: return result == .watchdog
        case .onAbort: return result == .signal || result == .coreDump
        }
    }

    static func matches(_ set: ExitStatusSet, _ cause: ExitCause) -> Bool {
        switch cause {
        case .exited(let s): return set.statuses.contains(s)
        case .killed(let sig), .dumped(let sig): return set.signals.contains(sig)
        }
    }

    /// A clean exit (systemd's `is_clean_exit`): status 0 or one of SuccessExitStatus=; for daemons (not
    /// for commands) also death by SIGHUP, SIGINT, SIGTERM or SIGPIPE.
    public static func isClean(_ cause: ExitCause, success: ExitStatusSet, daemon: Bool) -> Bool {
        switch cause {
        case .exited(let s): return s == 0 || success.statuses.contains(s)
        case .killed(let sig):
            if daemon && [1, 2, 15, 13].contains(sig) { return true }
            return success.signals.contains(sig)
        case .dumped: return false
        }
    }

    static func failureResult(_ cause: ExitCause) -> ServiceResult {
        switch cause {
        case .exited: return .exitCode
        case .killed: return .signal
        case .dumped: return .coreDump
        }
    }

    // MARK: Process events

    private mutating func spawned(
        _ role: ProcessRole, _ pid: Int32, _ setupFailed: Bool, _ now: MonotonicInstant, _ fx: inout [ServiceEffect]
    ) {
        switch role {
        case .control:
            controlPID = pid
        case .main:
            mainPID = pid
            lastMainPID = pid
            lastMainExit = nil
            guard state == .start else { return }
            switch config.type {
            case .simple, .idle, .dbus, .exec:
                // Active only once exec() succeeded; a failed exec is reported by the child's exit (203/EXEC).
                // systemd can't know this for Type=simple (it returns before the child execs), so its start job
                // succeeds there; the spawner here returns after exec, so simple gets exec's stricter answer.
                if !setupFailed { enterStartPost(now, &fx) }
            case .forking, .oneshot, .notify, .notifyReload:
                break  // forking: the parent's exit; oneshot: the command's exit; notify: READY=1 (later).
            }
        }
    }

    private mutating func spawnFailed(
        _ role: ProcessRole, _ err: Int32, _ now: MonotonicInstant, _ fx: inout [ServiceEffect]
    ) {
        fx.append(.log(.error, "Failed to spawn \(role == .main ? "main" : "control") process: errno \(err)."))
        // Treat as a failed process: resources, as systemd does when it can't fork.
        switch role {
        case .main:
            mainPID = nil
            if state == .start { enterSignal(.stopSigterm, .resources, now, &fx) }
        case .control:
            controlPID = nil
            controlCommand = nil
            controlFailed(.resources, now, &fx)
        }
    }

    private mutating func exited(_ pid: Int32, _ cause: ExitCause, _ now: MonotonicInstant, _ fx: inout [ServiceEffect]) {
        if pid == mainPID {
            mainExited(cause, now, &fx)
        } else if pid == controlPID {
            controlExited(cause, now, &fx)
        }
        // Other processes of the service matter only through `.allProcessesGone`.
    }

    private mutating func mainExited(_ cause: ExitCause, _ now: MonotonicInstant, _ fx: inout [ServiceEffect]) {
        let command = state == .start && config.type == .oneshot ? config.execStart[min(commandIndex, config.execStart.count - 1)] : config.execStart.first
        let ignore = command?.ignoreFailure ?? false
        let clean = ServiceMachine.isClean(cause, success: config.successExitStatus, daemon: config.type != .oneshot)
            || cause == .killed(lastKillSignal ?? -1) || ignore
        record(mainPID ?? 0, .execStart, command, cause, ignored: ignore && !ServiceMachine.isClean(cause, success: config.successExitStatus, daemon: config.type != .oneshot))
        mainPID = nil
        lastMainExit = cause
        let f: ServiceResult = clean ? .success : ServiceMachine.failureResult(cause)
        let how = cause.statusText
        let expected = cause == .killed(lastKillSignal ?? -1) && result == .success  // a deliberate stop: debug, as systemd
        fx.append(.log(expected ? .debug : clean ? .info : .warning, "Main process exited, \(how)"))

        switch state {
        case .start:
            if config.type == .oneshot {
                if f != .success {
                    enterSignal(.stopSigterm, f, now, &fx)
                } else if commandIndex + 1 < config.execStart.count {
                    commandIndex += 1
                    fx.append(.spawn(.main, .execStart, config.execStart[commandIndex]))
                } else {
                    enterStartPost(now, &fx)
                }
            } else if config.type == .forking {
                if f != .success {
                    enterSignal(.stopSigterm, f, now, &fx)
                } else {
                    // The parent exited: the daemon is up. Find it.
                    fx.append(.resolveMainPID)
                }
            } else {
                // An exec whose exec() failed, or a notify service gone before READY=1: the start failed.
                enterSignal(.stopSigterm, f == .success ? .protocol : f, now, &fx)
            }
        case .startPost, .reload:
            setResult(f)  // enterRunning decides once the control command is done
        case .running:
            enterRunning(f, now, &fx)
        case .stop:
            setResult(f)
        case .stopWatchdog, .stopSigterm, .stopSigkill, .stopPost, .finalSigterm, .finalSigkill:
            setResult(f)
        case .dead, .failed, .autoRestart, .exited, .startPre:
            break
        }
    }

    private mutating func controlExited(_ cause: ExitCause, _ now: MonotonicInstant, _ fx: inout [ServiceEffect]) {
        let current = controlCommand
        let pid = controlPID ?? 0
        controlPID = nil
        controlCommand = nil
        let ignore = current?.command.ignoreFailure ?? false
        let cleanByStatus = ServiceMachine.isClean(cause, success: config.successExitStatus, daemon: false)
        let clean = cleanByStatus || ignore || cause == .killed(lastKillSignal ?? -1) && state.isKillState
        if let current {
            record(pid, current.kind, current.command, cause, ignored: ignore && !cleanByStatus)
        }
        if !clean {
            fx.append(.log(.warning, "Control process exited, \(cause.statusText)"))
            controlFailed(ServiceMachine.failureResult(cause), now, &fx)
            return
        }
        // Success: the next command of the chain, or the next state.
        let chain: [ExecCommand]
        let kind: CommandKind
        switch state {
        case .startPre: (chain, kind) = (config.execStartPre, .execStartPre)
        case .startPost: (chain, kind) = (config.execStartPost, .execStartPost)
        case .reload: (chain, kind) = (config.execReload, .execReload)
        case .stop: (chain, kind) = (config.execStop, .execStop)
        case .stopPost: (chain, kind) = (config.execStopPost, .execStopPost)
        default: return  // a control process ending in a kill state: allProcessesGone drives on
        }
        if commandIndex + 1 < chain.count {
            commandIndex += 1
            runControl(kind, chain, now, &fx)
            return
        }
        switch state {
        case .startPre: enterStart(now, &fx)
        case .startPost: enterRunning(.success, now, &fx)
        case .reload:
            finish(.reload, ok: true, &fx)
            enterRunning(.success, now, &fx)
        case .stop: enterSignal(.stopSigterm, .success, now, &fx)
        case .stopPost: enterSignal(.finalSigterm, .success, now, &fx)
        default: assertionFailure("a control command succeeded in \(state), which runs none")
        }
    }

    /// A control command failed (and its failure is not ignored).
    private mutating func controlFailed(_ f: ServiceResult, _ now: MonotonicInstant, _ fx: inout [ServiceEffect]) {
        switch state {
        case .startPre: enterSignal(.stopSigterm, f, now, &fx)
        case .startPost: enterStop(f, now, &fx)
        case .reload:
            // A failed reload leaves the service running; only the reload job fails.
            finish(.reload, ok: false, &fx)
            enterRunning(.success, now, &fx)
        case .stop: enterSignal(.stopSigterm, f, now, &fx)
        case .stopPost: enterSignal(.finalSigterm, f, now, &fx)
        default: break  // a control process failing in a kill state (ExecStop= after SIGTERM): the kill drives on
        }
    }

    private mutating func allGone(_ now: MonotonicInstant, _ fx: inout [ServiceEffect]) {
        guard state.isKillState else { return }
        // Anything tracked is gone by definition now.
        mainPID = nil
        controlPID = nil
        controlCommand = nil
        afterKillStep(now, &fx)
    }

    private mutating func mainPIDResolved(_ pid: Int32?, _ now: MonotonicInstant, _ fx: inout [ServiceEffect]) {
        guard state == .start, config.type == .forking else { return }
        if let pid {
            mainPID = pid
            lastMainPID = pid
            lastMainExit = nil
            fx.append(.log(.info, "Supervising process \(pid) which is the main process."))
            enterStartPost(now, &fx)
        } else if config.pidFile != nil {
            fx.append(.log(.error, "Can't open PID file \(config.pidFile!) (yet?) after start: the daemon left none."))
            enterSignal(.stopSigterm, .protocol, now, &fx)
        } else {
            fx.append(.log(.notice, "Couldn't determine the main process; the service stays active without one."))
            enterRemainingWithoutMain(now, &fx)
        }
    }

    /// Forking daemon whose pid could not be determined: active without a main process, as systemd does.
    private mutating func enterRemainingWithoutMain(_ now: MonotonicInstant, _ fx: inout [ServiceEffect]) {
        enter(.running, now, &fx)
        fx.append(.log(.info, "Started."))
        finishStartJob(ok: true, &fx)
    }

    // MARK: Timeouts

    private mutating func timeout(_ now: MonotonicInstant, _ fx: inout [ServiceEffect]) {
        switch state {
        case .startPre, .start:
            fx.append(.log(.error, "\(state == .startPre ? "Start-pre" : "Start") operation timed out. Terminating."))
            enterSignal(.stopSigterm, .timeout, now, &fx)
        case .startPost:
            fx.append(.log(.error, "Start-post operation timed out. Stopping."))
            enterStop(.timeout, now, &fx)
        case .running:
            fx.append(.log(.error, "Service reached runtime time limit. Stopping."))
            enterStop(.timeout, now, &fx)
        case .reload:
            fx.append(.log(.error, "Reload operation timed out. Killing reload process."))
            fx.append(.kill(.control, signal: config.killSignal))
            finish(.reload, ok: false, &fx)
            enterRunning(.success, now, &fx)
        case .stop:
            fx.append(.log(.error, "Stopping timed out. Terminating."))
            enterSignal(.stopSigterm, .timeout, now, &fx)
        case .stopWatchdog, .stopSigterm:
            if config.sendSIGKILL {
                fx.append(.log(.error, "State '\(state.rawValue)' timed out. Killing."))
                enterSignal(.stopSigkill, .timeout, now, &fx)
            } else {
                fx.append(.log(.error, "State '\(state.rawValue)' timed out. Skipping SIGKILL."))
                setResult(.timeout)
                enterStopPost(now, &fx)
            }
        case .stopSigkill:
            fx.append(.log(.error, "Processes still around after SIGKILL. Ignoring."))
            enterStopPost(now, &fx)
        case .stopPost:
            fx.append(.log(.error, "Stop-post operation timed out. Terminating."))
            enterSignal(.finalSigterm, .timeout, now, &fx)
        case .finalSigterm:
            if config.sendSIGKILL {
                fx.append(.log(.error, "State 'final-sigterm' timed out. Killing."))
                enterSignal(.finalSigkill, .timeout, now, &fx)
            } else {
                // systemd gives up here without restarting: processes it may not kill are still around.
                fx.append(.log(.error, "State 'final-sigterm' timed out. Skipping SIGKILL. Entering failed mode."))
                setResult(.timeout)
                enterDead(result, now, &fx, allowRestart: false)
            }
        case .finalSigkill:
            fx.append(.log(.error, "Processes still around after final SIGKILL. Entering failed mode."))
            enterDead(.timeout, now, &fx, allowRestart: true)
        case .autoRestart:
            beginStart(now, &fx, automatic: true)
        case .dead, .failed, .exited:
            break
        }
    }

    // MARK: Helpers

    private mutating func runControl(
        _ kind: CommandKind, _ chain: [ExecCommand], _ now: MonotonicInstant, _ fx: inout [ServiceEffect]
    ) {
        let command = chain[commandIndex]
        controlCommand = (kind, command)
        fx.append(.spawn(.control, kind, command))
    }

    private mutating func enter(_ new: ServiceState, _ now: MonotonicInstant, _ fx: inout [ServiceEffect]) {
        let old = state
        let oldActive = old.activeState
        state = new
        stateSince = now
        if (oldActive != .active && oldActive != .reloading) && (new.activeState == .active) {
            activeEnterTimestamp = now
        }
        // Release the timer in one place: a state that needs one re-arms it right after entering.
        if deadline != nil {
            deadline = nil
            fx.append(.cancelTimer)
        }
        // The watchdog only watches a running service (and one that is reloading).
        if new != .running && new != .reload && watchdogDeadline != nil {
            watchdogDeadline = nil
            fx.append(.cancelWatchdog)
        }
        if new == .startPre || (new == .start && old != .startPre) { watchdogOverride = nil }
    }

    private mutating func armWatchdog(_ now: MonotonicInstant, _ fx: inout [ServiceEffect]) {
        let interval = watchdogInterval
        guard interval.usec > 0, !interval.isInfinite else {
            if watchdogDeadline != nil {
                watchdogDeadline = nil
                fx.append(.cancelWatchdog)
            }
            return
        }
        watchdogDeadline = now + interval
        fx.append(.armWatchdog(now + interval))
    }

    private mutating func watchdogExpired(_ now: MonotonicInstant, _ fx: inout [ServiceEffect]) {
        guard state == .running || state == .reload else { return }
        fx.append(.log(.error, "Watchdog timeout (limit \(watchdogInterval))!"))
        finish(.reload, ok: false, &fx)
        enterSignal(.stopWatchdog, .watchdog, now, &fx)
    }

    // MARK: sd_notify

    private mutating func notify(_ n: NotifyEvent, _ now: MonotonicInstant, _ fx: inout [ServiceEffect]) {
        switch n {
        case .ready:
            switch state {
            case .start where config.type == .notify || config.type == .notifyReload:
                guard mainPID != nil else { return }
                enterStartPost(now, &fx)
            case .reload:
                finish(.reload, ok: true, &fx)
                if controlPID == nil { enterRunning(.success, now, &fx) }
            default:
                break
            }
        case .reloading:
            if state == .running {
                // A reload the service started on its own (SIGHUP from elsewhere, say).
                enter(.reload, now, &fx)
                armTimer(now + config.timeoutStart, &fx)
            }
        case .stopping:
            switch state {
            case .start, .startPost, .running, .reload:
                // The service shuts down on its own: wait for it like after KillSignal=, without sending one.
                finish(.reload, ok: false, &fx)
                finishStartJob(ok: false, &fx)
                enter(.stopSigterm, now, &fx)
                lastKillSignal = nil
                armTimer(now + config.timeoutStop, &fx)
            default:
                break
            }
        case .mainPID(let pid):
            switch state {
            case .start, .startPost, .running, .reload:
                mainPID = pid
                lastMainPID = pid
                lastMainExit = nil
            default:
                break
            }
        case .watchdogPing:
            if watchdogDeadline != nil { armWatchdog(now, &fx) }
        case .watchdogTrigger:
            if state == .running || state == .reload {
                watchdogDeadline = nil
                fx.append(.cancelWatchdog)
                watchdogExpired(now, &fx)
            }
        case .watchdogUsec(let usec):
            watchdogOverride = TimeSpan(usec: usec)
            if state == .running || state == .reload { armWatchdog(now, &fx) }
        case .extendTimeout(let usec):
            // Extends the start, runtime or stop timeout in force to now + usec, if that is later.
            guard let d = deadline, state != .autoRestart else { return }
            let extended = now + TimeSpan(usec: usec)
            if extended > d { armTimer(extended, &fx) }
        case .restartReset:
            restartCount = 0
            backoffStep = 0
        }
    }

    private mutating func armTimer(_ at: MonotonicInstant, _ fx: inout [ServiceEffect]) {
        guard !at.isDistantFuture else { return }
        deadline = at
        fx.append(.armTimer(at))
    }

    private mutating func cancelTimer(_ fx: inout [ServiceEffect]) {
        if deadline != nil {
            deadline = nil
            fx.append(.cancelTimer)
        }
    }

    private mutating func setResult(_ f: ServiceResult) {
        if result == .success && f != .success { result = f }
    }

    /// The start or restart job ends with this run, unless it waits for the stop in progress
    /// (`.upAfterStop`): then it belongs to the next run, and ends with that one.
    private mutating func finishStartJob(ok: Bool, _ fx: inout [ServiceEffect]) {
        guard intent != .upAfterStop else { return }
        finish(.start, ok: ok, &fx)
    }

    // MARK: Jobs

    /// Takes a start (or restart) job; one already in flight keeps its kind and finishes for both.
    private mutating func acceptUpJob(_ type: JobType = .start) {
        if jobs.up == nil { jobs.up = type }
    }

    /// Finishes the job of `type` in flight, if there is one (`.start` finishes the start or restart job).
    private mutating func finish(_ type: JobType, ok: Bool, _ fx: inout [ServiceEffect]) {
        switch type {
        case .start, .restart:
            guard let up = jobs.up else { return }
            jobs.up = nil
            emitJobFinished(up, ok: ok, &fx)
        case .stop:
            guard jobs.stop else { return }
            jobs.stop = false
            emitJobFinished(.stop, ok: ok, &fx)
        case .reload:
            guard jobs.reload else { return }
            jobs.reload = false
            emitJobFinished(.reload, ok: ok, &fx)
        }
    }

    /// The one place `.jobFinished` is emitted: for a job in flight (`finish`), or for a request answered at
    /// once (a start of an active unit, a stop of a dead one, a reload that can't be done).
    private func emitJobFinished(_ type: JobType, ok: Bool, _ fx: inout [ServiceEffect]) {
        fx.append(.jobFinished(type, ok: ok))
    }

    private mutating func record(_ pid: Int32, _ kind: CommandKind, _ command: ExecCommand?, _ cause: ExitCause, ignored: Bool) {
        // The last exit of each command, kept across runs (a crash stays visible once the service runs again).
        let line = command?.commandLine ?? ""
        processLog.removeAll { $0.kind == kind && $0.command == line }
        processLog.append(ProcessRecord(pid: pid, kind: kind, command: line, cause: cause, ignoredFailure: ignored))
        let limit = Swift.max(config.processLogLimit, 1)
        if processLog.count > limit { processLog.removeFirst(processLog.count - limit) }
    }
}

private func _pow(_ x: Double, _ y: Double) -> Double { Double.pow(x, y) }
