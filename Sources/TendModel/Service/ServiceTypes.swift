/// Vocabulary of the service state machine: states, results, events and effects.

/// A point on the monotonic clock, in nanoseconds. Passed into the state machine, never read by it.
public struct MonotonicInstant: Comparable, Hashable, Sendable {
    public var ns: UInt64
    public init(ns: UInt64) { self.ns = ns }
    public static func < (a: MonotonicInstant, b: MonotonicInstant) -> Bool { a.ns < b.ns }
    /// Saturating: adding infinity gives the farthest instant.
    public static func + (a: MonotonicInstant, b: TimeSpan) -> MonotonicInstant {
        if b.isInfinite { return MonotonicInstant(ns: .max) }
        let (sum, overflow) = a.ns.addingReportingOverflow(b.usec.multipliedReportingOverflow(by: 1000).partialValue)
        return MonotonicInstant(ns: overflow || b.usec > UInt64.max / 1000 ? .max : sum)
    }
    public var isDistantFuture: Bool { ns == .max }
    /// Microseconds from `a` to self (0 if self is earlier).
    public func usec(since a: MonotonicInstant) -> UInt64 { ns > a.ns ? (ns - a.ns) / 1000 : 0 }
}

/// The sub-states of a service, with systemd's names (`systemctl status` shows them in parentheses).
public enum ServiceState: String, Sendable, CaseIterable {
    /// Not running, nothing to do.
    case dead
    /// ExecStartPre= commands run.
    case startPre = "start-pre"
    /// ExecStart= runs; for forking until the parent exits, for oneshot until the commands are done,
    /// for exec until exec() succeeded.
    case start
    /// ExecStartPost= commands run; the main process is already up.
    case startPost = "start-post"
    /// The main process runs.
    case running
    /// The main process is gone but `RemainAfterExit=yes` keeps the unit active.
    case exited
    /// ExecReload= commands run.
    case reload
    /// ExecStop= commands run.
    case stop
    /// The watchdog signal was sent; waiting for the processes to go.
    case stopWatchdog = "stop-watchdog"
    /// KillSignal= was sent; waiting up to TimeoutStopSec=.
    case stopSigterm = "stop-sigterm"
    /// FinalKillSignal= was sent.
    case stopSigkill = "stop-sigkill"
    /// ExecStopPost= commands run.
    case stopPost = "stop-post"
    /// Killing what the ExecStopPost= commands left.
    case finalSigterm = "final-sigterm"
    case finalSigkill = "final-sigkill"
    /// Not running, and the last run ended in a failure.
    case failed
    /// Waiting RestartSec= before the next start.
    case autoRestart = "auto-restart"

    /// systemd's mapping from sub-state to active state (`state_translation_table`).
    public var activeState: ActiveState {
        switch self {
        case .dead: return .inactive
        case .startPre, .start, .startPost, .autoRestart: return .activating
        case .running, .exited: return .active
        case .reload: return .reloading
        case .stop, .stopWatchdog, .stopSigterm, .stopSigkill, .stopPost, .finalSigterm, .finalSigkill:
            return .deactivating
        case .failed: return .failed
        }
    }

    /// States in which the machine waits for processes to go after signalling them.
    public var isKillState: Bool {
        switch self {
        case .stopWatchdog, .stopSigterm, .stopSigkill, .finalSigterm, .finalSigkill: return true
        default: return false
        }
    }
}

/// The unit-level state (`ActiveState=`).
public enum ActiveState: String, Sendable {
    case active, reloading, inactive, failed, activating, deactivating
}

/// Why the last run ended (`Result=`). The first failure of a run wins.
public enum ServiceResult: String, Sendable {
    case success, resources, `protocol`, timeout
    case exitCode = "exit-code"
    case signal
    case coreDump = "core-dump"
    case watchdog
    case startLimitHit = "start-limit-hit"
    /// The kernel's OOM killer ended a process of the service (seen in its cgroup's counters).
    case oomKill = "oom-kill"
}

/// How a process ended, from waitid's `si_code`/`si_status`.
public enum ExitCause: Hashable, Sendable {
    case exited(Int32)
    case killed(Int32)
    case dumped(Int32)

