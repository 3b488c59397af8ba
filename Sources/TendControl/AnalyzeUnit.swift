import TendModel

/// One unit as `tend analyze` and `tend list-dependencies` see it: state, start times (seconds since the manager
/// began starting units) and its dependencies.
public struct AnalyzeUnit: Sendable, Equatable {
    public var name: String
    public var activeState: String
    public var subState: String
    public var activating: Double?
    public var active: Double?
    public var failed: Double?
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

    /// How long it took from its start job to ready.
    public var startDuration: Double? {
        guard let a = activating, let b = active, b >= a else { return nil }
        return b - a
    }
}


extension AnalyzeUnit {
    /// The `dependencies` reply's unit object: `unit`, `active`, `sub`, `description`, `activating`,
    /// `activeEnter`, `failed` (seconds since start-up began, or null), `heldBy`, `jobResult`, `skippedBy`,
    /// `edges` (dependency kind → unit names), `job`.
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
        description = try f.string("description")
        jobResult = try f.string("jobResult")
        job = try f.string("job")
    }
}
