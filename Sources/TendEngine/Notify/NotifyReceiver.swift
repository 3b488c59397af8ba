import Glibc
import TendModel
import TendSystem

/// The manager's side of sd_notify: one datagram socket per service (created when a command first needs
/// `NOTIFY_SOCKET`), each datagram checked against `NotifyAccess=` with the sender's kernel-supplied
/// credentials, parsed, and turned into machine events; `FDSTORE=1` descriptors kept; refused, malformed and
/// oversized messages dropped and counted.
final class NotifyReceiver {
    private let system: any System
    private let reactor: any Reactor
    private let tracker: ProcessTracker
    private let directory: String
    /// Feeds an event to the unit's machine.
    var onEvent: (Unit, ServiceEvent) -> Void = { _, _ in }
    var report: (LogLevel, String) -> Void = { _, _ in }

    /// Manager-wide counters (`tend show` of the manager, benchmarks).
    private(set) var totals = (accepted: 0, rejected: 0, malformed: 0)
    private var counter = 0
    private var buffer = [UInt8](repeating: 0, count: NotifyMessage.maxSize + 1)
    /// systemd accepts up to 768 descriptors with one message (NOTIFY_FD_MAX).
    private var descriptors = [Int32](repeating: -1, count: 768)

    /// Per-sender accounting. The sockets are writable by everyone (as systemd's: a service may drop to another
    /// user before it reports), so any local user can send to them. Judging a message from outside the unit
    /// costs a walk of /proc under NotifyAccess=all; a uid (not root) refused `muteAfter` times within one second
    /// is muted for the rest of it: its messages are dropped unread, at the cost of the receive alone, so the
    /// socket queues drain faster than a flood fills them and other senders' READY=1 gets through. The unit's
    /// own main and control processes are never muted.
    static let muteAfter = 64
    private var refusals: [UInt32: (second: UInt64, count: Int)] = [:]
    private var lastMuteReport: [UInt32: UInt64] = [:]
    private(set) var mutedDrops = 0

    init(system: any System, reactor: any Reactor, tracker: ProcessTracker, stateDir: String) {
        self.system = system
        self.reactor = reactor
        self.tracker = tracker
        directory = stateDir + "/notify"
    }

    /// The unit's own notify socket, created on first use: a socket per service makes attributing a message
    /// trivial and keeps a message whose sender already exited attributable (DESIGN.md, sd_notify).
    func socketPath(_ unit: Unit) -> String? {
        if let p = unit.notifyPath { return p }
        try? system.makeDirectories(directory, mode: 0o755)
        chmod(directory, 0o755)
        counter += 1
        var path = "\(directory)/\(counter)"
        // sun_path holds 107 bytes: a deep state directory falls back to an abstract name. Abstract names have no
        // permissions, so they are random (another user can't bind one first to make the start fail), and a
        // name someone holds anyway is replaced by another.
        let abstract = path.utf8.count > 100
        var fd: Int32 = -EADDRINUSE
        for _ in 0..<(abstract ? 4 : 1) where fd == -EADDRINUSE {
            if abstract { path = "@tend/\(system.managerPID)/\(counter)-\(String(UInt64.random(in: .min ... .max), radix: 16))" }
            fd = system.makeNotifySocket(path)
        }
        guard fd >= 0 else {
            report(.error, "\(unit.name): Failed to create notify socket \(path): \(Posix.errorText(-fd))")
            return nil
        }
        do {
            unit.notifyToken = try reactor.watch(fd) { [unowned self] _ in self.read(unit) }
        } catch {
            system.close(fd)
            return nil
        }
        unit.notifyFD = fd
        unit.notifyPath = path
        onSocket?(unit, fd, path)
        return path
    }

    /// Called when a unit's socket is made, so that the holder keeps it.
    var onSocket: ((Unit, Int32, String) -> Void)?

    /// A socket handed back by the holder after the manager's restart: the service's NOTIFY_SOCKET still names it.
    func adopt(_ unit: Unit, fd: Int32, path: String) {
        guard unit.notifyPath == nil else { return system.close(fd) }
        if let n = Int(path.split(separator: "/").last.map { $0.split(separator: "-").first ?? $0 } ?? ""), n > counter {
            counter = n  // new sockets get new names
        }
        do {
            unit.notifyToken = try reactor.watch(fd) { [unowned self] _ in self.read(unit) }
        } catch {
            system.close(fd)
            return
        }
        unit.notifyFD = fd
        unit.notifyPath = path
    }

    private func read(_ unit: Unit) {
        var budget = 512  // datagrams per wakeup, so one chatty service can't starve the loop
        // Senders refused in this batch: a flood from one process costs one walk of /proc, not one per datagram.
        var refused: Set<Int32> = []
        while budget > 0 {
            budget -= 1
            guard let d = system.receiveNotify(unit.notifyFD, into: &buffer, descriptors: &descriptors) else { return }
            handle(unit, d, fds: Array(descriptors.prefix(d.descriptorCount)), refused: &refused)
        }
    }

