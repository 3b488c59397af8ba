import Glibc
import TendModel
import TendSystem

/// Every process the manager knows: which unit a pid belongs to and as what, the pidfds used to signal main and
/// control processes without a race, the sessions a unit's commands run in (its processes, without cgroups),
/// kill scopes and the wait for "all processes gone", forking services' main-pid discovery, and reaping.
///
/// It turns what the system reports into unit events (`onEvent`); it never decides what a unit does next.
final class ProcessTracker {
    private let system: any System
    private let reactor: any Reactor
    /// Which unit a live pid belongs to, and as what.
    private var owner: [Int32: (unit: Unit, role: ProcessRole)] = [:]
    /// Units currently in a kill state, re-checked when processes go.
    private var killing: [ObjectIdentifier: Unit] = [:]
    /// A process snapshot shared by every check within one loop iteration, and the pids seen to end since.
    private var snapshot: [ProcessInfo]?
    private var goneSinceSnapshot: Set<Int32> = []
    /// Feeds an event to the unit's machine (the manager's dispatch).
    var onEvent: (Unit, ServiceEvent) -> Void = { _, _ in }
    /// A tracked process is about to be reported dead: flush its last output first.
    var beforeExit: (Unit) -> Void = { _ in }
    /// Short-lived helpers of the manager that belong to no unit's state (runit's `control/LETTER` scripts):
    /// pid → what to do with its exit.
    private var helpers: [Int32: (ExitCause) -> Void] = [:]

    /// Calls `done` with the exit of `pid`, a child of the manager that no unit owns.
    func trackHelper(_ pid: Int32, _ done: @escaping (ExitCause) -> Void) { helpers[pid] = done }

    init(system: any System, reactor: any Reactor) {
        self.system = system
        self.reactor = reactor
    }

    /// A command was spawned for `unit`: track it (its pid is also its session: the spawner calls setsid).
    func track(_ p: SpawnedProcess, unit: Unit, role: ProcessRole) {
        owner[p.pid] = (unit, role)
        if p.pidfd >= 0 { unit.pidfds[p.pid] = p.pidfd }
        unit.sessions.insert(p.pid)
    }

    // MARK: Signals

    /// Sends a signal as the machine asked. The main and control processes get it through their pidfd; `.all`
    /// reaches every process of the unit's sessions (its process groups and their members).
    func signal(_ unit: Unit, _ target: KillTarget, _ sig: Int32) {
        guard let s = unit.service else { return }
        let (mainPID, controlPID) = (s.machine.mainPID, s.machine.controlPID)
        func send(_ pid: Int32) {
            if let fd = unit.pidfds[pid] { system.signal(pidfd: fd, sig) } else { system.signal(pid: pid, sig) }
        }
        switch target {
        case .main:
            if let p = mainPID { send(p) }
        case .control:
            if let p = controlPID { send(p) }
        case .all:
            // Look before signalling: a main process that dies at once would have its children in transit to
            // the manager (reparenting) while the process tree is walked, and they could be missed.
            let members = processes(of: unit)
            // The whole cgroup at once, forks in flight included, where the kernel has cgroup.kill.
            if sig == SIGKILL { _ = system.cgroupKill(unit.name.description) }
            if let p = mainPID { send(p) }
            if let p = controlPID { send(p) }
            for proc in members where proc.pid != mainPID && proc.pid != controlPID {
                system.signal(pid: proc.pid, sig)
            }
            if sig != SIGCONT && sig != SIGHUP { unit.lastKillSignal = sig }
        }
    }

    /// The live processes of a unit: members of the sessions its commands started, plus the tracked pids.
    /// One process-table read serves every check of a loop iteration; pids known to be gone since are left out.
    func processes(of unit: Unit) -> [ProcessInfo] {
        if snapshot == nil {
            snapshot = system.processTree(under: system.managerPID)
            goneSinceSnapshot = []
            reactor.afterEvents { [unowned self] in
                self.snapshot = nil
                self.goneSinceSnapshot = []
            }
        }
        let me = system.managerPID
        // With a cgroup, its members too: a daemon that left the unit's sessions (setsid) is still the unit's.
        let members = Set(system.cgroupMembers(unit.name.description) ?? [])
        return (snapshot ?? []).filter { p in
            p.pid != me && p.state != "Z" && p.state != "X" && !goneSinceSnapshot.contains(p.pid)
                && (unit.sessions.contains(p.session) || unit.pidfds[p.pid] != nil || members.contains(p.pid))
        }
    }

