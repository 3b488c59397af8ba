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
    /// Automatic restarts by cause (the service result that caused each), since the unit was loaded.
    public var restartCauses: [String: Int]?
    /// The last main process and how it ended.
    public var execMain: ExecMain?
    /// The last exit of each command (kept across runs: a crash stays visible once the service runs again),
    /// oldest first.
    public var processes: [ProcessEntry]?
    /// The unit's live processes (its sessions' members), parents before children, and their threads and
    /// resident memory summed (systemctl's `Tasks:` and `Memory:`; tend has no cgroup to ask).
    public var processTree: [LiveProcess]?
    public var tasks: Int64?
    public var memoryBytes: Int64?
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
    /// A timer's unit to start, next elapse and last trigger (µs since the epoch; absent: none).
    public var timerUnit: String?
    public var timerNext: Int64?
    public var timerLast: Int64?
    /// The unit file's problems (`file:line: ...`).
    public var diagnostics: [String]?
    /// The sandbox settings this manager can't apply here (`PrivateTmp=yes: not applied (...)`).
    public var notApplied: [String]?
    /// The last log records, as stored (`LogFormat`).
    public var log: [String]?

    /// The last main process: its pid, how it ended (`exited`, `killed`, `dumped`), the status or signal
    /// number, and systemctl's wording (`code=exited, status=1/FAILURE`).
    public struct ExecMain: Equatable, Sendable {
        public var pid: Int32, code: String, status: Int32, statusText: String
        public init(pid: Int32, code: String, status: Int32, statusText: String) {
            (self.pid, self.code, self.status, self.statusText) = (pid, code, status, statusText)
        }
    }

    /// A process of the current run that ended: its pid, what it ran (`ExecStartPre=/bin/check`), how it ended.
    public struct ProcessEntry: Equatable, Sendable {
        public var pid: Int32, command: String, code: String, status: Int32, text: String
        public init(pid: Int32, command: String, code: String, status: Int32, text: String) {
            (self.pid, self.command, self.code, self.status, self.text) = (pid, command, code, status, text)
        }
    }

    /// A live process of the unit: pid, parent, and its command line (or `[comm]` when it has none).
    public struct LiveProcess: Equatable, Sendable {
        public var pid: Int32, ppid: Int32, command: String
        public init(pid: Int32, ppid: Int32, command: String) { (self.pid, self.ppid, self.command) = (pid, ppid, command) }
    }

    /// sd_notify: the NotifyAccess= in force and the datagrams accepted, refused and malformed.
    public struct NotifyCounters: Equatable, Sendable {
        public var access: String, accepted: Int, rejected: Int, malformed: Int
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
        let strings: [(String, String?)] = [
            ("fragmentPath", fragmentPath), ("enabled", enabled), ("result", result), ("mainComm", mainComm),
            ("controlCommand", controlCommand), ("type", type), ("restart", restart), ("jobResult", jobResult),
            ("job", job), ("skippedBy", skippedBy), ("statusText", statusText), ("statusBusError", statusBusError),
            ("setupError", setupError), ("timerUnit", timerUnit),
        ]
        let numbers: [(String, Int64?)] = [
            ("mainPID", mainPID.map(Int64.init)), ("controlPID", controlPID.map(Int64.init)), ("since", since),
            ("activeEnterTimestamp", activeEnterTimestamp), ("inactiveEnterTimestamp", inactiveEnterTimestamp),
            ("nRestarts", nRestarts.map(Int64.init)), ("statusErrno", statusErrno.map(Int64.init)),
            ("statusExitStatus", statusExitStatus.map(Int64.init)), ("fdStore", fdStore.map(Int64.init)),
            ("tasks", tasks), ("memoryBytes", memoryBytes), ("timerNext", timerNext), ("timerLast", timerLast),
        ]
        let lists: [(String, [String]?)] = [("dropIns", dropIns), ("diagnostics", diagnostics), ("log", log),
                                            ("notApplied", notApplied)]
        for case let (key, value?) in numbers { o.append((key, .int(value))) }
        for case let (key, value?) in strings { o.append((key, .string(value))) }
        for case let (key, value?) in lists { o.append((key, .array(value.map { .string($0) }))) }
        if let e = execMain {
            o += [("execMainPID", .int(Int64(e.pid))), ("execMainCode", .string(e.code)),
                  ("execMainStatus", .int(Int64(e.status))), ("execMainStatusText", .string(e.statusText))]
        }
        if let processes {
            o.append(("processes", .array(processes.map { p in
                .object([("pid", .int(Int64(p.pid))), ("command", .string(p.command)), ("code", .string(p.code)),
                         ("status", .int(Int64(p.status))), ("text", .string(p.text))])
            })))
        }
        if let processTree {
            o.append(("processTree", .array(processTree.map { p in
                .object([("pid", .int(Int64(p.pid))), ("ppid", .int(Int64(p.ppid))), ("command", .string(p.command))])
            })))
        }
        if let r = restartCauses {
            o.append(("restartCauses", .object(r.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) })))
        }
        if let n = notify {
            o.append(("notify", .object([("access", .string(n.access)), ("accepted", .int(Int64(n.accepted))),
                                         ("rejected", .int(Int64(n.rejected))), ("malformed", .int(Int64(n.malformed)))])))
        }
        return .object(o)
    }

    /// How each field is read, by its name: decoding is one pass over the object's pairs with one hash lookup
    /// each (a `list` of 1000 units is 1000 objects; looking 35 names up in each would cost more than the rest).
    private typealias Setter = @Sendable (inout UnitInfo, Value) throws -> Void
    private static let stringFields: [(String, WritableKeyPath<UnitInfo, String?> & Sendable)] = [
        ("fragmentPath", \.fragmentPath), ("enabled", \.enabled), ("result", \.result), ("mainComm", \.mainComm),
        ("controlCommand", \.controlCommand), ("type", \.type), ("restart", \.restart), ("jobResult", \.jobResult),
        ("job", \.job), ("skippedBy", \.skippedBy), ("statusText", \.statusText), ("statusBusError", \.statusBusError),
        ("setupError", \.setupError), ("timerUnit", \.timerUnit),
    ]
    private static let numberFields: [(String, WritableKeyPath<UnitInfo, Int64?> & Sendable)] = [
        ("since", \.since), ("activeEnterTimestamp", \.activeEnterTimestamp),
        ("inactiveEnterTimestamp", \.inactiveEnterTimestamp), ("tasks", \.tasks), ("memoryBytes", \.memoryBytes),
        ("timerNext", \.timerNext), ("timerLast", \.timerLast),
    ]
    private static let pidFields: [(String, WritableKeyPath<UnitInfo, Int32?> & Sendable)] = [
        ("mainPID", \.mainPID), ("controlPID", \.controlPID), ("statusErrno", \.statusErrno),
        ("statusExitStatus", \.statusExitStatus),
    ]
    private static let listFields: [(String, WritableKeyPath<UnitInfo, [String]?> & Sendable)] = [
        ("dropIns", \.dropIns), ("diagnostics", \.diagnostics), ("log", \.log), ("notApplied", \.notApplied),
    ]

    private static let setters: [String: Setter] = {
        var d: [String: Setter] = [
            "unit": { $0.unit = try $1.string() }, "load": { $0.load = try $1.string() },
            "active": { $0.active = try $1.string() }, "sub": { $0.sub = try $1.string() },
            "description": { $0.description = try $1.string() },
            "nRestarts": { $0.nRestarts = Int(clamping: try $1.int()) }, "fdStore": { $0.fdStore = Int(clamping: try $1.int()) },
            "execMainPID": { $0.exec.pid = try $1.int32() }, "execMainCode": { $0.exec.code = try $1.string() },
            "execMainStatus": { $0.exec.status = try $1.int32() }, "execMainStatusText": { $0.exec.statusText = try $1.string() },
            "processes": { u, v in
                var list: [ProcessEntry] = []
                for p in try v.objects() {
                    let g = Fields(json: p)
                    list.append(ProcessEntry(pid: Int32(clamping: try g.int("pid") ?? 0), command: try g.string("command") ?? "",
                                             code: try g.string("code") ?? "", status: Int32(clamping: try g.int("status") ?? 0),
                                             text: try g.string("text") ?? ""))
                }
                u.processes = list
            },
            "processTree": { u, v in
                var list: [LiveProcess] = []
                for p in try v.objects() {
                    let g = Fields(json: p)
                    list.append(LiveProcess(pid: Int32(clamping: try g.int("pid") ?? 0), ppid: Int32(clamping: try g.int("ppid") ?? 0),
                                            command: try g.string("command") ?? ""))
                }
                u.processTree = list
            },
            "restartCauses": { u, v in
                guard case .object(let pairs) = v.value else { throw ControlError.malformed("restartCauses is not an object") }
                var d: [String: Int] = [:]
                for (k, n) in pairs { d[k] = Int(clamping: n.int ?? 0) }
                u.restartCauses = d
            },
            "notify": { u, v in
                let g = Fields(json: v.value)
                u.notify = NotifyCounters(access: try g.string("access") ?? "none", accepted: Int(clamping: try g.int("accepted") ?? 0),
                                          rejected: Int(clamping: try g.int("rejected") ?? 0),
                                          malformed: Int(clamping: try g.int("malformed") ?? 0))
            },
        ]
        for (key, path) in stringFields { d[key] = { u, v in u[keyPath: path] = try v.string() } }
        for (key, path) in numberFields { d[key] = { u, v in u[keyPath: path] = try v.int() } }
        for (key, path) in pidFields { d[key] = { u, v in u[keyPath: path] = try v.int32() } }
        for (key, path) in listFields { d[key] = { u, v in u[keyPath: path] = try v.strings() } }
        return d
    }()

    /// `execMain` while decoding: its four fields arrive one by one.
    private var exec: ExecMain {
        get { execMain ?? ExecMain(pid: 0, code: "", status: 0, statusText: "") }
        set { execMain = newValue }
    }

    public init(json: JSON) throws(ControlError) {
        guard case .object(let pairs) = json else { throw ControlError.malformed("a unit must be an object") }
        self.init(unit: "", load: "loaded", active: "inactive", sub: "dead", description: "")
        var named = false, described = false
        for (key, value) in pairs where value != .null {
            guard let set = Self.setters[key] else { continue }  // a field of a newer manager
            do {
                try set(&self, Value(key: key, value: value))
            } catch let e as ControlError {
                throw e
            } catch {
                throw ControlError.malformed("\"\(key)\": \(error)")
            }
            if key == "unit" { named = true } else if key == "description" { described = true }
        }
        guard named else { throw ControlError.malformed("a unit object without \"unit\"") }
        if !described { description = unit }
    }
}

/// One field's value with `Fields`' typed accessors (same errors), without building an object for it.
private struct Value {
    let key: String
    let value: JSON

    private func bad(_ what: String) -> ControlError { ControlError.malformed("\"\(key)\" must be \(what)") }
    func string() throws(ControlError) -> String {
        guard let s = value.string else { throw bad("a string") }
        return s
    }
    func int() throws(ControlError) -> Int64 {
        guard let i = value.int else { throw bad("an integer") }
        return i
    }
    func int32() throws(ControlError) -> Int32 { Int32(clamping: try int()) }
    func strings() throws(ControlError) -> [String] {
        guard let a = value.array else { throw bad("an array of strings") }
        var out: [String] = []
        out.reserveCapacity(a.count)
        for item in a {
            guard let s = item.string else { throw bad("an array of strings") }
            out.append(s)
        }
        return out
    }
    func objects() throws(ControlError) -> [JSON] { try Fields(json: .object([(key, value)])).objects(key) }
}
