import TendModel

/// One unit as `tend analyze` and `tend list-dependencies` see it: state, the times of its start-up transaction
/// (seconds since the manager began starting units) and its dependencies.
///
/// The start-up is the start (or restart) job that last ran the unit, up to the first time it became ready after
/// it; automatic restarts (`Restart=`) don't move these times. A restart before the unit was first ready is a
/// retry of the start-up: `attempt` is when the attempt that got it active began. Restarts after it are counted
/// in `restarts`, the last one beginning at `lastRestart`.
public struct AnalyzeUnit: Sendable, Equatable {
    public var name: String
    public var activeState: String
    public var subState: String
    /// The start job ran (for a restart job: its start half began).
    public var activating: Double?
    /// It became ready, the first time after `activating`.
    public var active: Double?
    /// The start-up failed (the job, or the unit before it was ready).
    public var failed: Double?
    /// The attempt that got it active (or the current one) began; `activating` unless the start-up was retried.
    public var attempt: Double?
    /// Automatic restarts before it first became ready, and after.
    public var retries = 0
    public var restarts = 0
    public var lastRestart: Double?
    public var heldBy: String?
    public var skippedBy: String?
    public var edges: [DependencyKind: [String]]
    public var description: String?
    /// The last start job's result, and the job queued or running (`start waiting`).
    public var jobResult: String?
    public var job: String?

    public init(name: String, activeState: String, subState: String = "", activating: Double? = nil,
                active: Double? = nil, failed: Double? = nil, heldBy: String? = nil, skippedBy: String? = nil,
                edges: [DependencyKind: [String]] = [:]) {
        self.name = name
        self.activeState = activeState
        self.subState = subState
        self.activating = activating
        self.active = active
        self.failed = failed
        self.heldBy = heldBy
        self.skippedBy = skippedBy
        self.edges = edges
    }

    /// How long the attempt that got it active took, from its start to ready (systemd-analyze's activation time):
    /// from the start job when the first attempt succeeded. Nil when it has not become ready.
    public var startDuration: Double? {
        guard let a = attemptStart, let b = active, b >= a else { return nil }
        return b - a
    }

    /// When the attempt that got it active began (`activating` when it was not retried).
    public var attemptStart: Double? {
        guard let a = activating else { return attempt }
        guard let t = attempt, t >= a else { return a }
        if let b = active, t > b { return a }
        return t
    }
}


extension AnalyzeUnit {
    /// The `dependencies` reply's unit object: `unit`, `active`, `sub`, `description`, `activating`,
    /// `activeEnter`, `failed`, `attempt`, `lastRestart` (seconds since start-up began, or null), `retries`,
    /// `restarts`, `heldBy`, `jobResult`, `skippedBy`, `edges` (dependency kind → unit names), `job`.
    public var json: JSON {
        func seconds(_ t: Double?) -> JSON { t.map { .double($0) } ?? .null }
        func str(_ s: String?) -> JSON { s.map { .string($0) } ?? .null }
        var e: [(String, JSON)] = []
        for kind in DependencyKind.allCases {
            if let list = edges[kind], !list.isEmpty { e.append((kind.rawValue, .array(list.map { .string($0) }))) }
        }
        var o: [(String, JSON)] = [
            ("unit", .string(name)), ("active", .string(activeState)), ("sub", .string(subState)),
            ("description", .string(description ?? name)), ("activating", seconds(activating)),
            ("activeEnter", seconds(active)), ("failed", seconds(failed)), ("heldBy", str(heldBy)),
            ("jobResult", str(jobResult)), ("skippedBy", str(skippedBy)), ("edges", .object(e)),
            ("attempt", seconds(attempt)), ("retries", .int(Int64(retries))), ("restarts", .int(Int64(restarts))),
            ("lastRestart", seconds(lastRestart)),
        ]
        if let job { o.append(("job", .string(job))) }
        return .object(o)
    }

    public init(json u: JSON) throws(ControlError) {
        let f = Fields(json: u)
        guard let name = try f.string("unit") else { throw ControlError.malformed("a unit object without \"unit\"") }
        var edges: [DependencyKind: [String]] = [:]
        if let e = u["edges"], e != .null {
            let g = Fields(json: e)
            for kind in DependencyKind.allCases {
                let list = try g.strings(kind.rawValue)
                if !list.isEmpty { edges[kind] = list }
            }
        }
        self.init(name: name, activeState: try f.string("active") ?? "inactive", subState: try f.string("sub") ?? "",
                  activating: try f.double("activating"), active: try f.double("activeEnter"),
                  failed: try f.double("failed"), heldBy: try f.string("heldBy"), skippedBy: try f.string("skippedBy"),
                  edges: edges)
        attempt = try f.double("attempt")
        retries = Int(clamping: try f.int("retries") ?? 0)
        restarts = Int(clamping: try f.int("restarts") ?? 0)
        lastRestart = try f.double("lastRestart")
        description = try f.string("description")
        jobResult = try f.string("jobResult")
        job = try f.string("job")
    }
}