    /// Whether a process is one of the service's: its main or control process, in one of its sessions, or a
    /// descendant of either.
    func belongs(_ unit: Unit, pid: Int32) -> Bool {
        guard let s = unit.service else { return false }
        let (mainPID, controlPID) = (s.machine.mainPID, s.machine.controlPID)
        var current = pid
        for _ in 0..<64 {
            if current == mainPID || current == controlPID { return true }
            guard let info = system.processInfo(current) else { return false }
            if unit.sessions.contains(info.session) { return true }
            if info.ppid <= 1 || info.ppid == system.managerPID { return false }
            current = info.ppid
        }
        return false
    }

    // MARK: Kill states

    /// The unit's machine entered `to`: start or stop waiting for its processes to go, and forget what a
    /// finished run left behind.
    func stateChanged(_ unit: Unit, to: ServiceState) {
        if to.isKillState {
            killing[ObjectIdentifier(unit)] = unit
        } else {
            killing[ObjectIdentifier(unit)] = nil
            unit.lastKillSignal = nil
        }
        if to == .dead || to == .failed || to == .autoRestart {
            for (_, (fd, token)) in unit.watched {
                reactor.unwatch(token)
                if fd >= 0 { system.close(fd) }
            }
            unit.watched = [:]
            // Processes left behind (KillMode=process/none) are no longer tracked as the unit's.
            unit.sessions = []
        }
    }

    /// In a kill state: `.allProcessesGone` if nothing of the awaited scope is left; otherwise make sure each
    /// remaining process is watched (a pidfd turns readable when it exits) so its end triggers another check.
    func checkProcessesGone(_ unit: Unit) -> ServiceEvent? {
        guard let s = unit.service, let scope = s.machine.awaitedProcesses else { return nil }
        if scope != .all {
            return s.machine.mainPID == nil && s.machine.controlPID == nil ? .allProcessesGone : nil
        }
        var alive = 0
        for p in processes(of: unit) {
            if unit.watched[p.pid] != nil || owner[p.pid] != nil {
                alive += 1
                continue
            }
            let fd = system.openPidfd(p.pid)
            guard fd >= 0 else {
                goneSinceSnapshot.insert(p.pid)  // ESRCH: it ended after the scan
                continue
            }
            // Found now but not signalled with the rest (forked since, or in transit between parents): it gets
            // the unit's kill signal too, as systemd's repeated cgroup kill would give it.
            if let sig = unit.lastKillSignal {
                system.signal(pidfd: fd, sig)
                if sig != SIGKILL { system.signal(pidfd: fd, SIGCONT) }
            }
            let pid = p.pid
            do {
                let token = try reactor.watch(fd) { [unowned self] _ in
                    if let entry = unit.watched.removeValue(forKey: pid) {
                        self.reactor.unwatch(entry.1)
                        self.system.close(entry.0)
                    }
                    self.goneSinceSnapshot.insert(pid)
                    self.recheck(unit)
                }
                unit.watched[pid] = (fd, token)
                alive += 1
            } catch {
                system.close(fd)
            }
        }
        return alive == 0 && s.machine.mainPID == nil && s.machine.controlPID == nil ? .allProcessesGone : nil
    }

    private func recheck(_ unit: Unit) {
        guard unit.service?.machine.awaitedProcesses != nil else { return }
        if let e = checkProcessesGone(unit) { onEvent(unit, e) }
    }

    // MARK: Main process discovery

