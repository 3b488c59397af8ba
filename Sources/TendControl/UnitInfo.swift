import TendModel

/// One unit's state as `status` and `list` carry it, and as `--output json` prints it. Field names are stable;
/// times are microseconds since the epoch (UTC); a pid of 0 means none. A field that is nil is left out of the
/// object: `list` sends only the first six, targets carry no process fields.
public struct UnitInfo: Equatable, Sendable {
    public var unit: String
    public var load: String
    public var active: String
    public var sub: String
    public var description: String
    public var mainPID: Int32?
    public var fragmentPath: String?
    public var dropIns: [String]?
    /// enabled, disabled or static.
    public var enabled: String?
    /// The service result: success, exit-code, signal, timeout, ...
    public var result: String?
    /// When the current state was entered.
    public var since: Int64?
    public var activeEnterTimestamp: Int64?
    public var inactiveEnterTimestamp: Int64?
    public var mainComm: String?
    public var controlPID: Int32?
    /// `ExecStop=/bin/x ...`: what the control process runs.
    public var controlCommand: String?
    public var nRestarts: Int?
    /// The last main process and how it ended.
    public var execMain: ExecMain?
    /// Processes of the current run that ended, oldest first.
    public var processes: [ProcessEntry]?
    public var type: String?
    public var restart: String?
    /// The last start job's result, the job queued or running (`start waiting`), the condition that skipped it.
    public var jobResult: String?
    public var job: String?
    public var skippedBy: String?
    /// sd_notify's STATUS=, ERRNO=, BUSERROR=, EXIT_STATUS=.
    public var statusText: String?
    public var statusErrno: Int32?
    public var statusBusError: String?
    public var statusExitStatus: Int32?
    public var notify: NotifyCounters?
    /// Descriptors in the fd store.
    public var fdStore: Int?
    /// Why the last command could not be set up.
    public var setupError: String?
    /// The unit file's problems (`file:line: ...`).
    public var diagnostics: [String]?
    /// The last log records, as stored (`LogFormat`).
    public var log: [String]?

    public struct ExecMain: Equatable, Sendable {
        public var pid: Int32
        /// exited, killed or dumped.
        public var code: String
        public var status: Int32
        /// `code=exited, status=1/FAILURE`.
        public var statusText: String
        public init(pid: Int32, code: String, status: Int32, statusText: String) {
            (self.pid, self.code, self.status, self.statusText) = (pid, code, status, statusText)
        }
    }

    public struct ProcessEntry: Equatable, Sendable {
        public var pid: Int32
        /// `ExecStartPre=/bin/check`.
        public var command: String
        public var code: String
        public var status: Int32
        public var text: String
        public init(pid: Int32, command: String, code: String, status: Int32, text: String) {
            (self.pid, self.command, self.code, self.status, self.text) = (pid, command, code, status, text)
        }
    }

    public struct NotifyCounters: Equatable, Sendable {
        public var access: String
        public var accepted: Int
        public var rejected: Int
        public var malformed: Int
        public init(access: String, accepted: Int, rejected: Int, malformed: Int) {
            (self.access, self.accepted, self.rejected, self.malformed) = (access, accepted, rejected, malformed)
        }
    }

    public init(unit: String, load: String, active: String, sub: String, description: String) {
        (self.unit, self.load, self.active, self.sub, self.description) = (unit, load, active, sub, description)
    }

    /// Active or reloading: what `tend status` exits 0 for.
    public var isActive: Bool { active == "active" || active == "reloading" }

    // MARK: Codec

