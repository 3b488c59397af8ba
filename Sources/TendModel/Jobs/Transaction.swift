/// What a job does to its unit (systemd's job types, the ones tend schedules).
public enum JobKind: String, Sendable, CaseIterable {
    case start
    case stop
    /// `Requisite=`: succeed only if the unit is already active; never starts it.
    case verifyActive = "verify-active"
    /// Stop (if running) and start again; pulls in what the unit requires, as a start does, and try-restarts
    /// the units that `Requires=`, `BindsTo=` or are `PartOf=` it.
    case restart
    /// A restart of a unit that is active; nothing for one that isn't.
    case tryRestart = "try-restart"
    /// ExecReload= (or ReloadSignal= for notify-reload) of an active unit.
    case reload

    /// Whether the job brings its unit up: start, restart, try-restart (ordered and merged like starts).
    public var startsUnit: Bool { self == .start || self == .restart || self == .tryRestart }

    /// systemd's job merging (job_type_merge_and_collapse): the kind one job of both kinds does, or nil when they
    /// conflict (a stop against anything that brings the unit up).
    public static func merged(_ a: JobKind, _ b: JobKind) -> JobKind? {
        if a == b { return a }
        switch (a, b) {
        case (.stop, _), (_, .stop): return nil
        case (.verifyActive, let other), (let other, .verifyActive): return other
        case (.restart, _), (_, .restart): return .restart
        case (.tryRestart, .start), (.start, .tryRestart): return .restart
        case (.reload, .start), (.start, .reload): return .start
        case (.reload, .tryRestart), (.tryRestart, .reload): return .tryRestart
        default: return nil
        }
    }
}

/// How a job ended (systemd's `JobResult`, as `systemctl` reports it).
public enum JobResult: String, Sendable {
    case done
    case failed
    /// A job it depended on (through `Requires=`, `BindsTo=`, `Requisite=`) failed.
    case dependency
    /// Replaced by a conflicting job, or its unit went away.
    case canceled
    /// An `Assert*=` did not hold.
    case assert
}

/// One job of a transaction.
public struct PlannedJob: Sendable, Equatable {
    public var unit: String
    public var kind: JobKind
    /// Whether the anchor needs it: reachable from the anchor through requirement edges only. Jobs that are
    /// only wanted may be dropped to break an ordering cycle.
    public var mattersToAnchor: Bool
    /// The unit whose directive pulled this job in (nil for the anchor).
    public var pulledBy: String?
}

/// Why a transaction can't be carried out.
public enum TransactionError: Error, Equatable, CustomStringConvertible, Sendable {
    /// An ordering cycle among jobs the anchor needs: the path, first unit repeated at the end.
    case orderingCycle([String])
    /// A unit the anchor needs does not exist (or is a type tend does not run).
    case notFound(unit: String, requiredBy: String?)
    /// The anchor needs a unit started and stopped at once (`Conflicts=` against a requirement).
    case conflict(String, String)

    public var description: String {
        switch self {
        case .orderingCycle(let path):
            return "Transaction order is cyclic: \(path.joined(separator: " → ")). Refusing: every job of the cycle is required."
        case .notFound(let unit, let by):
            if let by { return "Unit \(unit) not found (required by \(by))." }
            return "Unit \(unit) not found."
        case .conflict(let a, let b):
            return "Transaction contains conflicting jobs: \(a) and \(b) would have to run both started and stopped."
        }
    }
}

/// The jobs one request turns into, with their ordering (systemd's transaction, transaction.c): `start X` pulls in
/// what X requires and wants and stops what it conflicts with; `stop X` also stops what requires or is bound to
/// it. Ordering comes from `After=`/`Before=` between the jobs (see `DependencyGraph.mustWait`). An ordering
/// cycle is broken by dropping a job the anchor only wants; a cycle of required jobs is an error.
public struct Transaction: Sendable {
    public var anchor: String
    /// Every unit the request names (one, except at launch, when all services of a directory start together).
    public var anchors: [String]
    /// The jobs in the order they were added (anchor first).
    public private(set) var jobs: [PlannedJob] = []
    /// Ordering edges: `(before, after)` — `after`'s job waits for `before`'s job.
    public private(set) var edges: [(String, String)] = []
    /// Cycles broken by dropping a job: (dropped unit, cycle path).
    public private(set) var brokenCycles: [(dropped: String, path: [String])] = []
    /// Wanted units that do not exist (systemd ignores them; the manager logs them).
    public private(set) var missingWanted: [String] = []

    private var index: [String: Int] = [:]

    public func job(_ unit: String) -> PlannedJob? { index[unit].map { jobs[$0] } }