    /// Type=forking: the daemon's pid from PIDFile=, or the one process left of the unit.
    func resolveMainPID(_ unit: Unit) -> Int32? {
        guard let config = unit.config else { return nil }
        if let path = config.pidFile {
            guard let bytes = system.readFile(path, limit: 64) else { return nil }
            let text = String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == "\n" || $0 == " " }).first
            guard let t = text, let pid = Int32(t), pid > 0, system.processInfo(pid) != nil else { return nil }
            adopt(unit, pid)
            return pid
        }
        guard config.guessMainPID else { return nil }
        let me = system.managerPID
        let candidates = system.allProcesses().filter { p in
            p.state != "Z" && p.pid != me
                && (unit.sessions.contains(p.session) || (p.ppid == me && owner[p.pid] == nil))
                && owner[p.pid] == nil
        }
        guard candidates.count == 1 else { return nil }
        adopt(unit, candidates[0].pid)
        return candidates[0].pid
    }

    /// Type=forking with PIDFile= whose file isn't there (or names no process) when the parent exits: watch the
    /// file's directory (inotify: no polling) and hand the pid to `resolved` once the file names a live process.
    /// The start timeout ends the wait (the manager cancels the watch when the unit leaves `start`). False if
    /// no watch could be made (the directory doesn't exist): the caller fails the start at once.
    func awaitPIDFile(_ unit: Unit, _ resolved: @escaping (Int32) -> Void) -> Bool {
        guard unit.pidFileWatch == nil, let path = unit.config?.pidFile, let slash = path.lastIndex(of: "/") else { return false }
        let dir = slash == path.startIndex ? "/" : String(path[..<slash])
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { return false }
        guard inotify_add_watch(fd, dir, UInt32(IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_MODIFY)) >= 0 else {
            system.close(fd)
            return false
        }
        let check: () -> Void = { [unowned self] in
            guard let w = unit.pidFileWatch else { return }
            var buf = [UInt8](repeating: 0, count: 4096)
            while Glibc.read(w.fd, &buf, buf.count) > 0 {}
            guard let pid = self.resolveMainPID(unit) else { return }
            self.cancelPIDFileWatch(unit)
            resolved(pid)
        }
        guard let token = try? reactor.watch(fd, { _ in check() }) else {
            system.close(fd)
            return false
        }
        unit.pidFileWatch = (fd, token)
        reactor.afterEvents(check)  // written between the failed read and the watch
        return true
    }

    func cancelPIDFileWatch(_ unit: Unit) {
        guard let w = unit.pidFileWatch else { return }
        reactor.unwatch(w.token)
        system.close(w.fd)
        unit.pidFileWatch = nil
    }

    /// `MAINPID=` from a process allowed to send it: the new pid becomes the unit's main process.
    func switchMain(_ unit: Unit, from old: Int32?, to pid: Int32) {
        if let old, owner[old]?.unit === unit { owner[old] = nil }
        adopt(unit, pid)
    }

    private func adopt(_ unit: Unit, _ pid: Int32) {
        owner[pid] = (unit, .main)
        let fd = system.openPidfd(pid)
        if fd >= 0 { unit.pidfds[pid] = fd }
        let info = system.processInfo(pid)
        if let info { unit.sessions.insert(info.session) }
        unit.log?.currentPID = pid
        // A daemon that is not our child (no subreaper) can't be reaped: watch its pidfd for the exit.
        if let info, info.ppid != system.managerPID, fd >= 0 {
            if let token = try? reactor.watch(fd, { [unowned self] _ in
                if let entry = unit.watched.removeValue(forKey: pid) { self.reactor.unwatch(entry.1) }
                self.processEnded(pid, .exited(0))
            }) {
                unit.watched[pid] = (-1, token)
            }
        }
    }

    /// The manager was started again (after its own death, or daemon-reexec) and `pid` is a unit's main process
    /// still running: track it with the pidfd the holder kept, and its session. It is the holder's child now,
    /// so its exit arrives through `holderReaped`.
    func adoptRunning(_ unit: Unit, pid: Int32, pidfd: Int32) {
        owner[pid] = (unit, .main)
        unit.pidfds[pid] = pidfd
        unit.sessions.insert(pid)
        if let info = system.processInfo(pid) { unit.sessions.insert(info.session) }
        unit.log?.currentPID = pid
    }

    /// The holder reaped `pid` (a process the previous manager left, or an orphan of an adopted one).
    func holderReaped(_ pid: Int32, _ cause: ExitCause) {
        goneSinceSnapshot.insert(pid)
        if owner[pid] != nil {
            processEnded(pid, cause)
        } else {
            for unit in Array(killing.values) { recheck(unit) }
        }
    }

    // MARK: Reaping

    /// SIGCHLD: reap every exited child; tracked ones become `.exited` events, orphans re-check the units
    /// waiting for their processes to go.
    func reapChildren() {
        var reapedOrphan = false
        while let (pid, cause) = system.reapChild() {
            goneSinceSnapshot.insert(pid)
            if owner[pid] != nil {
                processEnded(pid, cause)
            } else if let done = helpers.removeValue(forKey: pid) {
                done(cause)
            } else {
                reapedOrphan = true
            }
        }
        guard reapedOrphan else { return }
        for unit in Array(killing.values) { recheck(unit) }
    }

    private func processEnded(_ pid: Int32, _ cause: ExitCause) {
        guard let (unit, _) = owner.removeValue(forKey: pid) else { return }
        if let entry = unit.watched.removeValue(forKey: pid) { reactor.unwatch(entry.1) }
        if let fd = unit.pidfds.removeValue(forKey: pid) { system.close(fd) }
        goneSinceSnapshot.insert(pid)
        // Its last output first, then the news of its death.
        beforeExit(unit)
        // A SIGKILL the cgroup's OOM counter accounts for was the kernel's OOM killer: said first, so that the
        // result is oom-kill (an operator's kill -9 leaves the counter alone).
        if cause == .killed(SIGKILL), let n = system.cgroupOOMKills(unit.name.description), n > unit.oomKillsSeen {
            unit.oomKillsSeen = n
            onEvent(unit, .oomKilled)
        }
        onEvent(unit, .exited(pid: pid, cause))
    }
}
