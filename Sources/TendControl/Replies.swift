import TendModel
import TendSystem

/// A successful reply: `{"ok": true, ...}`. Each type encodes and decodes its own fields, nowhere else.
public protocol ControlReply: Equatable, Sendable {
    /// The fields after `"ok": true`.
    var fields: [(String, JSON)] { get }
    /// Decodes the fields of a reply object (the `"ok"` already checked).
    init(fields: JSON) throws(ControlError)
}

extension ControlReply {
    public var json: JSON { .object([(Wire.ok, .bool(true))] + fields) }

    /// Decodes a whole reply: `"ok": false` becomes the thrown `ControlError`, fields of the wrong type a
    /// `protocol-error`.
    public init(reply: JSON) throws(ControlError) {
        guard case .object = reply, let ok = reply[Wire.ok]?.bool else {
            throw ControlError(.protocolError, "The manager sent a reply without \"ok\".")
        }
        guard ok else { throw ControlError(json: reply) }
        do {
            try self.init(fields: reply)
        } catch let e where e.code == .malformedRequest {
            throw ControlError(.protocolError, "The manager's reply is not understood: \(e.message)")
        }
    }
}

/// The reply of requests that return nothing but success (jobs, kill, reset-failed, daemon-reload, ...).
public struct OKReply: ControlReply {
    public init() {}
    public var fields: [(String, JSON)] { [] }
    public init(fields: JSON) {}
}

/// `status` and `list`: unit objects (their fields are `UnitStatusJSON`'s, documented in the protocol) and,
/// for `status`, the names asked for that don't exist.
public struct StatusReply: ControlReply {
    public var units: [UnitInfo]
    public var missing: [String]
    public init(units: [UnitInfo], missing: [String] = []) {
        self.units = units
        self.missing = missing
    }
    public var fields: [(String, JSON)] {
        [(Wire.units, .array(units.map(\.json))), (Wire.missing, .array(missing.map { .string($0) }))]
    }
    public init(fields j: JSON) throws(ControlError) {
        let f = Fields(json: j)
        var units: [UnitInfo] = []
        for u in try f.objects(Wire.units) { units.append(try UnitInfo(json: u)) }
        self.init(units: units, missing: try f.strings(Wire.missing))
    }
}

/// One `Key=Value` of `show`.
public struct UnitProperty: Equatable, Sendable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// `show`: each unit's properties, in order; on the wire `[[name, value], ...]` per unit.
public struct ShowReply: ControlReply {
    public var units: [[UnitProperty]]
    public init(units: [[UnitProperty]]) { self.units = units }
    public var fields: [(String, JSON)] {
        [(Wire.units, .array(units.map { .array($0.map { .array([.string($0.name), .string($0.value)]) }) }))]
    }
    public init(fields j: JSON) throws(ControlError) {
        var out: [[UnitProperty]] = []
        for unit in j[Wire.units]?.array ?? [] {
            guard let pairs = unit.array else { throw ControlError.malformed("a unit of \"units\" must be an array") }
            var props: [UnitProperty] = []
            for p in pairs {
                guard let a = p.array, a.count == 2, let k = a[0].string, let v = a[1].string else {
                    throw ControlError.malformed("a property must be [name, value]")
                }
                props.append(UnitProperty(k, v))
            }
            out.append(props)
        }
        units = out
    }
}

/// `cat`: each unit's files as one text.
public struct CatReply: ControlReply {
    public var texts: [String]
    public init(texts: [String]) { self.texts = texts }
    public var fields: [(String, JSON)] { [(Wire.texts, .array(texts.map { .string($0) }))] }
    public init(fields j: JSON) throws(ControlError) { texts = try Fields(json: j).strings(Wire.texts) }
}

