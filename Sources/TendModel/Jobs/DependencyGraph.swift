/// The dependency directives of one unit (systemd.unit(5), "[Unit] Section Options"), as the graph needs them:
/// what the unit file says plus the `NAME.wants/` and `NAME.requires/` directories.
public struct UnitDependencies: Sendable {
    public var name: String
    public var requires: [String] = []
    public var requisite: [String] = []
    public var wants: [String] = []
    public var bindsTo: [String] = []
    public var partOf: [String] = []
    public var upholds: [String] = []
    public var conflicts: [String] = []
    public var after: [String] = []
    public var before: [String] = []
    public var onFailure: [String] = []
    /// `DefaultDependencies=`
    public var defaultDependencies = true

    public init(name: String) { self.name = name }

    public init(config: ServiceConfig) {
        name = config.name.description
        requires = config.requires
        requisite = config.requisite
        wants = config.wants
        bindsTo = config.bindsTo
        partOf = config.partOf
        upholds = config.upholds
        conflicts = config.conflicts
        after = config.after
        before = config.before
        onFailure = config.onFailure
        defaultDependencies = config.defaultDependencies
    }

    var isService: Bool { name.hasSuffix(".service") }
    var isTarget: Bool { name.hasSuffix(".target") }
}

/// The kinds of edges `list-dependencies` and `analyze dot` show.
public enum DependencyKind: String, Sendable, CaseIterable {
    case requires = "Requires"
    case requisite = "Requisite"
    case wants = "Wants"
    case bindsTo = "BindsTo"
    case partOf = "PartOf"
    case upholds = "Upholds"
    case conflicts = "Conflicts"
    case after = "After"
}

/// Every unit's dependencies in both directions, with systemd's implicit and default dependencies added
/// (systemd.unit(5), systemd.service(5) and systemd.target(5), "Default Dependencies"). Pure: built from
/// `UnitDependencies` values, so transactions are unit-tested without processes.
public struct DependencyGraph: Sendable {
    public struct Node: Sendable {
        public var name: String
        /// Whether a unit of this name exists (loaded or built in); references to unknown units are kept so
        /// that a `Requires=` on one can be reported.
        public var known = false
        public var requires: [String] = []
        public var requisite: [String] = []
        public var wants: [String] = []
        public var bindsTo: [String] = []
        public var partOf: [String] = []
        public var upholds: [String] = []
        public var conflicts: [String] = []
        public var onFailure: [String] = []
        /// Inverse edges.
        public var requiredBy: [String] = []
        public var requisiteOf: [String] = []
        public var wantedBy: [String] = []
        public var boundBy: [String] = []
        public var consistsOf: [String] = []
        public var upheldBy: [String] = []
        public var conflictedBy: [String] = []
        /// Ordering, made symmetric: `a After=b` is `b Before=a`.
        public var after: [String] = []
        public var before: [String] = []
        init(name: String) { self.name = name }
    }

    public private(set) var nodes: [String: Node] = [:]
    /// Ordering facts per unit as sets, for the scheduler's hot path (`mustWait` runs for every neighbour of
    /// every job on every check; copying a `Node` there costs a retain per list).
    private var ordering: [String: Ordering] = [:]
    private struct Ordering: Sendable {
        var after: Set<String> = []
        var before: Set<String> = []
        var conflicts: Set<String> = []
        var neighbours: [String] = []
    }

