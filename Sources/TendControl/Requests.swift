import Glibc
import TendModel
import TendSystem

/// The job requests: one job per named unit.
public enum JobVerb: String, CaseIterable, Sendable {
    case start, stop, restart, reload
    /// Restart the unit if it is active; leave it alone otherwise.
    case tryRestart = "try-restart"
    /// Reload if the unit is active and has `ExecReload=`, else restart.
    case reloadOrRestart = "reload-or-restart"
}

/// Every request a client can send. `init(json:)` and `json` are the only codec: the server decodes once,
/// the clients encode here.
public enum ControlRequest: Equatable, Sendable {
    case job(JobVerb, units: [String], noBlock: Bool)
    /// Full status of the units (all when none is named) with up to `lines` recent log lines each.
    case status(units: [String], lines: Int)
    /// Brief state of the loaded units; inactive ones too with `all`.
    case list(all: Bool)
    /// systemctl-style properties.
    case show(units: [String])
    case cat(units: [String])
    case kill(units: [String], signal: Int32, who: KillTarget)
    /// Clear the failed state (of every unit when none is named).
    case resetFailed(units: [String])
    case daemonReload
    /// Execute the manager again (a new binary), keeping every service running (needs the holder).
    case daemonReexec
    case enable(units: [String])
    case disable(units: [String])
    case isEnabled(units: [String])
    /// Every unit with its state, start times and dependency edges (list-dependencies, analyze).
    case dependencies
    /// Sent after an offline `enable`/`disable`: forget cached dependency and enablement data.
    case unitsChanged
    case ping
    /// Stream every unit state change and job result (of the named units only, if any are named), and with
    /// `logs` every log record they write too.
    case subscribe(units: [String], logs: Bool = false)

    /// The `"cmd"` values of the requests other than jobs (those are `JobVerb`'s), each spelled once.
    enum Command: String, CaseIterable {
        case status, list, show, cat, kill, enable, disable, dependencies, ping, subscribe
        case resetFailed = "reset-failed", daemonReload = "daemon-reload", isEnabled = "is-enabled"
        case daemonReexec = "daemon-reexec"
        case unitsChanged = "units-changed"
    }

    /// The `"cmd"` of this request.
    public var command: String {
        let c: Command
        switch self {
        case .job(let verb, _, _): return verb.rawValue
        case .status: c = .status
        case .list: c = .list
        case .show: c = .show
        case .cat: c = .cat
        case .kill: c = .kill
        case .resetFailed: c = .resetFailed
        case .daemonReload: c = .daemonReload
        case .daemonReexec: c = .daemonReexec
        case .enable: c = .enable
        case .disable: c = .disable
        case .isEnabled: c = .isEnabled
        case .dependencies: c = .dependencies
        case .unitsChanged: c = .unitsChanged
        case .ping: c = .ping
        case .subscribe: c = .subscribe
        }
        return c.rawValue
    }

    /// Every `"cmd"` the protocol knows.
    public static let commands: [String] = JobVerb.allCases.map(\.rawValue) + Command.allCases.map(\.rawValue)

    public static let defaultStatusLines = 10

    // MARK: Encoding

    public var json: JSON {
        var o: [(String, JSON)] = [(Wire.cmd, .string(command))]
        func units(_ list: [String]) { o.append((Wire.units, .array(list.map { .string($0) }))) }
        switch self {
        case .job(_, let list, let noBlock):
            units(list)
            o.append((Wire.noBlock, .bool(noBlock)))
        case .status(let list, let lines):
            units(list)
            o.append((Wire.lines, .int(Int64(lines))))
        case .list(let all): o.append((Wire.all, .bool(all)))
        case .kill(let list, let signal, let who):
            units(list)
            o.append((Wire.signal, .int(Int64(signal))))
            o.append((Wire.who, .string(who.rawValue)))
        case .show(let list), .cat(let list), .resetFailed(let list), .enable(let list), .disable(let list),
            .isEnabled(let list):
            units(list)
        case .subscribe(let list, let logs):
            units(list)
            if logs { o.append((Wire.logs, .bool(true))) }
        case .daemonReload, .daemonReexec, .dependencies, .unitsChanged, .ping: break
        }
        return .object(o)
    }

    public func bytes() -> [UInt8] { json.bytes() + [10] }

    // MARK: Decoding

    /// Parses one request line (without its newline).
    public init(line: some Collection<UInt8>) throws(ControlError) {
        let json: JSON
        do { json = try JSON.parse(line) } catch { throw ControlError.malformed("\(error)") }
        try self.init(json: json)
    }

