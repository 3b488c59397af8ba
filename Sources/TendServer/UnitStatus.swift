import Glibc
import TendModel
import TendSystem
import TendEngine
import TendControl

/// A unit's state as the control protocol carries it (`UnitInfo`), and its `tend show` properties.
public enum UnitStatusJSON {
    /// `brief`: only what `tend list` shows (unit, load, active, sub, description, mainPID), which is cheap.
    public static func make(_ unit: Unit, manager: Manager, logLines: Int, brief: Bool = false,
                            clock: Clock = Clock()) -> UnitInfo {
        let name = unit.name.description
        var u = UnitInfo(unit: name, load: unit.loadState.rawValue, active: unit.activeState.rawValue,
                         sub: unit.subState, description: unit.unitDescription ?? name)
        if brief {
            u.mainPID = unit.service?.machine.mainPID ?? 0
            return u
        }
        let config = unit.config
        u.fragmentPath = config?.fragmentPath ?? ""
        u.dropIns = config?.dropInPaths ?? []
        u.enabled = manager.enablement(unit)
        if let m = unit.machine {
            u.result = m.result.rawValue
            u.since = Int64(clock.realtime(m.stateSince))
            u.activeEnterTimestamp = m.activeEnterTimestamp.map { Int64(clock.realtime($0)) }
            u.inactiveEnterTimestamp = m.inactiveEnterTimestamp.map { Int64(clock.realtime($0)) }
            u.mainPID = m.mainPID ?? 0
            if let p = m.mainPID { u.mainComm = manager.system.processInfo(p)?.comm ?? "" }
            u.controlPID = m.controlPID ?? 0
            if let c = m.controlCommand { u.controlCommand = "\(c.kind.rawValue)=\(c.command.commandLine)" }
            u.nRestarts = m.restartCount
            u.restartCauses = m.restartsByCause
            if let exit = m.lastMainExit {
                u.execMain = UnitInfo.ExecMain(pid: m.lastMainPID ?? 0, code: exit.codeName, status: exit.value,
                                               statusText: exit.statusText)
            }
            u.processes = m.processLog.map { p in
                UnitInfo.ProcessEntry(pid: p.pid, command: "\(p.kind.rawValue)=\(p.command)", code: p.cause.codeName,
                                      status: p.cause.value, text: p.cause.statusText + (p.ignoredFailure ? " (ignored)" : ""))
            }
            live(unit, manager, &u)
            u.type = m.config.type.rawValue
            u.restart = m.config.restart.rawValue
        }
        u.jobResult = manager.jobs.timings[name]?.lastResult?.rawValue
        if let j = manager.jobs.job(for: name) { u.job = j.kind.rawValue + (j.running ? " running" : " waiting") }
        u.skippedBy = manager.jobs.timings[name]?.skippedBy
        u.statusText = unit.statusText
        u.statusErrno = unit.statusErrno
        u.statusBusError = unit.statusBusError
        u.statusExitStatus = unit.statusExitStatus
        if unit.notifyPath != nil {
            u.notify = UnitInfo.NotifyCounters(access: unit.notifyAccess.rawValue, accepted: unit.notifyAccepted,
                                               rejected: unit.notifyRejected, malformed: unit.notifyMalformed)
        }
        if !unit.fdStore.isEmpty { u.fdStore = unit.fdStore.count }
        u.setupError = unit.lastSetupError
        if let c = config {
            let missing = SandboxPlan(c.sandbox, manager.system.sandboxEnvironment).notApplied
            if !missing.isEmpty { u.notApplied = missing }
        }
        if let t = unit.timer {
            u.timerUnit = t.target
            u.timerNext = t.nextElapse.map { Int64(clamping: $0) }
            u.timerLast = t.lastTrigger > 0 ? Int64(clamping: t.lastTrigger) : nil
        }
        if !unit.diagnostics.isEmpty { u.diagnostics = unit.diagnostics.map(\.description) }
        if logLines > 0 {
            let records = unit.log?.recent(logLines) ?? LogReader.tail(directory: manager.logDirectory(unit), count: logLines,
                                                                 maxBytes: ControlProtocol.maxStatusLogBytes)
            u.log = records.map { String(decoding: $0, as: UTF8.self) }
        }
        return u
    }

