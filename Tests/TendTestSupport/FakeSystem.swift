import Glibc
import TendEngine
import TendModel
import TendSystem

/// The clock shared by a fake system and its fake reactor: time moves only when a test says so.
public final class ManualClock {
    public var now: MonotonicInstant
    public init(_ start: MonotonicInstant = MonotonicInstant(ns: 1_000_000_000_000)) { now = start }
}

/// An event loop without a kernel: deadlines fire when the manual clock is advanced past them, descriptors
/// are "ready" when a test says so, and work queued with `afterEvents` runs at `settle()`.
public final class FakeReactor: Reactor {
    public let clock: ManualClock
    private struct Key: Hashable {
        var owner: ObjectIdentifier
        var slot: Int
    }
    private var deadlines: [Key: (MonotonicInstant, () -> Void)] = [:]
    private var watches: [UInt64: (fd: Int32, handler: (UInt32) -> Void)] = [:]
    private var deferred: [() -> Void] = []
    private var nextToken: UInt64 = 1

    public init(clock: ManualClock) { self.clock = clock }

    public func watch(_ fd: Int32, events: UInt32, _ handler: @escaping (UInt32) -> Void) throws -> UInt64 {
        let token = nextToken
        nextToken += 1
        watches[token] = (fd, handler)
        return token
    }
    public func modify(_ token: UInt64, events: UInt32) {}
    public func unwatch(_ token: UInt64) { watches[token] = nil }
    public func setDeadline(_ owner: ObjectIdentifier, slot: Int, at: MonotonicInstant, _ action: @escaping () -> Void) {
        deadlines[Key(owner: owner, slot: slot)] = (at, action)
    }
    public func cancelDeadline(_ owner: ObjectIdentifier, slot: Int) { deadlines[Key(owner: owner, slot: slot)] = nil }
    public func afterEvents(_ work: @escaping () -> Void) { deferred.append(work) }
    public func run() { settle() }
    public func stop() {}

    /// How many descriptors are watched and deadlines armed (an idle manager arms none: zero wakeups).
    public var watchedCount: Int { watches.count }
    public var armedDeadlines: Int { deadlines.count }
    /// The earliest armed deadline.
    public var nextDeadline: MonotonicInstant? { deadlines.values.map(\.0).min() }

    /// Runs the work queued after the current events until none is left (the real loop does this before it
    /// sleeps again).
    public func settle() {
        var rounds = 0
        while !deferred.isEmpty {
            rounds += 1
            precondition(rounds < 100_000, "deferred work keeps queueing more")
            let work = deferred
            deferred = []
            for w in work { w() }
        }
    }

    /// Moves the clock forward, firing every deadline that comes due, in time order, settling after each.
    public func advance(by span: TimeSpan) {
        let target = clock.now + span
        while let (key, entry) = deadlines.filter({ $0.value.0 <= target }).min(by: { $0.value.0 < $1.value.0 }) {
            if entry.0 > clock.now { clock.now = entry.0 }
            deadlines[key] = nil
            entry.1()
            settle()
        }
        clock.now = target
        settle()
    }

    /// A watched descriptor became ready.
    public func fire(_ fd: Int32, events: UInt32 = 1) {
        for (_, w) in watches where w.fd == fd { w.handler(events) }
        settle()
    }
}

/// One process of the fake process table.
public struct FakeProcess {
    public var pid: Int32
    public var request: SpawnRequest
    /// The program as the unit file names it (first word of the command).
    public var program: String { request.command.words.first ?? "" }
    /// What the process does with each signal: nil = the default (SIGTERM, SIGINT, SIGKILL, ... end it).
    public var ignores: Set<Int32> = []
    public var alive = true
    public var signals: [Int32] = []
}

/// `System` in memory: a manual clock, a process table, and children that exit when a test says so (or when
/// a signal with a lethal default reaches them). No process is ever created.
public final class FakeSystem: System {
    public let clock: ManualClock
    public weak var reactor: FakeReactor?
    public var realtimeBase: UInt64 = 1_800_000_000_000_000
    public let managerPID: Int32 = 4000
    public var isRoot = false
    public var environment: [String: String] = ["HOME": "/", "PATH": "/usr/bin:/bin"]
    public private(set) var processes: [Int32: FakeProcess] = [:]
    /// Every spawn, in order.
    public private(set) var spawned: [FakeProcess] = []
    /// Which programs ignore which signals when spawned (e.g. a daemon that ignores SIGTERM).
    public var ignoredSignals: [String: Set<Int32>] = [:]
    /// Programs whose spawn fails with this errno.
    public var failingPrograms: [String: Int32] = [:]
    private var zombies: [(Int32, ExitCause)] = []
    private var nextPID: Int32 = 5000
    private var signalHandler: ((Int32) -> Void)?
    private var nextFD: Int32 = 100_000
    private var pidOfPidfd: [Int32: Int32] = [:]

    public init(clock: ManualClock) { self.clock = clock }

    public var monotonicNow: MonotonicInstant { clock.now }
    public var realtimeMicroseconds: UInt64 { realtimeBase + clock.now.ns / 1000 }

    public func handleSignals(_ signals: [Int32], reactor: any Reactor, _ handler: @escaping (Int32) -> Void) throws {
        signalHandler = handler
    }
    public func becomeSubreaper() -> Bool { true }
    public func makeDirectories(_ path: String, mode: UInt32) throws {}