    /// Decodes a request. Unknown fields are ignored; a known field of the wrong type is `malformed-request`,
    /// an unknown `"cmd"` is `unknown-command`, a request missing its units is `invalid-argument`.
    public init(json: JSON) throws(ControlError) {
        guard case .object = json else { throw ControlError.malformed("expected an object with \"cmd\"") }
        guard let cmd = json[Wire.cmd]?.string else { throw ControlError.malformed("expected an object with \"cmd\"") }
        let f = Fields(json: json)
        func named() throws(ControlError) -> [String] {
            let list = try f.strings(Wire.units)
            guard !list.isEmpty else {
                throw ControlError(.invalidArgument, "Too few arguments: name at least one unit.")
            }
            return list
        }
        if let verb = JobVerb(rawValue: cmd) {
            self = .job(verb, units: try named(), noBlock: try f.bool(Wire.noBlock) ?? false)
            return
        }
        guard let command = Command(rawValue: cmd) else {
            throw ControlError(.unknownCommand, "Unknown command \"\(cmd)\".")
        }
        switch command {
        case .status:
            let lines = try f.int(Wire.lines) ?? Int64(ControlRequest.defaultStatusLines)
            guard lines >= 0 else { throw ControlError.malformed("\"lines\" out of range") }
            // Any count is accepted; the manager returns at most `maxStatusLines` of them.
            self = .status(units: try f.strings(Wire.units), lines: Int(min(lines, Int64(ControlProtocol.maxStatusLines))))
        case .list: self = .list(all: try f.bool(Wire.all) ?? false)
        case .show: self = .show(units: try f.strings(Wire.units))
        case .cat: self = .cat(units: try f.strings(Wire.units))
        case .kill:
            let signal = try f.int(Wire.signal) ?? Int64(SIGTERM)
            guard signal > 0 && signal < 65 else { throw ControlError(.invalidArgument, "Invalid signal \(signal).") }
            let whoName = try f.string(Wire.who) ?? KillTarget.all.rawValue
            guard let who = KillTarget(rawValue: whoName) else {
                throw ControlError(.invalidArgument, "\"who\" takes main, control or all.")
            }
            self = .kill(units: try f.strings(Wire.units), signal: Int32(signal), who: who)
        case .resetFailed: self = .resetFailed(units: try f.strings(Wire.units))
        case .daemonReload: self = .daemonReload
        case .daemonReexec: self = .daemonReexec
        case .enable: self = .enable(units: try named())
        case .disable: self = .disable(units: try named())
        case .isEnabled: self = .isEnabled(units: try f.strings(Wire.units))
        case .dependencies: self = .dependencies
        case .unitsChanged: self = .unitsChanged
        case .ping: self = .ping
        case .subscribe: self = .subscribe(units: try f.strings(Wire.units), logs: try f.bool(Wire.logs) ?? false)
        }
    }
}

/// Typed access to an object's optional fields: absent or null is nil, the wrong type is `malformed-request`.
struct Fields {
    let json: JSON

    private func value(_ key: String) -> JSON? {
        guard let v = json[key], v != .null else { return nil }
        return v
    }

    func strings(_ key: String) throws(ControlError) -> [String] {
        guard let v = value(key) else { return [] }
        guard let a = v.array else { throw ControlError.malformed("\"\(key)\" must be an array of strings") }
        var out: [String] = []
        for item in a {
            guard let s = item.string else { throw ControlError.malformed("\"\(key)\" must be an array of strings") }
            out.append(s)
        }
        return out
    }

    func bool(_ key: String) throws(ControlError) -> Bool? {
        guard let v = value(key) else { return nil }
        guard let b = v.bool else { throw ControlError.malformed("\"\(key)\" must be true or false") }
        return b
    }

    func int(_ key: String) throws(ControlError) -> Int64? {
        guard let v = value(key) else { return nil }
        guard let i = v.int else { throw ControlError.malformed("\"\(key)\" must be an integer") }
        return i
    }

    func double(_ key: String) throws(ControlError) -> Double? {
        guard let v = value(key) else { return nil }
        guard let d = v.number else { throw ControlError.malformed("\"\(key)\" must be a number") }
        return d
    }

    func string(_ key: String) throws(ControlError) -> String? {
        guard let v = value(key) else { return nil }
        guard let s = v.string else { throw ControlError.malformed("\"\(key)\" must be a string") }
        return s
    }

    func objects(_ key: String) throws(ControlError) -> [JSON] {
        guard let v = value(key) else { return [] }
        guard let a = v.array, a.allSatisfy({ if case .object = $0 { true } else { false } }) else {
            throw ControlError.malformed("\"\(key)\" must be an array of objects")
        }
        return a
    }
}