    /// Builds the transaction for `kind` on `anchor`. `state` gives a unit's current active state (stop jobs are
    /// only added for units that are not already inactive); `existing` are jobs already queued in the manager,
    /// which take part in cycle detection but are never dropped.
    public static func build(
        _ graph: DependencyGraph, anchor: String, kind: JobKind, state: (String) -> ActiveState,
        existing: [String: JobKind] = [:]
    ) throws(TransactionError) -> Transaction {
        try build(graph, anchors: [anchor], kind: kind, state: state, existing: existing)
    }

    /// One transaction for several units at once (`tend daemon` starting a whole directory of services).
    public static func build(
        _ graph: DependencyGraph, anchors: [String], kind: JobKind, state: (String) -> ActiveState,
        existing: [String: JobKind] = [:]
    ) throws(TransactionError) -> Transaction {
        let anchor = anchors[0]
        let anchorSet = Set(anchors)
        var t = Transaction(anchor: anchor)
        t.anchors = anchors
        for a in anchors where !graph.isKnown(a) { throw .notFound(unit: a, requiredBy: nil) }
        // Requirement edges between jobs, for `mattersToAnchor`.
        var strong: [String: [String]] = [:]
        var queue: [String] = []
        func isDown(_ u: String) -> Bool { let s = state(u); return s == .inactive || s == .failed }

        func add(_ unit: String, _ kind: JobKind, by: String?, strongEdge: Bool) throws(TransactionError) {
            if let by, strongEdge { strong[by, default: []].append(unit) }
            if let i = t.index[unit] {
                let old = t.jobs[i].kind
                if old == kind { return }
                if let merged = JobKind.merged(old, kind) {
                    if merged != old {
                        t.jobs[i].kind = merged
                        queue.append(unit)
                    }
                    return
                }
                // start against stop: resolved once the whole set is known (one of them may be optional).
                t.conflicting.append((unit, kind, by, strongEdge))
                return
            }
            t.index[unit] = t.jobs.count
            t.jobs.append(PlannedJob(unit: unit, kind: kind, mattersToAnchor: false, pulledBy: by))
            queue.append(unit)
        }

        for a in anchors { try add(a, kind, by: nil, strongEdge: false) }
        var head = 0
        while head < queue.count {
            let u = queue[head]
            head += 1
            guard let job = t.job(u) else { continue }
            // A unit whose start is already queued had what it requires and wants pulled in then.
            if job.kind == .start && existing[u] == .start && !anchorSet.contains(u) { continue }
            let n = graph.node(u)
            if job.kind == .restart || (job.kind == .tryRestart && !isDown(u)) {
                // systemd's restart propagation: units that need this one (Requires=, BindsTo=, PartOf=) are
                // try-restarted, so they stop before it and start again after it.
                for d in n.requiredBy + n.boundBy + n.consistsOf where !isDown(d) {
                    try add(d, .tryRestart, by: u, strongEdge: false)
                }
            }
            switch job.kind {
            case .tryRestart, .reload:
                break
            case .start, .restart:
                for d in n.requires + n.bindsTo { try add(d, .start, by: u, strongEdge: true) }
                for d in n.requisite { try add(d, .verifyActive, by: u, strongEdge: true) }
                for d in n.wants + n.upholds {
                    if graph.isKnown(d) {
                        try add(d, .start, by: u, strongEdge: false)
                    } else if !t.missingWanted.contains(d) {
                        t.missingWanted.append(d)
                    }
                }
                for d in n.conflicts + n.conflictedBy where !isDown(d) || t.index[d] != nil {
                    try add(d, .stop, by: u, strongEdge: true)
                }
            case .stop:
                for d in n.requiredBy + n.boundBy + n.consistsOf where !isDown(d) {
                    try add(d, .stop, by: u, strongEdge: true)
                }
            case .verifyActive:
                break
            }
        }

        // Which jobs the anchor needs.
        var matters = anchorSet
        var stack = anchors
        while let u = stack.popLast() {
            for d in strong[u] ?? [] where !matters.contains(d) {
                matters.insert(d)
                stack.append(d)
            }
        }
        for i in t.jobs.indices { t.jobs[i].mattersToAnchor = matters.contains(t.jobs[i].unit) }
        for j in t.jobs where j.mattersToAnchor && j.kind != .stop && !graph.isKnown(j.unit) {
            throw .notFound(unit: j.unit, requiredBy: j.pulledBy)
        }
        t.removeJobs { !graph.isKnown($0.unit) }

        // A unit both to start and to stop: the optional side gives way.
        for (unit, kind, by, _) in t.conflicting {
            guard let existingJob = t.job(unit) else { continue }
            let newMatters = by.map { matters.contains($0) } ?? true
            if existingJob.mattersToAnchor && newMatters { throw .conflict(unit, by ?? anchor) }
            if !existingJob.mattersToAnchor && newMatters {
                t.jobs[t.index[unit]!].kind = kind
                t.jobs[t.index[unit]!].mattersToAnchor = true
            }
        }
        t.conflicting = []

        // Ordering, and cycles.
        while true {
            t.computeEdges(graph, existing: existing)
            guard let cycle = t.findCycle(graph, existing: existing) else { break }
            // systemd drops a job that does not matter to the anchor; the first such on the path.
            if let victim = cycle.dropLast().first(where: { u in t.job(u).map { !$0.mattersToAnchor } ?? false }) {
                t.brokenCycles.append((victim, cycle))
                t.removeJobs { $0.unit == victim }
                // Jobs only that one pulled in no longer have a reason to run.
                t.pruneUnreachable(graph)
            } else {
                throw .orderingCycle(cycle)
            }
        }
        return t
    }