    /// One datagram: check, count, parse, apply.
    func handle(_ unit: Unit, _ d: NotifyDatagram, fds: [Int32], refused: inout Set<Int32>) {
        var kept: Set<Int32> = []
        defer { for fd in fds where !kept.contains(fd) { system.close(fd) } }
        guard d.length <= NotifyMessage.maxSize else {
            count(unit, malformed: true)
            return
        }
        // The common case (a uid with no refusals) costs one dictionary lookup: no clock read, no pid compare.
        if d.uid != 0, let r = refusals[d.uid], r.count >= Self.muteAfter, r.second == currentSecond,
            !(d.pid > 0 && (d.pid == unit.service?.machine.mainPID || d.pid == unit.service?.machine.controlPID)) {
            mutedDrops += 1
            unit.notifyRejected += 1
            totals.rejected += 1
            return
        }
        guard !refused.contains(d.pid), allowed(unit, pid: d.pid) else {
            refused.insert(d.pid)
            unit.notifyRejected += 1
            totals.rejected += 1
            noteRefusal(unit, uid: d.uid, second: currentSecond)
            return
        }
        // An accepted message may change who may send (MAINPID=, NOTIFYACCESS=): judge everyone afresh.
        if !refused.isEmpty { refused.removeAll(keepingCapacity: true) }
        let msg: NotifyMessage
        do {
            msg = try NotifyMessage.parse(buffer[0..<d.length])
        } catch {
            count(unit, malformed: true)
            return
        }
        count(unit, malformed: false)
        guard let service = unit.service else { return }

        if let s = msg.status { unit.statusText = s }
        if let e = msg.errno { unit.statusErrno = e }
        if let b = msg.busError { unit.statusBusError = b }
        if let x = msg.exitStatus { unit.statusExitStatus = x }
        if let a = msg.notifyAccess { unit.notifyAccessOverride = a }

        var events: [NotifyEvent] = []
        let mainPID = service.machine.mainPID
        if let newMain = msg.mainPID, newMain != mainPID {
            // Only a process of the service may become its main process (root may name any other), and never
            // the manager itself or PID 1 (systemd's service_is_suitable_main_pid): stopping the unit would
            // signal them.
            let suitable = newMain > 1 && newMain != system.managerPID
            if suitable && (d.uid == 0 || tracker.belongs(unit, pid: newMain)) && system.processInfo(newMain) != nil {
                tracker.switchMain(unit, from: mainPID, to: newMain)
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

        let storeBefore = unit.fdStore.count
        defer { if unit.fdStore.count != storeBefore || !kept.isEmpty { onStoreChanged?(unit) } }
        if msg.fdStoreRemove, let name = msg.fdName {
            for entry in unit.fdStore where entry.name == name { system.close(entry.fd) }
            unit.fdStore.removeAll { $0.name == name }
        }
        if msg.fdStore {
            let max = service.machine.config.fileDescriptorStoreMax
            for fd in fds where unit.fdStore.count < max {
                unit.fdStore.append((fd, msg.fdName ?? "stored"))
                kept.insert(fd)
            }
            if fds.count > kept.count {
                report(.warning, "\(unit.name): File descriptor store full (FileDescriptorStoreMax=\(max)), closing \(fds.count - kept.count) received descriptors.")
            }
        }
        for e in events { onEvent(unit, .notify(e)) }
        // Descriptors not stored (BARRIER=1's among them) are closed by the defer: after every earlier message
        // was processed, which is exactly what a barrier waits for.
    }

    private var currentSecond: UInt64 { system.monotonicNow.ns / 1_000_000_000 }

    /// Counts a refusal against the sender's uid; the one that reaches `muteAfter` mutes it (said at most once
    /// a minute per uid).
    private func noteRefusal(_ unit: Unit, uid: UInt32, second: UInt64) {
        guard uid != 0 else { return }
        if refusals.count > 4096 { refusals = refusals.filter { $0.value.second == second } }
        var r = refusals[uid] ?? (second, 0)
        if r.second != second { r = (second, 0) }
        r.count += 1
        refusals[uid] = r
        if r.count == Self.muteAfter, second >= (lastMuteReport[uid] ?? 0) {
            lastMuteReport[uid] = second + 60
            report(.warning, "\(unit.name): Notify messages from uid \(uid) refused \(r.count) times in a second: ignoring that uid's messages for the rest of each such second.")
        }
    }

    private func count(_ unit: Unit, malformed: Bool) {
        if malformed {
            unit.notifyMalformed += 1
            totals.malformed += 1
        } else {
            unit.notifyAccepted += 1
            totals.accepted += 1
        }
    }

    /// NotifyAccess=: main (the main process), exec (main or control), all (any process of the service).
    private func allowed(_ unit: Unit, pid: Int32) -> Bool {
        guard pid > 0, let s = unit.service else { return false }
        switch unit.notifyAccess {
        case .none: return false
        case .main: return pid == s.machine.mainPID
        case .exec: return pid == s.machine.mainPID || pid == s.machine.controlPID
        case .all: return tracker.belongs(unit, pid: pid)
        }
    }

    /// The fd store outlives restarts, not a stop (systemd's FileDescriptorStorePreserve=no).
    func emptyStore(_ unit: Unit) {
        for entry in unit.fdStore { system.close(entry.fd) }
        unit.fdStore = []
        onStoreChanged?(unit)
    }

    /// Called after the unit's fd store changed, so that the holder keeps what it holds.
    var onStoreChanged: ((Unit) -> Void)?
}
