import Glibc
import TendModel
import TendSystem
import TendEngine
import TendControl

/// A unit's state as the control protocol carries it (and `--output json` prints it). Field names are
/// stable; times are microseconds since the epoch (UTC); a pid of 0 means none.
public enum UnitStatusJSON {
    /// `brief`: only what `tend list` shows (unit, load, active, sub, description, mainPID), which is cheap.
    public static func make(_ unit: Unit, manager: Manager, logLines: Int, brief: Bool = false,
                            clock: Clock = Clock()) -> JSON {
        let name = unit.name.description
        var o: [(String, JSON)] = [
            ("unit", .string(name)),
            ("load", .string(unit.loadState.rawValue)),
            ("active", .string(unit.activeState.rawValue)),
            ("sub", .string(unit.subState)),
        ]
        let config = unit.config
        o.append(("description", .string(config?.description ?? name)))
        if brief {
            o.append(("mainPID", .int(Int64(unit.machine?.mainPID ?? 0))))
            return .object(o)
        }
        o.append(("fragmentPath", .string(config?.fragmentPath ?? "")))
        o.append(("dropIns", .array((config?.dropInPaths ?? []).map { .string($0) })))
        o.append(("enabled", .string(manager.enablement(unit))))
        if let m = unit.machine {
            o.append(("result", .string(m.result.rawValue)))
            o.append(("since", .int(Int64(clock.realtime(m.stateSince)))))
            if let t = m.activeEnterTimestamp { o.append(("activeEnterTimestamp", .int(Int64(clock.realtime(t))))) }
            if let t = m.inactiveEnterTimestamp {
                o.append(("inactiveEnterTimestamp", .int(Int64(clock.realtime(t)))))
            }
            o.append(("mainPID", .int(Int64(m.mainPID ?? 0))))
            if let p = m.mainPID { o.append(("mainComm", .string(ProcessTable.comm(p) ?? ""))) }
            o.append(("controlPID", .int(Int64(m.controlPID ?? 0))))
            if let c = m.controlCommand {
                o.append(("controlCommand", .string("\(c.kind.rawValue)=\(c.command.commandLine)")))
            }
            o.append(("nRestarts", .int(Int64(m.restartCount))))
            if let exit = m.lastMainExit {
                o.append(("execMainPID", .int(Int64(m.lastMainPID ?? 0))))
                o.append(("execMainCode", .string(exit.codeName)))
                o.append(("execMainStatus", .int(Int64(exit.value))))
                o.append(("execMainStatusText", .string(exit.statusText)))
            }
            o.append(("processes", .array(m.processLog.map { p in
                .object([
                    ("pid", .int(Int64(p.pid))), ("command", .string("\(p.kind.rawValue)=\(p.command)")),
                    ("code", .string(p.cause.codeName)), ("status", .int(Int64(p.cause.value))),
                    ("text", .string(p.cause.statusText + (p.ignoredFailure ? " (ignored)" : ""))),
                ])
            })))
            o.append(("type", .string(m.config.type.rawValue)))
            o.append(("restart", .string(m.config.restart.rawValue)))
        }
        if let r = manager.jobs.timings[name]?.lastResult { o.append(("jobResult", .string(r.rawValue))) }
        if let j = manager.jobs.job(for: name) { o.append(("job", .string(j.kind.rawValue + (j.running ? " running" : " waiting")))) }
        if let c = manager.jobs.timings[name]?.skippedBy { o.append(("skippedBy", .string(c))) }
        if let t = unit.statusText { o.append(("statusText", .string(t))) }
        if let e = unit.statusErrno { o.append(("statusErrno", .int(Int64(e)))) }
        if let b = unit.statusBusError { o.append(("statusBusError", .string(b))) }
        if let x = unit.statusExitStatus { o.append(("statusExitStatus", .int(Int64(x)))) }
        if unit.notifyPath != nil {
            o.append(("notify", .object([
                ("access", .string(unit.notifyAccess.rawValue)),
                ("accepted", .int(Int64(unit.notifyAccepted))),
                ("rejected", .int(Int64(unit.notifyRejected))),
                ("malformed", .int(Int64(unit.notifyMalformed))),
            ])))
        }
        if !unit.fdStore.isEmpty { o.append(("fdStore", .int(Int64(unit.fdStore.count)))) }
        if let e = unit.lastSetupError { o.append(("setupError", .string(e))) }
        if !unit.diagnostics.isEmpty { o.append(("diagnostics", .array(unit.diagnostics.map { .string($0.description) }))) }
        if logLines > 0 {
            let records = unit.log?.recent(logLines) ?? LogReader.tail(directory: manager.logDirectory(unit), count: logLines)
            o.append(("log", .array(records.map { .string(String(decoding: $0, as: UTF8.self)) })))
        }
        return .object(o)
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