    private var conflicting: [(String, JobKind, String?, Bool)] = []

    private init(anchor: String) {
        self.anchor = anchor
        anchors = [anchor]
    }

    private mutating func removeJobs(_ predicate: (PlannedJob) -> Bool) {
        jobs.removeAll(where: predicate)
        index = [:]
        for (i, j) in jobs.enumerated() { index[j.unit] = i }
    }

    /// After a job was dropped: keep only jobs still pulled in from the anchor by some remaining job.
    private mutating func pruneUnreachable(_ graph: DependencyGraph) {
        var reach = Set(anchors)
        var stack = anchors
        while let u = stack.popLast() {
            guard let j = job(u) else { continue }
            let n = graph.node(u)
            let next: [String]
            switch j.kind {
            case .start: next = n.requires + n.bindsTo + n.requisite + n.wants + n.upholds + n.conflicts + n.conflictedBy
            case .restart:
                next = n.requires + n.bindsTo + n.requisite + n.wants + n.upholds + n.conflicts + n.conflictedBy
                    + n.requiredBy + n.boundBy + n.consistsOf
            case .stop, .tryRestart: next = n.requiredBy + n.boundBy + n.consistsOf
            case .verifyActive, .reload: next = []
            }
            for d in next where job(d) != nil && !reach.contains(d) {
                reach.insert(d)
                stack.append(d)
            }
        }
        removeJobs { !reach.contains($0.unit) }
    }

    private mutating func computeEdges(_ graph: DependencyGraph, existing: [String: JobKind]) {
        edges = []
        var seen: Set<[String]> = []
        func edge(_ a: String, _ b: String) {
            if seen.insert([a, b]).inserted { edges.append((a, b)) }
        }
        for j in jobs {
            for other in graph.orderingNeighbours(j.unit) {
                guard let ok = job(other)?.kind ?? existing[other] else { continue }
                if graph.mustWait(j.unit, j.kind, for: other, ok) { edge(other, j.unit) }
                // Edges from queued jobs to ours matter for cycles through them.
                if job(other) == nil, graph.mustWait(other, ok, for: j.unit, j.kind) { edge(j.unit, other) }
            }
        }
    }

    /// A cycle in the "waits for" relation, as a path in `After=` direction starting (if it can) at the anchor:
    /// `a → b → c → a` means a waits for b, b for c, c for a. Queued jobs take part: the relation is followed
    /// through them too (they were acyclic among themselves, so a new cycle passes through one of our jobs).
    private func findCycle(_ graph: DependencyGraph, existing: [String: JobKind]) -> [String]? {
        func kind(_ u: String) -> JobKind? { job(u)?.kind ?? existing[u] }
        var color: [String: Int] = [:]  // 1 on the stack, 2 done
        var path: [String] = []
        var found: [String]?
        func visit(_ u: String) {
            guard found == nil, let k = kind(u) else { return }
            color[u] = 1
            path.append(u)
            for v in graph.orderingNeighbours(u) {
                if found != nil { return }
                guard let kv = kind(v), graph.mustWait(u, k, for: v, kv) else { continue }
                if color[v] == 1 {
                    let start = path.firstIndex(of: v)!
                    found = Array(path[start...]) + [v]
                    return
                }
                if color[v] == nil { visit(v) }
            }
            path.removeLast()
            color[u] = 2
        }
        for r in anchors + jobs.map(\.unit) where color[r] == nil && found == nil { visit(r) }
        guard var cycle = found else { return nil }
        // Rotate so the path begins at the anchor, else at its smallest name, for a stable message.
        cycle.removeLast()
        let first = cycle.firstIndex(of: anchor) ?? cycle.indices.min { cycle[$0] < cycle[$1] }!
        cycle = Array(cycle[first...] + cycle[..<first])
        return cycle + [cycle[0]]
    }
}