    /// `code=exited, status=1/FAILURE` / `code=killed, signal=KILL`, as `systemctl status` writes it.
    public var statusText: String {
        switch self {
        case .exited(let s): return "code=exited, status=\(ExitStatusNames.describe(s))"
        case .killed(let sig): return "code=killed, signal=\(Signals.name(sig) ?? String(sig))"
        case .dumped(let sig): return "code=dumped, signal=\(Signals.name(sig) ?? String(sig))"
        }
    }
    public var codeName: String {
        switch self {
        case .exited: return "exited"
        case .killed: return "killed"
        case .dumped: return "dumped"
        }
    }
    /// The exit status or the signal number.
    public var value: Int32 {
        switch self {
        case .exited(let s), .killed(let s), .dumped(let s): return s
        }
    }
}

/// Names of exit statuses as systemd prints them (`1/FAILURE`, `203/EXEC`).
public enum ExitStatusNames {
    static let names: [Int32: String] = [
        0: "SUCCESS", 1: "FAILURE", 2: "INVALIDARGUMENT", 3: "NOTIMPLEMENTED", 4: "NOPERMISSION",
        5: "NOTINSTALLED", 6: "NOTCONFIGURED", 7: "NOTRUNNING",
        200: "CHDIR", 201: "NICE", 202: "FDS", 203: "EXEC", 204: "MEMORY", 205: "LIMITS", 206: "OOM_ADJUST",
        207: "SIGNAL_MASK", 208: "STDIN", 209: "STDOUT", 210: "CHROOT", 211: "IOPRIO", 212: "TIMERSLACK",
        213: "SECUREBITS", 214: "SETSCHEDULER", 215: "CPUAFFINITY", 216: "GROUP", 217: "USER", 218: "CAPABILITIES",
        219: "CGROUP", 220: "SETSID", 221: "CONFIRM", 222: "STDERR", 224: "PAM", 225: "NETWORK",
        226: "NAMESPACE", 227: "NO_NEW_PRIVILEGES", 228: "SECCOMP", 233: "RUNTIME_DIRECTORY",
        238: "STATE_DIRECTORY", 239: "CACHE_DIRECTORY", 240: "LOGS_DIRECTORY", 241: "CONFIGURATION_DIRECTORY",
        64: "USAGE", 65: "DATAERR", 66: "NOINPUT", 67: "NOUSER", 68: "NOHOST", 69: "UNAVAILABLE", 70: "SOFTWARE",
        71: "OSERR", 72: "OSFILE", 73: "CANTCREAT", 74: "IOERR", 75: "TEMPFAIL", 76: "PROTOCOL", 77: "NOPERM",
        78: "CONFIG",
    ]
    /// Names accepted in `SuccessExitStatus=` and friends: the LSB and BSD ones (systemd accepts these).
    package static let table: [(String, Int32)] = names.filter { $0.key < 100 }.map { ($0.value, $0.key) }.sorted { $0.1 < $1.1 }
    public static func name(_ status: Int32) -> String? { names[status] }
    public static func describe(_ status: Int32) -> String {
        if let n = names[status] { return "\(status)/\(n)" }
        return String(status)
    }
}

/// Which process of a service an event or effect is about.
public enum ProcessRole: String, Sendable {
    /// The service's main process (`MainPID=`).
    case main
    /// An ExecStartPre=/ExecStartPost=/ExecReload=/ExecStop=/ExecStopPost= command (`ControlPID=`).
    case control
}

/// Which list an Exec command comes from.
public enum CommandKind: String, Sendable {
    case execStartPre = "ExecStartPre"
    case execStart = "ExecStart"
    case execStartPost = "ExecStartPost"
    case execReload = "ExecReload"
    case execStop = "ExecStop"
    case execStopPost = "ExecStopPost"
}

/// What a kill effect is aimed at.
public enum KillTarget: String, Sendable {
    case main
    case control
    /// Every process of the service: main, control, and everything they started (KillMode=control-group).
    case all
}

/// The job a client waits for.
public enum JobType: String, Sendable {
    case start, stop, reload, restart
}

