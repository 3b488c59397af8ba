import Glibc
import TendModel
import TendSystem

/// Surviving the manager's own death (docs/architecture.md): the holder keeps the descriptors a running
/// service depends on; a manager started again takes them back and adopts the services still running.
///
/// Held names: `log UNIT 0..3` (the log pipes' ends), `notify UNIT PATH` (the notify socket), `fdstore UNIT
/// INDEX NAME` (the fd store), `main UNIT PID NRESTARTS [transient]` (the pidfd of a service's main process: its
/// identity, safe from pid reuse, and the restart count to keep; `transient` while it starts or stops).
/// What the holder's `main` entry of a unit says; compared on every dispatch, so that the entry's name is only
/// formatted (and sent) when it changes.
struct HeldMain: Equatable {
    var pid: Int32
    var restarts: Int
    /// Running or reloading; otherwise starting or stopping (`transient`).
    var up: Bool

    func name(_ unit: Unit) -> String { "main \(unit.name) \(pid) \(restarts)\(up ? "" : " transient")" }
}

extension Manager {
    /// Takes `holder` for this manager: registers what must outlive it from now on, and listens for the exits
    /// the holder reports. Call before `boot`, which adopts what the holder handed back.
    public func attach(holder h: Holder) {
        holder = h
        notify.onSocket = { unit, fd, path in h.hold("notify \(unit.name) \(path)", fd) }
        notify.onStoreChanged = { unit in
            for name in unit.heldStore { h.release(name) }
            unit.heldStore = unit.fdStore.enumerated().map { i, entry in
                let name = "fdstore \(unit.name) \(i) \(entry.name)"
                h.hold(name, entry.fd)
                return name
            }
        }
        do {
            var token: UInt64 = 0
            token = try loop.watch(h.socket) { [unowned self] _ in
                guard let exits = h.readExits() else {
                    self.loop.unwatch(token)
                    self.holder = nil
                    self.report(.warning, "The holder process is gone: the services will not survive the manager's death.")
                    return
                }
                for e in exits { self.tracker.holderReaped(e.pid, e.cause) }
            }
        } catch {
            holder = nil
        }
    }

    /// After `registry.loadAll`: the services the previous manager ran, still running, become running units
    /// again (no start, no duplicate), with their log pipes and notify sockets; exits that happened while no
    /// manager ran are fed in as if just reaped, so `Restart=` applies to them.
    func adoptFromHolder() {
        guard let h = holder else { return }
        var logs: [String: [Int32]] = [:]
        var stores: [String: [(index: Int, fd: Int32, name: String)]] = [:]
        var adopted = 0
        for (name, fd) in h.inherited {
            let f = name.split(separator: " ", maxSplits: 3).map(String.init)
            switch f.first {
            case "log" where f.count == 3:
                logs[f[1], default: [-1, -1, -1, -1]][Int(f[2]) ?? 0] = fd
            case "notify" where f.count == 3:
                if let u = unit(named: f[1]) { notify.adopt(u, fd: fd, path: f[2]) } else { system.close(fd) }
            case "fdstore" where f.count == 4:
                stores[f[1], default: []].append((Int(f[2]) ?? 0, fd, f[3]))
            default: break
            }
        }
        for (unitName, entries) in stores {
            guard let u = unit(named: unitName), u.fdStore.isEmpty else {
                for e in entries { system.close(e.fd) }
                continue
            }
            let sorted = entries.sorted { $0.index < $1.index }
            u.fdStore = sorted.map { ($0.fd, $0.name) }
            u.heldStore = sorted.map { "fdstore \(unitName) \($0.index) \($0.name)" }
        }
        for (unitName, fds) in logs {
            guard !fds.contains(-1), let u = unit(named: unitName) else {
                for fd in fds where fd >= 0 { system.close(fd) }
                continue
            }
            let s = sink(u)
            do { try s.adoptPipes(fds) } catch { for fd in fds { system.close(fd) } }
        }
        for (name, fd) in h.inherited where name.hasPrefix("main ") {
            let f = name.split(separator: " ").map(String.init)
            guard f.count == 4, let pid = Int32(f[2]), let restarts = Int(f[3]), let u = unit(named: f[1]),
                let service = u.service, service.machine.state == .dead || service.machine.state == .failed
            else {
                // Caught half-way through a start or a stop (or of a unit that is gone): end it, so that a fresh
                // start doesn't run it twice. The holder reaps it.
                if name.hasSuffix(" transient") {
                    system.signal(pidfd: fd, SIGKILL)
                    if f.count > 1 { report(.warning, "\(f[1]): its main process \(f.count > 2 ? f[2] : "?") was starting or stopping when the previous manager ended: killed; the unit starts afresh if wanted.") }
                }
                system.close(fd)
                continue
            }
            let before = service.machine.state
            tracker.adoptRunning(u, pid: pid, pidfd: fd)
            let effects = service.machine.adopt(mainPID: pid, restartCount: restarts, now: system.monotonicNow)
            var queue: [ServiceEvent] = []
            for fx in effects { perform(u, fx, queue: &queue) }
            u.heldMain = HeldMain(pid: pid, restarts: restarts, up: true)
            stateChanged(u, from: before, to: .running)
            for e in queue { dispatch(u, e) }
            adopted += 1
        }
        // Only the descriptors taken above stay open here (the holder keeps its own copies until released).
        let exits = h.pendingExits
        h.finishHandover()
        if adopted > 0 { report(.info, "Adopted \(adopted) running services from the previous manager.") }
        for e in exits { tracker.holderReaped(e.pid, e.cause) }
    }

    /// Keeps the holder's `main` entry of `unit` in step: held while the service has a main process (marked
    /// transient unless it runs or reloads), released once it is down. Runs after every dispatch: it reads the
    /// machine's fields in place (no copy of the machine) and formats a name only when the entry changes.
    func syncHeldMain(_ unit: Unit) {
        guard let h = holder, let s = unit.service else { return }
        var wanted: HeldMain?
        // Held for every state with a main process: a running one is adopted, one caught half-way (starting,
        // stopping) is ended by the next manager, which then starts the unit afresh if wanted: no duplicate.
        let state = s.machine.state
        if let pid = s.machine.mainPID, state != .dead, state != .failed {
            wanted = HeldMain(pid: pid, restarts: s.machine.restartCount, up: state == .running || state == .reload)
        }
        guard wanted != unit.heldMain else { return }
        if let old = unit.heldMain { h.release(old.name(unit)) }
        unit.heldMain = nil
        guard let wanted else { return }
        let pid = wanted.pid
        var fd = unit.pidfds[pid] ?? -1
        var opened = false
        if fd < 0 {
            fd = system.openPidfd(pid)
            opened = fd >= 0
        }
        guard fd >= 0 else { return }
        h.hold(wanted.name(unit), fd)
        if opened { system.close(fd) }
        unit.heldMain = wanted
    }

    /// `tend daemon-reexec`: the holder starts a new manager (the binary as it is on disk now) when this one
    /// exits, and everything is handed over as after a crash, without touching the services.
    /// The exit comes on the next turn of the loop, so that the reply to the request goes out first; what was
    /// read of the log pipes until then is written before it, the rest stays in the pipes for the next manager.
    public func reexec() -> Bool {
        guard let h = holder else { return false }
        h.requestReexec()
        loop.setDeadline(ObjectIdentifier(h), slot: 0, at: system.monotonicNow) { [unowned self] in
            self.finishLogs()
            exit(0)
        }
        return true
    }
}