    public init(units: [UnitDependencies]) {
        var byName: [String: UnitDependencies] = [:]
        for u in units { byName[u.name] = u }
        func add(_ a: String, _ b: String, _ fwd: WritableKeyPath<Node, [String]>, _ inv: WritableKeyPath<Node, [String]>) {
            guard a != b else { return }
            appendUnique(a, fwd, b)
            appendUnique(b, inv, a)
        }
        for u in units {
            if nodes[u.name] == nil { nodes[u.name] = Node(name: u.name) }
            nodes[u.name]!.known = true
        }
        for u in units {
            let n = u.name
            for d in u.requires { add(n, d, \.requires, \.requiredBy) }
            for d in u.requisite { add(n, d, \.requisite, \.requisiteOf) }
            for d in u.wants { add(n, d, \.wants, \.wantedBy) }
            for d in u.bindsTo { add(n, d, \.bindsTo, \.boundBy) }
            for d in u.partOf { add(n, d, \.partOf, \.consistsOf) }
            for d in u.upholds { add(n, d, \.upholds, \.upheldBy) }
            for d in u.conflicts { add(n, d, \.conflicts, \.conflictedBy) }
            for d in u.onFailure where d != n { appendUnique(n, \.onFailure, d) }
            for d in u.after { add(n, d, \.after, \.before) }
            for d in u.before { add(n, d, \.before, \.after) }
            guard u.defaultDependencies else { continue }
            if u.isService {
                // systemd.service(5): Requires= and After= sysinit.target, After= basic.target, Conflicts= and
                // Before= shutdown.target. Harmless here: the built-in targets are empty and start at once.
                add(n, "sysinit.target", \.requires, \.requiredBy)
                add(n, "sysinit.target", \.after, \.before)
                add(n, "basic.target", \.after, \.before)
                add(n, "shutdown.target", \.conflicts, \.conflictedBy)
                add(n, "shutdown.target", \.before, \.after)
            } else if u.isTarget {
                // systemd.target(5): a target is ordered after the units it wants or requires (unless they say
                // DefaultDependencies=no), so it is reached once they are ready.
                if n != "shutdown.target" {
                    add(n, "shutdown.target", \.conflicts, \.conflictedBy)
                    add(n, "shutdown.target", \.before, \.after)
                }
                for d in u.wants + u.requires where byName[d]?.defaultDependencies ?? false {
                    // Unless the other side already orders itself after this target (that would be a cycle
                    // systemd avoids the same way: the implicit edge gives way to an explicit one).
                    if byName[d]?.after.contains(n) == true || u.before.contains(d) { continue }
                    add(n, d, \.after, \.before)
                }
            }
        }
        indexOrdering()
    }

    private mutating func indexOrdering() {
        for (name, n) in nodes {
            var o = Ordering()
            o.after = Set(n.after)
            o.before = Set(n.before)
            o.conflicts = Set(n.conflicts).union(n.conflictedBy)
            var seen: Set<String> = []
            o.neighbours = (n.after + n.before + n.conflicts + n.conflictedBy).filter { seen.insert($0).inserted }
            ordering[name] = o
        }
    }

    private mutating func appendUnique(_ name: String, _ path: WritableKeyPath<Node, [String]>, _ value: String) {
        if nodes[name] == nil { nodes[name] = Node(name: name) }
        if !nodes[name]![keyPath: path].contains(value) { nodes[name]![keyPath: path].append(value) }
    }

    public func node(_ name: String) -> Node { nodes[name] ?? Node(name: name) }
    public func isKnown(_ name: String) -> Bool { nodes[name]?.known ?? false }

    /// The units `name` points at with edges of `kind` (the forward direction), for list-dependencies and dot.
    public func targets(of name: String, _ kind: DependencyKind) -> [String] {
        let n = node(name)
        switch kind {
        case .requires: return n.requires
        case .requisite: return n.requisite
        case .wants: return n.wants
        case .bindsTo: return n.bindsTo
        case .partOf: return n.partOf
        case .upholds: return n.upholds
        case .conflicts: return n.conflicts
        case .after: return n.after
        }
    }

    /// Whether job `a` (on unit `ua`) must wait for job `b` (on unit `ub`), systemd's rule (job_is_runnable):
    /// a start waits for any job of a unit it is ordered after; any job waits for the stop of a unit it is
    /// ordered before (so stops run in reverse order, and a stop goes before a start either way). A start
    /// also waits for the stop of a unit it conflicts with (tend's choice: systemd leaves them unordered).
    public func mustWait(_ ua: String, _ a: JobKind, for ub: String, _ b: JobKind) -> Bool {
        guard ua != ub, let o = ordering[ua] else { return false }
        if a != .stop && o.after.contains(ub) { return true }
        if b == .stop && o.before.contains(ub) { return true }
        if a == .start && b == .stop && o.conflicts.contains(ub) { return true }
        return false
    }

    /// The units whose jobs `unit`'s job may have to wait for (a superset; `mustWait` decides).
    public func orderingNeighbours(_ unit: String) -> [String] {
        ordering[unit]?.neighbours ?? []
    }
}
