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

    /// The plain optional fields, each named once for both directions of the codec.
    private static let strings: [(String, WritableKeyPath<UnitInfo, String?> & Sendable)] = [
        ("fragmentPath", \.fragmentPath), ("enabled", \.enabled), ("result", \.result), ("mainComm", \.mainComm),
        ("controlCommand", \.controlCommand), ("type", \.type), ("restart", \.restart), ("jobResult", \.jobResult),
        ("job", \.job), ("skippedBy", \.skippedBy), ("statusText", \.statusText), ("statusBusError", \.statusBusError),
        ("setupError", \.setupError),
    ]
    private static let times: [(String, WritableKeyPath<UnitInfo, Int64?> & Sendable)] = [
        ("since", \.since), ("activeEnterTimestamp", \.activeEnterTimestamp),
        ("inactiveEnterTimestamp", \.inactiveEnterTimestamp),
    ]
    private static let int32s: [(String, WritableKeyPath<UnitInfo, Int32?> & Sendable)] = [
        ("mainPID", \.mainPID), ("controlPID", \.controlPID), ("statusErrno", \.statusErrno),
        ("statusExitStatus", \.statusExitStatus),
    ]
    private static let counts: [(String, WritableKeyPath<UnitInfo, Int?> & Sendable)] = [("nRestarts", \.nRestarts), ("fdStore", \.fdStore)]
    private static let lists: [(String, WritableKeyPath<UnitInfo, [String]?> & Sendable)] = [
        ("dropIns", \.dropIns), ("diagnostics", \.diagnostics), ("log", \.log),
    ]

    public var json: JSON {
        var o: [(String, JSON)] = [
            ("unit", .string(unit)), ("load", .string(load)), ("active", .string(active)), ("sub", .string(sub)),
            ("description", .string(description)),
        ]
        for (key, path) in Self.strings { if let v = self[keyPath: path] { o.append((key, .string(v))) } }
        for (key, path) in Self.times { if let v = self[keyPath: path] { o.append((key, .int(v))) } }
        for (key, path) in Self.int32s { if let v = self[keyPath: path] { o.append((key, .int(Int64(v)))) } }
        for (key, path) in Self.counts { if let v = self[keyPath: path] { o.append((key, .int(Int64(v)))) } }
        for (key, path) in Self.lists { if let v = self[keyPath: path] { o.append((key, .array(v.map { .string($0) }))) } }
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
        if let n = notify {
            o.append(("notify", .object([("access", .string(n.access)), ("accepted", .int(Int64(n.accepted))),
                                         ("rejected", .int(Int64(n.rejected))), ("malformed", .int(Int64(n.malformed)))])))
        }
        return .object(o)
    }

    /// Every plain field by its name, for decoding in one pass over the object's pairs (a `list` of 1000 units
    /// is 1000 objects: looking each of 35 names up in each would cost more than the rest of the reply).
    private enum Plain: Sendable {
        case string(WritableKeyPath<UnitInfo, String?> & Sendable)
        case time(WritableKeyPath<UnitInfo, Int64?> & Sendable)
        case int32(WritableKeyPath<UnitInfo, Int32?> & Sendable)
        case count(WritableKeyPath<UnitInfo, Int?> & Sendable)
        case list(WritableKeyPath<UnitInfo, [String]?> & Sendable)
    }

    private static let plain: [String: Plain] = {
        var d: [String: Plain] = [:]
        for (k, p) in strings { d[k] = .string(p) }
        for (k, p) in times { d[k] = .time(p) }
        for (k, p) in int32s { d[k] = .int32(p) }
        for (k, p) in counts { d[k] = .count(p) }
        for (k, p) in lists { d[k] = .list(p) }
        return d
    }()

    public init(json: JSON) throws(ControlError) {
        guard case .object(let pairs) = json else { throw ControlError.malformed("a unit must be an object") }
        self.init(unit: "", load: "loaded", active: "inactive", sub: "dead", description: "")
        var named = false, described = false
        var exec: (pid: Int32, code: String, status: Int32, text: String)?
        for (key, value) in pairs where value != .null {
            let f = Value(key: key, value: value)
            func int32() throws(ControlError) -> Int32 { Int32(clamping: try f.int(key) ?? 0) }
            switch key {
            case "unit":
                unit = try f.string(key) ?? ""
                named = true
            case "load": load = try f.string(key) ?? load
            case "active": active = try f.string(key) ?? active
            case "sub": sub = try f.string(key) ?? sub
            case "description":
                description = try f.string(key) ?? ""
                described = true
            case "execMainPID": exec = (try int32(), exec?.code ?? "", exec?.status ?? 0, exec?.text ?? "")
            case "execMainCode": exec = (exec?.pid ?? 0, try f.string(key) ?? "", exec?.status ?? 0, exec?.text ?? "")
            case "execMainStatus": exec = (exec?.pid ?? 0, exec?.code ?? "", try int32(), exec?.text ?? "")
            case "execMainStatusText": exec = (exec?.pid ?? 0, exec?.code ?? "", exec?.status ?? 0, try f.string(key) ?? "")
            case "processes":
                var list: [ProcessEntry] = []
                for p in try f.objects(key) {
                    let g = Fields(json: p)
                    list.append(ProcessEntry(pid: Int32(clamping: try g.int("pid") ?? 0), command: try g.string("command") ?? "",
                                             code: try g.string("code") ?? "", status: Int32(clamping: try g.int("status") ?? 0),
                                             text: try g.string("text") ?? ""))
                }
                processes = list
            case "notify":
                let g = Fields(json: value)
                notify = NotifyCounters(access: try g.string("access") ?? "none", accepted: Int(clamping: try g.int("accepted") ?? 0),
                                        rejected: Int(clamping: try g.int("rejected") ?? 0),
                                        malformed: Int(clamping: try g.int("malformed") ?? 0))
            default:
                switch Self.plain[key] {
                case .string(let path): self[keyPath: path] = try f.string(key)
                case .time(let path): self[keyPath: path] = try f.int(key)
                case .int32(let path): self[keyPath: path] = try int32()
                case .count(let path): self[keyPath: path] = Int(clamping: try f.int(key) ?? 0)
                case .list(let path): self[keyPath: path] = try f.strings(key)
                case nil: break  // a field of a newer manager
                }
            }
        }
        guard named else { throw ControlError.malformed("a unit object without \"unit\"") }
        if !described { description = unit }
        if let exec { execMain = ExecMain(pid: exec.pid, code: exec.code, status: exec.status, statusText: exec.text) }
    }
}

/// One field's value with `Fields`' typed accessors (same errors), without building an object for it.
private struct Value {
    let key: String
    let value: JSON

    private func bad(_ what: String) -> ControlError { ControlError.malformed("\"\(key)\" must be \(what)") }
    func string(_: String) throws(ControlError) -> String? {
        guard let s = value.string else { throw bad("a string") }
        return s
    }
    func int(_: String) throws(ControlError) -> Int64? {
        guard let i = value.int else { throw bad("an integer") }
        return i
    }
    func strings(_: String) throws(ControlError) -> [String] {
        guard let a = value.array else { throw bad("an array of strings") }
        var out: [String] = []
        out.reserveCapacity(a.count)
        for item in a {
            guard let s = item.string else { throw bad("an array of strings") }
            out.append(s)
        }
        return out
    }
    func objects(_ key: String) throws(ControlError) -> [JSON] { try Fields(json: .object([(key, value)])).objects(key) }
}