    /// The unit's live processes as a tree (parents first), their threads and resident memory, from /proc.
    static func live(_ unit: Unit, _ manager: Manager, _ u: inout UnitInfo) {
        let procs = manager.processes(of: unit).sorted { $0.pid < $1.pid }
        guard !procs.isEmpty else { return }
        let page = Int64(max(sysconf(Int32(_SC_PAGESIZE)), 1))
        var tasks: Int64 = 0, memory: Int64 = 0
        var entries: [Int32: UnitInfo.LiveProcess] = [:]
        for p in procs {
            tasks += Int64(p.threads)
            memory += Int64(p.residentPages) * page
            var command = "[\(p.comm)]"
            if let raw = manager.system.readFile("/proc/\(p.pid)/cmdline", limit: 4096), !raw.isEmpty {
                let args = raw.split(separator: 0, omittingEmptySubsequences: false).dropLast(raw.last == 0 ? 1 : 0)
                command = args.map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ")
            }
            entries[p.pid] = UnitInfo.LiveProcess(pid: p.pid, ppid: p.ppid, command: command)
        }
        // Parents before children: roots (whose parent isn't the unit's) in pid order, each followed by its subtree.
        var children: [Int32: [Int32]] = [:]
        var roots: [Int32] = []
        for p in procs {
            if entries[p.ppid] != nil { children[p.ppid, default: []].append(p.pid) } else { roots.append(p.pid) }
        }
        var ordered: [UnitInfo.LiveProcess] = []
        var stack = roots.reversed().map { $0 }
        var seen: Set<Int32> = []
        while let pid = stack.popLast() {
            guard seen.insert(pid).inserted, let e = entries[pid] else { continue }
            ordered.append(e)
            stack += (children[pid] ?? []).reversed()
        }
        u.processTree = ordered
        u.tasks = tasks
        u.memoryBytes = memory
    }

    /// `tend show`: systemctl's property names and values.
    public static func properties(_ unit: Unit, manager: Manager, clock: Clock = Clock()) -> [(String, String)] {
        var p: [(String, String)] = [
            ("Id", unit.name.description),
            ("LoadState", unit.loadState.rawValue),
            ("ActiveState", unit.activeState.rawValue),
            ("SubState", unit.subState),
            ("UnitFileState", manager.enablement(unit)),
        ]
        guard let m = unit.machine else { return p }
        let c = m.config
        p += [
            ("Description", c.description ?? unit.name.description),
            ("FragmentPath", c.fragmentPath ?? ""),
            ("DropInPaths", c.dropInPaths.joined(separator: " ")),
            ("Type", c.type.rawValue),
            ("Restart", c.restart.rawValue),
            ("RestartUSec", c.restartSec.description),
            ("TimeoutStartUSec", c.timeoutStart.description),
            ("TimeoutStopUSec", c.timeoutStop.description),
            ("KillMode", c.killMode.rawValue),
            ("KillSignal", String(c.killSignal)),
            ("Result", m.result.rawValue),
            ("MainPID", String(m.mainPID ?? 0)),
            ("ControlPID", String(m.controlPID ?? 0)),
            ("NRestarts", String(m.restartCount)),
            ("ExecMainPID", String(m.lastMainPID ?? 0)),
            ("ExecMainCode", m.lastMainExit.map { String($0.codeNumber) } ?? "0"),
            ("ExecMainStatus", String(m.lastMainExit?.value ?? 0)),
            ("StateChangeTimestamp", TimeFormat.timestamp(clock.realtime(m.stateSince))),
            ("ActiveEnterTimestamp", m.activeEnterTimestamp.map { TimeFormat.timestamp(clock.realtime($0)) } ?? ""),
            ("InactiveEnterTimestamp", m.inactiveEnterTimestamp.map { TimeFormat.timestamp(clock.realtime($0)) } ?? ""),
            ("StartLimitIntervalUSec", c.startLimitInterval.description),
            ("StartLimitBurst", String(c.startLimitBurst)),
            ("User", c.user ?? ""),
            ("Group", c.group ?? ""),
            ("WorkingDirectory", c.workingDirectory ?? ""),
            ("ExecStart", c.execStart.map(\.commandLine).joined(separator: " ; ")),
            ("StandardOutput", String(describing: c.standardOutput)),
            ("StatusText", unit.statusText ?? ""),
            ("StatusErrno", String(unit.statusErrno ?? 0)),
            ("NotifyAccess", unit.notifyAccess.rawValue),
            ("NotifyMessagesAccepted", String(unit.notifyAccepted)),
            ("NotifyMessagesRejected", String(unit.notifyRejected)),
            ("NotifyMessagesMalformed", String(unit.notifyMalformed)),
            ("WatchdogUSec", m.watchdogInterval.description),
            ("FileDescriptorStoreMax", String(c.fileDescriptorStoreMax)),
            ("LogDirectory", manager.logDirectory(unit)),
            ("LogLinesDropped", String(unit.log?.droppedLines ?? 0)),
            ("LogLinesSuppressed", String(unit.log?.suppressedTotal ?? 0)),
            ("NFileDescriptorStore", String(unit.fdStore.count)),
            ("StandardError", String(describing: c.standardError)),
        ]
        p += sandboxProperties(c, manager.system.sandboxEnvironment)
        return p
    }
}

extension ExitCause {
    /// siginfo's CLD_* number, as systemctl show prints ExecMainCode=.
    var codeNumber: Int {
        switch self {
        case .exited: return 1
        case .killed: return 2
        case .dumped: return 3
        }
    }
}