/// Something that happened to a service, fed into `ServiceMachine.handle`.
public enum ServiceEvent: Sendable {
    /// Requests (from a client, from the manager at launch, or from shutdown).
    case start
    case stop
    case restart
    case reload
    case resetFailed
    /// The runtime carried out `.spawn`: the process exists. `setupFailed` is true when the child's setup or
    /// exec() failed (it has then already exited with a systemd code such as 203/EXEC, reported by `.exited`).
    case spawned(ProcessRole, pid: Int32, setupFailed: Bool)
    /// The runtime could not create the process at all (fork failed, program not found before spawning).
    case spawnFailed(ProcessRole, errno: Int32)
    /// A process of this service ended.
    case exited(pid: Int32, ExitCause)
    /// In a kill state: no process of the service (in the scope of `awaitedProcesses`) is left.
    case allProcessesGone
    /// The deadline armed by the last `.armTimer` passed.
    case timer
    /// Answer to `.resolveMainPID` (Type=forking): the daemon's pid from PIDFile= or a guess, or nil.
    case mainPIDResolved(Int32?)
    /// An sd_notify message the runtime accepted (NotifyAccess= already checked).
    case notify(NotifyEvent)
    /// The watchdog deadline armed by `.armWatchdog` passed.
    case watchdogTimer
    /// The kernel's OOM killer ended a process of the service (`OOMPolicy=` says what follows).
    case oomKilled
}

/// The parts of an sd_notify message that change a service's state.
public enum NotifyEvent: Equatable, Sendable {
    /// `READY=1`: start-up finished (Type=notify), or a reload finished.
    case ready
    /// `RELOADING=1`: the service reloads on its own (or in answer to ReloadSignal=).
    case reloading
    /// `STOPPING=1`: the service is shutting down on its own.
    case stopping
    /// `MAINPID=`: the runtime has already started tracking this pid.
    case mainPID(Int32)
    /// `WATCHDOG=1`
    case watchdogPing
    /// `WATCHDOG=trigger`
    case watchdogTrigger
    /// `WATCHDOG_USEC=`: a new watchdog interval (0 turns it off).
    case watchdogUsec(UInt64)
    /// `EXTEND_TIMEOUT_USEC=`
    case extendTimeout(UInt64)
    /// `RESTART_RESET=1`: the restart counter (and the backoff) start over.
    case restartReset
}

/// What the runtime must do. The machine performs none of it.
public enum ServiceEffect: Equatable, Sendable {
    case spawn(ProcessRole, CommandKind, ExecCommand)
    case kill(KillTarget, signal: Int32)
    case armTimer(MonotonicInstant)
    case cancelTimer
    /// The watchdog deadline (WatchdogSec=), separate from the state's own timer.
    case armWatchdog(MonotonicInstant)
    case cancelWatchdog
    /// Type=forking: find the daemon's pid (PIDFile=, else the single process left), answer `.mainPIDResolved`.
    case resolveMainPID
    /// A job ends: `ok` false with the result that ended it.
    case jobFinished(JobType, ok: Bool)
    case log(LogLevel, String)
}

public enum LogLevel: String, Sendable {
    case debug, info, notice, warning, error
}

/// One process that ended, for the `Process:` lines of `tend status`.
public struct ProcessRecord: Sendable, Equatable {
    public var pid: Int32
    public var kind: CommandKind
    public var command: String
    public var cause: ExitCause
    public var ignoredFailure: Bool
}

/// What the requests want of a service, as its state machine keeps it: one value instead of a flag per
/// request, from which automatic restarts and the start after a stop follow.
public enum Intent: Sendable, Equatable {
    /// No request in force: the unit follows its own rules (`Restart=`).
    case auto
    /// Stopped on request: no automatic restart until the next start.
    case down
    /// Up again once the stop in progress is over (a start during a stop, or a restart).
    case upAfterStop
}

/// The jobs a service's machine is carrying out for the job engine, each finished exactly once with a
/// `.jobFinished` effect: a start or restart (`up`, with its kind), a stop, a reload.
public struct MachineJobs: Sendable, Equatable {
    public var up: JobType?
    public var stop = false
    public var reload = false
    public init() {}
}