    public func spawn(_ request: SpawnRequest) throws -> (process: SpawnedProcess, setupError: String?) {
        let program = request.command.words.first ?? ""
        if let e = failingPrograms[program] { throw SpawnError(message: "spawn \(program): \(Posix.errorText(e))", errno: e) }
        nextPID += 1
        var p = FakeProcess(pid: nextPID, request: request)
        p.ignores = ignoredSignals[program] ?? []
        processes[p.pid] = p
        spawned.append(p)
        let fd = newFD()
        pidOfPidfd[fd] = p.pid
        return (SpawnedProcess(pid: p.pid, pidfd: fd, failedStage: 0, errno: 0), nil)
    }

    /// The live processes running `program`.
    public func running(_ program: String) -> [FakeProcess] {
        processes.values.filter { $0.alive && $0.program == program }.sorted { $0.pid < $1.pid }
    }

    /// A child exits: it becomes a zombie and SIGCHLD reaches the manager, as through its signalfd.
    public func exit(_ pid: Int32, _ cause: ExitCause) {
        guard var p = processes[pid], p.alive else { return }
        p.alive = false
        processes[pid] = p
        zombies.append((pid, cause))
        signalHandler?(SIGCHLD)
        reactor?.settle()
    }

    /// A signal to the manager itself (SIGTERM: shutdown, SIGHUP: reload).
    public func signalManager(_ sig: Int32) {
        signalHandler?(sig)
        reactor?.settle()
    }

    public func reapChild() -> (pid: Int32, cause: ExitCause)? {
        guard !zombies.isEmpty else { return nil }
        let (pid, cause) = zombies.removeFirst()
        processes[pid] = nil
        return (pid, cause)
    }

    public func openPidfd(_ pid: Int32) -> Int32 {
        guard processes[pid]?.alive == true else { return -ESRCH }
        let fd = newFD()
        pidOfPidfd[fd] = pid
        return fd
    }

    public func signal(pidfd: Int32, _ signal: Int32) {
        if let pid = pidOfPidfd[pidfd] { self.signal(pid: pid, signal) }
    }

    public func signal(pid: Int32, _ signal: Int32) {
        guard var p = processes[pid], p.alive else { return }
        signalLog.append((pid, signal))
        p.signals.append(signal)
        processes[pid] = p
        let lethal: Set<Int32> = [SIGTERM, SIGINT, SIGKILL, SIGHUP, SIGQUIT, SIGABRT, SIGUSR1, SIGUSR2]
        if lethal.contains(signal) && (signal == SIGKILL || !p.ignores.contains(signal)) {
            // Its death arrives later, as a real one does: after the current events.
            reactor?.afterEvents { [weak self] in self?.exit(pid, .killed(signal)) }
        }
    }

    /// The signals each process received, in order (kept after it is reaped).
    public private(set) var signalLog: [(pid: Int32, signal: Int32)] = []
    public func signals(of pid: Int32) -> [Int32] { signalLog.filter { $0.pid == pid }.map(\.signal) }

    public func close(_ fd: Int32) { pidOfPidfd[fd] = nil }

    /// How often the process table was asked about one process (what a walk of /proc would cost).
    public private(set) var processLookups = 0

    public func processInfo(_ pid: Int32) -> ProcessInfo? {
        processLookups += 1
        guard let p = processes[pid] else { return nil }
        return ProcessInfo(pid: p.pid, ppid: managerPID, pgrp: p.pid, session: p.pid, state: p.alive ? "S" : "Z",
                           comm: String(p.program.split(separator: "/").last ?? ""))
    }

    public func processTree(under pid: Int32) -> [ProcessInfo] { allProcesses() }
    public func allProcesses() -> [ProcessInfo] { processes.keys.sorted().compactMap { processInfo($0) } }

    public func readFile(_ path: String, limit: Int) -> [UInt8]? { nil }
    public func openFile(_ path: String, flags: Int32, mode: UInt32) throws -> Int32 { newFD() }
    /// Notify sockets by path, and the datagrams waiting on each.
    public private(set) var notifySockets: [String: Int32] = [:]
    private var datagrams: [Int32: [(bytes: [UInt8], pid: Int32, uid: UInt32)]] = [:]

    /// How many binds of abstract notify names fail with EADDRINUSE first (someone else holds them).
    public var takenAbstractNames = 0

    public func makeNotifySocket(_ path: String) -> Int32 {
        if path.hasPrefix("@") && takenAbstractNames > 0 {
            takenAbstractNames -= 1
            return -EADDRINUSE
        }
        let fd = newFD()
        notifySockets[path] = fd
        return fd
    }

    /// A process sends an sd_notify datagram to the socket at `path` (the NOTIFY_SOCKET it was given).
    public func notify(_ path: String, _ text: String, from pid: Int32, uid: UInt32 = 1000) {
        notify(path, Array(repeating: text, count: 1), from: pid, uid: uid)
    }

    /// Several datagrams queued at once, read by the manager in one wakeup.
    public func notify(_ path: String, _ texts: [String], from pid: Int32, uid: UInt32 = 1000) {
        guard let fd = notifySockets[path] else { return }
        for text in texts { datagrams[fd, default: []].append((Array(text.utf8), pid, uid)) }
        reactor?.fire(fd)
    }

    public func receiveNotify(_ fd: Int32, into buffer: inout [UInt8], descriptors: inout [Int32]) -> NotifyDatagram? {
        guard var queue = datagrams[fd], !queue.isEmpty else { return nil }
        let d = queue.removeFirst()
        datagrams[fd] = queue
        let n = min(d.bytes.count, buffer.count)
        for i in 0..<n { buffer[i] = d.bytes[i] }
        return NotifyDatagram(length: d.bytes.count, pid: d.pid, uid: d.uid, gid: d.uid, descriptorCount: 0)
    }

    private func newFD() -> Int32 {
        nextFD += 1
        return nextFD
    }
}