/// `enable` / `disable`: the links made or removed, notes (e.g. "has no [Install] section"), and the unit
/// directory acted on.
public struct InstallReply: ControlReply {
    public var changes: [InstallChange]
    public var notes: [String]
    public var unitDir: String?
    public init(changes: [InstallChange], notes: [String] = [], unitDir: String? = nil) {
        self.changes = changes
        self.notes = notes
        self.unitDir = unitDir
    }
    public var fields: [(String, JSON)] {
        var o: [(String, JSON)] = [
            (Wire.changes, .array(changes.map { c in
                .object([
                    (Wire.type, .string(c.kind == .created ? "symlink" : "unlink")), (Wire.path, .string(c.path)),
                    (Wire.target, c.target.map { .string($0) } ?? .null), (Wire.message, .string(c.message)),
                ])
            })),
            (Wire.notes, .array(notes.map { .string($0) })),
        ]
        if let unitDir { o.append((Wire.unitDir, .string(unitDir))) }
        return o
    }
    public init(fields j: JSON) throws(ControlError) {
        let f = Fields(json: j)
        var changes: [InstallChange] = []
        for c in try f.objects(Wire.changes) {
            let g = Fields(json: c)
            let kind: InstallChange.Kind = try g.string(Wire.type) == "symlink" ? .created : .removed
            changes.append(InstallChange(kind: kind, path: try g.string(Wire.path) ?? "", target: try g.string(Wire.target)))
        }
        self.init(changes: changes, notes: try f.strings(Wire.notes), unitDir: try f.string(Wire.unitDir))
    }
}

/// `is-enabled`: one state per unit asked for (enabled, disabled, static, indirect, alias, masked, not-found).
public struct IsEnabledReply: ControlReply {
    public var states: [String]
    public init(states: [String]) { self.states = states }
    public var fields: [(String, JSON)] { [(Wire.states, .array(states.map { .string($0) }))] }
    public init(fields j: JSON) throws(ControlError) { states = try Fields(json: j).strings(Wire.states) }
}

/// `dependencies`: one `AnalyzeUnit` per unit, the manager's clock in seconds since start-up began, and the
/// unit directories.
public struct DependenciesReply: ControlReply {
    public var units: [AnalyzeUnit]
    public var now: Double?
    public var unitPaths: [String]
    public init(units: [AnalyzeUnit], now: Double?, unitPaths: [String]) {
        self.units = units
        self.now = now
        self.unitPaths = unitPaths
    }
    public var fields: [(String, JSON)] {
        [(Wire.units, .array(units.map(\.json))), (Wire.now, now.map { .double($0) } ?? .null),
         (Wire.unitPaths, .array(unitPaths.map { .string($0) }))]
    }
    public init(fields j: JSON) throws(ControlError) {
        let f = Fields(json: j)
        var units: [AnalyzeUnit] = []
        for u in try f.objects(Wire.units) { units.append(try AnalyzeUnit(json: u)) }
        self.init(units: units, now: try f.double(Wire.now), unitPaths: try f.strings(Wire.unitPaths))
    }
}

/// `ping`: who answers, the protocol version, where logs are (clients read them from the files), and counters.
public struct PingReply: ControlReply {
    public var pid: Int32
    /// `ControlProtocol.version` of the manager.
    public var version: Int64
    /// The manager's release (`tendVersion`).
    public var tend: String
    public var logDir: String
    /// Live subscriptions (each `subscribe` connection until it closes).
    public var subscribers: Int
    /// Connections refused (access) and requests rejected (malformed, unknown, too large).
    public var rejected: Int
    /// The manager's unit directories, first (where `enable`, `mask` and `edit` write) first.
    public var unitPaths: [String]
    /// `starting`, `running`, `degraded` or `stopping` (systemctl is-system-running's words); empty from a
    /// manager that predates it.
    public var systemState: String
    public init(pid: Int32, version: Int64 = ControlProtocol.version, tend: String = tendVersion, logDir: String,
                subscribers: Int, rejected: Int, unitPaths: [String] = [], systemState: String = "") {
        self.unitPaths = unitPaths
        self.systemState = systemState
        self.pid = pid
        self.version = version
        self.tend = tend
        self.logDir = logDir
        self.subscribers = subscribers
        self.rejected = rejected
    }
    public var fields: [(String, JSON)] {
        [(Wire.pid, .int(Int64(pid))), (Wire.version, .int(version)), (Wire.tend, .string(tend)),
         (Wire.logDir, .string(logDir)), (Wire.subscribers, .int(Int64(subscribers))), (Wire.rejected, .int(Int64(rejected))),
         (Wire.unitPaths, .array(unitPaths.map { .string($0) })), ("systemState", .string(systemState))]
    }
    public init(fields j: JSON) throws(ControlError) {
        let f = Fields(json: j)
        self.init(pid: Int32(clamping: try f.int(Wire.pid) ?? 0), version: try f.int(Wire.version) ?? 0,
                  tend: try f.string(Wire.tend) ?? "", logDir: try f.string(Wire.logDir) ?? "",
                  subscribers: Int(try f.int(Wire.subscribers) ?? 0), rejected: Int(try f.int(Wire.rejected) ?? 0),
                  unitPaths: try f.strings(Wire.unitPaths), systemState: try f.string("systemState") ?? "")
    }
}

