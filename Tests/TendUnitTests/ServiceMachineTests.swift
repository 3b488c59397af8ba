import Testing

@testable import TendModel
@testable import TendSystem
@testable import TendEngine

/// A fake runtime for `ServiceMachine`: a manual clock, a pid counter and a record of every effect.
///
/// It does what `Runtime/` will do, without processes: `.spawn` allocates a pid and feeds `.spawned` back at
/// once, `.armTimer`/`.cancelTimer` keep the one deadline, and `advance(_:)` fires `.timer` at that deadline
/// when the clock passes it. Process deaths and "nothing of the service is left" are the test's decision
/// (`exitMain`, `exitControl`, `processesGone`), because that is what the scenarios are about.
struct MachineDriver {
    struct Spawn: Equatable {
        var pid: Int32
        var role: ProcessRole
        var kind: CommandKind
        var command: String
    }
    struct Kill: Equatable {
        var target: KillTarget
        var signal: Int32
        init(_ target: KillTarget, _ signal: Int32) {
            self.target = target
            self.signal = signal
        }
    }
    struct Job: Equatable {
        var type: JobType
        var ok: Bool
        init(_ type: JobType, _ ok: Bool) {
            self.type = type
            self.ok = ok
        }
    }

    var machine: ServiceMachine
    private(set) var now: MonotonicInstant
    private var nextPID: Int32 = 1000
    /// Every effect, in order.
    private(set) var effects: [ServiceEffect] = []
    private(set) var spawns: [Spawn] = []
    private(set) var kills: [Kill] = []
    private(set) var jobs: [Job] = []
    private(set) var logs: [String] = []
    /// The deadline armed and not cancelled, as the runtime's timerfd would hold it.
    private(set) var timer: MonotonicInstant?
    /// The watchdog deadline armed and not cancelled.
    private(set) var watchdog: MonotonicInstant?
    /// Every `.armTimer` deadline, in order.
    private(set) var armed: [MonotonicInstant] = []
    private(set) var resolveRequests = 0
    /// Decides whether a spawn's child setup fails (exec() not reached), as the spawner reports it.
    var setupFails: (CommandKind, ExecCommand) -> Bool = { _, _ in false }

    static let origin = MonotonicInstant(ns: 1_000_000_000_000)

    init(_ config: ServiceConfig) {
        now = MachineDriver.origin
        machine = ServiceMachine(config: config, now: now)
    }

    var state: ServiceState { machine.state }
    var result: ServiceResult { machine.result }

    /// Feeds one event and carries out what comes back.
    mutating func send(_ event: ServiceEvent) {
        let fx = machine.handle(event, now: now)
        perform(fx)
    }

    private mutating func perform(_ fx: [ServiceEffect]) {
        for effect in fx {
            effects.append(effect)
            switch effect {
            case .spawn(let role, let kind, let command):
                nextPID += 1
                let pid = nextPID
                spawns.append(Spawn(pid: pid, role: role, kind: kind, command: command.commandLine))
                send(.spawned(role, pid: pid, setupFailed: setupFails(kind, command)))
            case .kill(let target, let signal):
                kills.append(Kill(target, signal))
            case .armTimer(let at):
                timer = at
                armed.append(at)
            case .cancelTimer:
                timer = nil
            case .armWatchdog(let at):
                watchdog = at
            case .cancelWatchdog:
                watchdog = nil
            case .resolveMainPID:
                resolveRequests += 1
            case .jobFinished(let type, let ok):
                jobs.append(Job(type, ok))
            case .log(_, let message):
                logs.append(message)
            }
        }
    }

    /// Moves the clock forward, firing the armed timer at its deadline (possibly several times, as each
    /// firing may arm the next deadline).
    mutating func advance(_ span: TimeSpan) {
        let target = now + span
        while true {
            let t = timer.flatMap { $0 <= target ? $0 : nil }
            let w = watchdog.flatMap { $0 <= target ? $0 : nil }
            if let t, w == nil || t <= w! {
                now = max(now, t)
                timer = nil
                send(.timer)
            } else if let w {
                now = max(now, w)
                watchdog = nil
                send(.watchdogTimer)
            } else {
                break
            }
        }
        now = target
    }

    /// Delivers a `.timer` without the deadline having passed, as a late-cancelled timerfd can.
    mutating func fireStaleTimer() { send(.timer) }

    mutating func exit(_ pid: Int32, _ cause: ExitCause) { send(.exited(pid: pid, cause)) }

    mutating func exitMain(_ cause: ExitCause, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        guard let pid = machine.mainPID else {
            Issue.record("no main process to exit in state \(state.rawValue)", sourceLocation: sourceLocation)
            return
        }
        exit(pid, cause)
    }

    mutating func exitControl(_ cause: ExitCause, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        guard let pid = machine.controlPID else {
            Issue.record("no control process to exit in state \(state.rawValue)", sourceLocation: sourceLocation)
            return
        }
        exit(pid, cause)
    }

    /// The runtime found nothing of the service left: only meaningful (and only sent) in a kill state.
    mutating func processesGone() {
        if state.isKillState { send(.allProcessesGone) }
    }

    /// Lets every kill state finish at once, as when the processes die the moment they are signalled.
    /// Stops at a state that waits for something else (a control command, a timer).
    mutating func settle() {
        var rounds = 0
        while state.isKillState && rounds < 10 {
            if let pid = machine.mainPID { exit(pid, .killed(15)) }
            if state.isKillState, let pid = machine.controlPID { exit(pid, .killed(15)) }
            processesGone()
            rounds += 1
        }
    }

    mutating func clearRecords() {
        effects = []
        spawns = []
        kills = []
        jobs = []
        logs = []
        armed = []
        resolveRequests = 0
    }

    var mainSpawns: [Spawn] { spawns.filter { $0.role == .main } }
    var controlCommands: [String] { spawns.filter { $0.role == .control }.map(\.command) }
}

/// `/usr/bin/x a b` as an `ExecCommand`; `-` in front ignores its failure, as in a unit file.
func cmd(_ line: String) -> ExecCommand {
    var words = line.split(separator: " ").map(String.init)
    var ignore = false
    if words[0].hasPrefix("-") {
        ignore = true
        words[0].removeFirst()
    }
    var c = ExecCommand(words: words)
    c.ignoreFailure = ignore
    return c
}

/// A simple service running `/usr/bin/daemon` with systemd's defaults, adjusted by `change`.
func serviceConfig(_ change: (inout ServiceConfig) -> Void = { _ in }) -> ServiceConfig {
    var c = ServiceConfig(name: UnitName(prefix: "test", suffix: "service"))
    c.execStart = [cmd("/usr/bin/daemon")]
    change(&c)
    return c
}

extension TimeSpan {
    static func + (a: TimeSpan, b: TimeSpan) -> TimeSpan { TimeSpan(usec: a.usec + b.usec) }
}