    public var json: JSON {
        var o: [(String, JSON)] = [
            ("unit", .string(unit)), ("load", .string(load)), ("active", .string(active)), ("sub", .string(sub)),
            ("description", .string(description)),
        ]
        func add(_ key: String, _ value: JSON?) { if let value { o.append((key, value)) } }
        func str(_ s: String?) -> JSON? { s.map { .string($0) } }
        func int<I: BinaryInteger>(_ i: I?) -> JSON? { i.map { .int(Int64($0)) } }
        func strs(_ a: [String]?) -> JSON? { a.map { .array($0.map { .string($0) }) } }
        add("mainPID", int(mainPID))
        add("fragmentPath", str(fragmentPath))
        add("dropIns", strs(dropIns))
        add("enabled", str(enabled))
        add("result", str(result))
        add("since", int(since))
        add("activeEnterTimestamp", int(activeEnterTimestamp))
        add("inactiveEnterTimestamp", int(inactiveEnterTimestamp))
        add("mainComm", str(mainComm))
        add("controlPID", int(controlPID))
        add("controlCommand", str(controlCommand))
        add("nRestarts", int(nRestarts))
        if let e = execMain {
            o += [("execMainPID", .int(Int64(e.pid))), ("execMainCode", .string(e.code)),
                  ("execMainStatus", .int(Int64(e.status))), ("execMainStatusText", .string(e.statusText))]
        }
        add("processes", processes.map { list in
            .array(list.map { p in
                .object([("pid", .int(Int64(p.pid))), ("command", .string(p.command)), ("code", .string(p.code)),
                         ("status", .int(Int64(p.status))), ("text", .string(p.text))])
            })
        })
        add("type", str(type))
        add("restart", str(restart))
        add("jobResult", str(jobResult))
        add("job", str(job))
        add("skippedBy", str(skippedBy))
        add("statusText", str(statusText))
        add("statusErrno", int(statusErrno))
        add("statusBusError", str(statusBusError))
        add("statusExitStatus", int(statusExitStatus))
        add("notify", notify.map { n in
            .object([("access", .string(n.access)), ("accepted", .int(Int64(n.accepted))),
                     ("rejected", .int(Int64(n.rejected))), ("malformed", .int(Int64(n.malformed)))])
        })
        add("fdStore", int(fdStore))
        add("setupError", str(setupError))
        add("diagnostics", strs(diagnostics))
        add("log", strs(log))
        return .object(o)
    }

    public init(json: JSON) throws(ControlError) {
        let f = Fields(json: json)
        func int32(_ key: String) throws(ControlError) -> Int32? { try f.int(key).map { Int32(clamping: $0) } }
        guard let unit = try f.string("unit") else { throw ControlError.malformed("a unit object without \"unit\"") }
        self.init(unit: unit, load: try f.string("load") ?? "loaded", active: try f.string("active") ?? "inactive",
                  sub: try f.string("sub") ?? "dead", description: try f.string("description") ?? unit)
        mainPID = try int32("mainPID")
        fragmentPath = try f.string("fragmentPath")
        dropIns = json["dropIns"] == nil ? nil : try f.strings("dropIns")
        enabled = try f.string("enabled")
        result = try f.string("result")
        since = try f.int("since")
        activeEnterTimestamp = try f.int("activeEnterTimestamp")
        inactiveEnterTimestamp = try f.int("inactiveEnterTimestamp")
        mainComm = try f.string("mainComm")
        controlPID = try int32("controlPID")
        controlCommand = try f.string("controlCommand")
        nRestarts = try f.int("nRestarts").map { Int(clamping: $0) }
        if let pid = try int32("execMainPID") {
            execMain = ExecMain(pid: pid, code: try f.string("execMainCode") ?? "", status: try int32("execMainStatus") ?? 0,
                                statusText: try f.string("execMainStatusText") ?? "")
        }
        if json["processes"] != nil {
            var list: [ProcessEntry] = []
            for p in try f.objects("processes") {
                let g = Fields(json: p)
                list.append(ProcessEntry(pid: Int32(clamping: try g.int("pid") ?? 0), command: try g.string("command") ?? "",
                                         code: try g.string("code") ?? "", status: Int32(clamping: try g.int("status") ?? 0),
                                         text: try g.string("text") ?? ""))
            }
            processes = list
        }
        type = try f.string("type")
        restart = try f.string("restart")
        jobResult = try f.string("jobResult")
        job = try f.string("job")
        skippedBy = try f.string("skippedBy")
        statusText = try f.string("statusText")
        statusErrno = try int32("statusErrno")
        statusBusError = try f.string("statusBusError")
        statusExitStatus = try int32("statusExitStatus")
        if let n = json["notify"], n != .null {
            let g = Fields(json: n)
            notify = NotifyCounters(access: try g.string("access") ?? "none", accepted: Int(clamping: try g.int("accepted") ?? 0),
                                    rejected: Int(clamping: try g.int("rejected") ?? 0),
                                    malformed: Int(clamping: try g.int("malformed") ?? 0))
        }
        fdStore = try f.int("fdStore").map { Int(clamping: $0) }
        setupError = try f.string("setupError")
        diagnostics = json["diagnostics"] == nil ? nil : try f.strings("diagnostics")
        log = json["log"] == nil ? nil : try f.strings("log")
    }
}