/// `subscribe`: the first line; the events follow.
public struct SubscribeReply: ControlReply {
    public var version: Int64
    /// The filter (canonical unit names), empty for every unit.
    public var units: [String]
    public init(version: Int64 = ControlProtocol.version, units: [String]) {
        self.version = version
        self.units = units
    }
    public var fields: [(String, JSON)] {
        [(Wire.version, .int(version)), (Wire.units, .array(units.map { .string($0) }))]
    }
    public init(fields j: JSON) throws(ControlError) {
        let f = Fields(json: j)
        self.init(version: try f.int(Wire.version) ?? 0, units: try f.strings(Wire.units))
    }
}

/// One line of a subscription: a unit's state changed, or a job finished.
public struct ControlEvent: Equatable, Sendable {
    public enum Change: Equatable, Sendable {
        /// `result` is the service's result (`success`, `exit-code`, ...).
        case state(active: ActiveState, sub: String, result: String)
        /// `job` is the job's kind (`start`, `stop`, ...).
        case job(job: String, result: JobResult)
        /// A record the unit's log got: its stream (`stdout`, `stderr`, `tend` for the manager's notes), the
        /// pid that wrote it, its text; `time` is the record's own timestamp.
        case log(stream: String, pid: Int32, text: String)
    }
    public var unit: String
    public var change: Change
    /// When the manager saw it, µs since the epoch.
    public var time: UInt64

    public init(unit: String, change: Change, time: UInt64) {
        self.unit = unit
        self.change = change
        self.time = time
    }

    public var json: JSON {
        var o: [(String, JSON)]
        switch change {
        case .state(let active, let sub, let result):
            o = [(Wire.event, .string("unit")), (Wire.unit, .string(unit)), (Wire.active, .string(active.rawValue)),
                 (Wire.sub, .string(sub)), (Wire.result, .string(result))]
        case .job(let job, let result):
            o = [(Wire.event, .string("job")), (Wire.unit, .string(unit)), (Wire.job, .string(job)),
                 (Wire.result, .string(result.rawValue))]
        case .log(let stream, let pid, let text):
            o = [(Wire.event, .string("log")), (Wire.unit, .string(unit)), (Wire.stream, .string(stream)),
                 (Wire.pid, .int(Int64(pid))), (Wire.text, .string(text))]
        }
        o.append((Wire.time, .int(Int64(clamping: time))))
        return .object(o)
    }

    public init(json: JSON) throws(ControlError) {
        let f = Fields(json: json)
        func bad(_ why: String) -> ControlError { ControlError(.protocolError, "The manager sent an event that is not understood: \(why).") }
        do throws(ControlError) {
            guard let unit = try f.string(Wire.unit) else { throw bad("no unit") }
            let time = UInt64(clamping: try f.int(Wire.time) ?? 0)
            switch try f.string(Wire.event) {
            case "unit":
                guard let active = try f.string(Wire.active).flatMap(ActiveState.init(rawValue:)) else { throw bad("active state") }
                self.init(unit: unit, change: .state(active: active, sub: try f.string(Wire.sub) ?? "",
                                                     result: try f.string(Wire.result) ?? ""), time: time)
            case "job":
                guard let result = try f.string(Wire.result).flatMap(JobResult.init(rawValue:)) else { throw bad("job result") }
                self.init(unit: unit, change: .job(job: try f.string(Wire.job) ?? "", result: result), time: time)
            case "log":
                let pid = Int32(clamping: try f.int(Wire.pid) ?? 0)
                self.init(unit: unit, change: .log(stream: try f.string(Wire.stream) ?? "", pid: pid,
                                                   text: try f.string(Wire.text) ?? ""), time: time)
            default: throw bad("unknown kind")
            }
        } catch let e where e.code == .malformedRequest {
            throw bad(e.message)
        }
    }
}
