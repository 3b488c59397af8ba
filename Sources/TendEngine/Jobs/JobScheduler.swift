import Glibc
import TendModel
import TendSystem

/// A unit's start-up transaction, for `tend analyze` (monotonic instants): the start (or restart) job that ran
/// it, at launch or when a client or a dependency asked, up to the first time the unit became ready after that
/// job. Automatic restarts (`Restart=`) never move these times: a restart before the unit first became ready is
/// a retry of its start-up (`retries`, `attempt`), one after it is counted apart (`restarts`, `lastRestart`).
public struct UnitTiming: Sendable {
    /// The start job was queued.
    public var queued: MonotonicInstant?
    /// It entered activating: its start job ran (a restart job: its start half began).
    public var activating: MonotonicInstant?
    /// When the attempt that got it active (or the current one, while it is not) began: `activating`, or the last
    /// automatic restart when the first attempts failed.
    public var attempt: MonotonicInstant?
    /// It became ready (active; a oneshot without RemainAfterExit=: finished), the first time after `activating`.
    public var active: MonotonicInstant?
    /// Its start-up failed (the job, or the unit before it was ready) at this time.
    public var failed: MonotonicInstant?
    /// The unit whose job it waited for last before its own could run.
    public var heldBy: String?
    /// The last job's result (nil while it runs).
    public var lastResult: JobResult?
    /// A failed Condition*= skipped it.
    public var skippedBy: String?
    /// Automatic restarts before it first became ready (failed attempts of the start-up).
    public var retries = 0
    /// Automatic restarts after it became ready, and when the last one began.
    public var restarts = 0
    public var lastRestart: MonotonicInstant?

    /// A new start-up, begun by a job at `now`: everything but when the job was queued starts over.
    mutating func begin(_ now: MonotonicInstant, heldBy: String?) {
        self = UnitTiming(queued: queued, activating: now, attempt: now, heldBy: heldBy)
    }
}

/// The runtime half of jobs (systemd's job queue): one job per unit at most, each dispatched to its unit's state
/// machine only when every job it is ordered after has finished, finished when the unit becomes ready (or
/// fails, which fails the jobs of units that require it with result `dependency`).
///
/// Everything runs on the manager's thread. Completions reported from inside a state machine's dispatch are
/// handled after the current event (`EventLoop.afterEvents`), so no unit's machine is entered twice at once.
///
/// A little over our usual ~500 lines: the queue, running jobs and the reactions to unit changes share the
/// job table and its wake-up bookkeeping, which stay private to this one type.
public final class JobScheduler {
    unowned let host: any JobHost

    final class Job {
        let unit: String
        var kind: JobKind
        var running = false
        var completions: [(JobResult) -> Void] = []
        /// The unit whose job this one waited for last.
        var blocker: String?
        /// Where the last check of `runnable` stopped in the unit's ordering neighbours: the ones before it did
        /// not block then, and can only start to when a job is installed, which resets this.
        var scanFrom = 0
        /// The machine's account of a failure, taken when it happened (the process log moves on).
        var failureText: String?
        init(unit: String, kind: JobKind) {
            self.unit = unit
            self.kind = kind
        }
    }

    private var jobs: [String: Job] = [:]
    /// Queue position of each job (for a deterministic pass) and the jobs whose runnability may have changed.
    private var sequence: [String: Int] = [:]
    private var nextSequence = 0
    private var dirty: Set<String> = []
    /// Jobs blocked by a unit's job, woken (made dirty) when it finishes: a target ordered after 1000 services
    /// is then checked again when its current blocker finishes, not whenever any of them does.
    private var waitingOn: [String: Set<String>] = [:]
    /// While submitting many transactions at once (launch), run nothing until the last is queued.
    private var batching = false
    private var cachedGraph: DependencyGraph?
    public private(set) var timings: [String: UnitTiming] = [:]
    /// When the manager began starting units (the origin of `analyze` times).
    public private(set) var bootTime = MonotonicInstant(ns: 0)
    private var pumping = false
    private var pumpScheduled = false
    /// Unit events seen inside a dispatch, handled by the next pump.
    private var pendingEvents: [(String, ActiveState, ActiveState)] = []
    private var pendingFinished: [(String, JobType, Bool)] = []

    init(host: any JobHost) {
        self.host = host
        bootTime = host.now
    }

    // MARK: - The graph

    /// The dependency graph of every loaded unit plus the `.wants/`/`.requires/` directories; rebuilt after
    /// daemon-reload, enable and disable.
    public var graph: DependencyGraph {
        if let g = cachedGraph { return g }
        var deps: [UnitDependencies] = []
        for unit in host.units.values {
            guard let config = unit.config else { continue }
            var d = UnitDependencies(config: config)
            let installed = host.installedDependencies(of: d.name)
            d.wants += installed.wants
            d.requires += installed.requires
            // The units named must be loaded to take part (templates' instances are loaded on demand).
            for name in d.wants + d.requires + d.bindsTo + d.requisite + d.upholds where host.units[name] == nil {
                _ = host.unit(named: name)
            }
            deps.append(d)
        }
        // Units loaded on demand just now.
        let known = Set(deps.map(\.name))
        for unit in host.units.values where !known.contains(unit.name.description) {
            if let c = unit.config { deps.append(UnitDependencies(config: c)) }
        }
        let g = DependencyGraph(units: deps)
        cachedGraph = g
        return g
    }

    static func isUnitName(_ s: String) -> Bool {
        UnitName.knownSuffixes.contains { s.hasSuffix("." + $0) } && !s.hasPrefix(".")
    }

    /// Unit files or links changed (daemon-reload, enable, disable): rebuild the graph on next use.
    public func invalidate() {
        cachedGraph = nil
        // Neighbour lists change with the graph: every waiting job checks again from the start.
        for j in jobs.values where !j.running {
            j.scanFrom = 0
            dirty.insert(j.unit)
        }
        for u in host.units.values { u.enablementCache = nil }
    }

    // MARK: - Requests

    /// Queues `kind` for `name` and what it pulls in; `completion` gets the anchor job's result and, on failure,
    /// the message for the client.
    /// Several anchors in one transaction (launch). A refused transaction falls back to one per unit, so one bad
    /// unit (an ordering cycle, a missing requirement) does not keep the others from starting.
    func submit(_ kind: JobKind, _ names: [String], completion: ((JobResult, String?) -> Void)?) {
        let g = graph
        var existing: [String: JobKind] = [:]
        for (u, j) in jobs { existing[u] = j.kind }
        do {
            let t = try Transaction.build(g, anchors: names, kind: kind,
                                          state: { self.host.units[$0]?.activeState ?? .inactive }, existing: existing)
            queue(t, kind: kind, completion: nil)
            pump()
        } catch {
            batching = true
            for name in names where jobs[name]?.kind != kind { submit(kind, name, completion: nil) }
            batching = false
            pump()
        }
    }

    public func submit(_ kind: JobKind, _ name: String, completion: ((JobResult, String?) -> Void)?) {
        guard let unit = host.unit(named: name) else {
            completion?(.failed, "Unit \(UnitName(parsing: name)?.description ?? name) not found.")
            return
        }
        let anchor = unit.name.description
        if unit.loadState != .loaded {
            if kind == .stop && unit.activeState == .inactive {
                completion?(.done, nil)
                return
            }
            if kind != .stop {
                completion?(.failed, unit.badSettingMessage)
                return
            }
        }
        if cachedGraph?.isKnown(anchor) != true { cachedGraph = nil }
        let g = graph
        var existing: [String: JobKind] = [:]
        for (u, j) in jobs { existing[u] = j.kind }
        let t: Transaction
        do {
            t = try Transaction.build(g, anchor: anchor, kind: kind, state: { self.host.units[$0]?.activeState ?? .inactive },
                                      existing: existing)
        } catch {
            host.report(.error, "Failed to \(kind.verb) \(anchor): \(error)")
            completion?(.failed, "Failed to \(kind.verb) \(anchor): \(error)")
            return
        }
        queue(t, kind: kind, completion: completion)
        pump()
    }

    private func queue(_ t: Transaction, kind: JobKind, completion: ((JobResult, String?) -> Void)?) {
        let anchor = t.anchor
        for broken in t.brokenCycles {
            host.report(.warning, "\(anchor): Found ordering cycle: \(broken.path.joined(separator: " → ")); "
                + "breaking it by dropping the start job of \(broken.dropped), which is only wanted.")
        }
        for missing in t.missingWanted where UnitName(parsing: missing)?.suffix == "service" || missing.hasSuffix(".target") {
            host.report(.debug, "\(anchor): Wanted unit \(missing) not found, ignoring.")
        }
        let now = host.now
        for planned in t.jobs {
            let job = install(planned.unit, planned.kind)
            let willStart = host.units[planned.unit].map { $0.activeState == .inactive || $0.activeState == .failed }
            if planned.kind.startsUnit && willStart == true && !job.running {
                // Until it runs, nothing of an earlier start-up is shown for it.
                timings[planned.unit] = UnitTiming(queued: now)
            }
            if planned.unit == anchor, let completion {
                job.completions.append { [unowned self, unowned job] result in
                    completion(result, result == .done ? nil : job.failureText ?? self.message(anchor, kind, result))
                }
            }
        }
    }

    /// Adds a job, merging with or replacing the unit's current one.
    private func install(_ unit: String, _ kind: JobKind) -> Job {
        rescanNeighbours(of: unit)
        if let old = jobs[unit] {
            if old.kind == kind || (old.kind == .start && kind == .verifyActive) { return old }
            if old.running && old.kind.startsUnit && (kind == .start || kind == .verifyActive) { return old }
            if let merged = JobKind.merged(old.kind, kind) {
                // One job does both, and its clients stay attached (systemd's job_install): a waiting job just
                // changes kind; a running one is merged and run again (a start that is running becomes a
                // restart that runs once it may).
                old.kind = merged
                if old.running {
                    old.running = false
                    old.scanFrom = 0
                }
                dirty.insert(unit)
                return old
            }
            // A conflicting job (a stop against a start) replaces the old one, whose clients learn it was canceled.
            jobs[unit] = nil
            for other in graph.orderingNeighbours(unit) where jobs[other] != nil { dirty.insert(other) }
            dirty.formUnion(waitingOn.removeValue(forKey: unit) ?? [])
            for c in old.completions { c(.canceled) }
        }
        let job = Job(unit: unit, kind: kind)
        jobs[unit] = job
        sequence[unit] = nextSequence
        nextSequence += 1
        dirty.insert(unit)
        return job
    }

    private func message(_ unit: String, _ kind: JobKind, _ result: JobResult) -> String {
        switch result {
        case .dependency:
            return "A dependency job for \(unit) failed. See \"tend list-dependencies \(unit)\" and \"tend status\" of its dependencies."
        case .canceled:
            return "Job for \(unit) canceled."
        case .assert:
            let what = timings[unit]?.skippedBy.map { " (\($0))" } ?? ""
            return "Assertion failed on job for \(unit)\(what)."
        case .failed, .done:
            if let u = host.units[unit], u.machine != nil {
                return host.failureMessage(u, kind.machineJob)
            }
            return "Job for \(unit) failed."
        }
    }

    /// Launch: the default target, the one named with `--target`, or (the "directory of services" rule) every
    /// service when the unit directories hold no targets and no `.wants/`/`.requires/` links at all.
    public func bootStart(target: String?) {
        bootTime = host.now
        if let target {
            host.report(.info, "Starting \(UnitName(parsing: target)?.description ?? target).")
            submit(.start, target, completion: nil)
            return
        }
        if host.unitDirectoriesUseTargets {
            host.report(.info, "Starting default.target.")
            submit(.start, "default.target", completion: nil)
            return
        }
        // One transaction for the whole directory: each service an anchor (a broken one is left out and logged),
        // and each timer, whose services then wait for it to elapse.
        var anchors: [String] = []
        let triggered = Set(host.sortedUnits.compactMap { $0.timer?.target })
        for unit in host.sortedUnits where unit.name.suffix == "service" && !triggered.contains(unit.name.description)
            && unit.name.description != host.commandUnit || unit.name.suffix == "timer"
        {
            guard unit.loadState == .loaded else {
                for d in unit.diagnostics where d.severity == .error { host.report(.error, d.description) }
                continue
            }
            anchors.append(unit.name.description)
        }
        guard !anchors.isEmpty else { return }
        submit(.start, anchors, completion: nil)
    }

    /// Manager shutdown: a stop job for every unit not inactive; the ordering makes it the reverse of the start
    /// order.
    public func stopAll() {
        for unit in host.sortedUnits where unit.activeState != .inactive && unit.activeState != .failed {
            _ = install(unit.name.description, .stop)
        }
        pump()
    }

    // MARK: - Running jobs

    private func runnable(_ job: Job, _ g: DependencyGraph) -> Bool {
        let neighbours = g.orderingNeighbours(job.unit)
        var i = min(job.scanFrom, neighbours.count)
        while i < neighbours.count {
            let other = neighbours[i]
            if let o = jobs[other], g.mustWait(job.unit, job.kind, for: other, o.kind) {
                job.blocker = other
                job.scanFrom = i
                waitingOn[other, default: []].insert(job.unit)
                return false
            }
            i += 1
        }
        job.scanFrom = neighbours.count
        return true
    }

    /// A job appeared (or changed kind) for `unit`: jobs that already looked past it must look again.
    private func rescanNeighbours(of unit: String) {
        for other in graph.orderingNeighbours(unit) {
            if let j = jobs[other], !j.running { j.scanFrom = 0 }
        }
    }

    /// Runs every runnable job, until nothing changes.
    func pump() {
        guard !pumping, !batching else { return }
        pumping = true
        defer { pumping = false }
        var progress = true
        while progress {
            progress = false
            if !pendingFinished.isEmpty || !pendingEvents.isEmpty {
                progress = true
                let finished = pendingFinished
                pendingFinished = []
                for (unit, type, ok) in finished { machineFinished(unit, type, ok) }
                let events = pendingEvents
                pendingEvents = []
                for (unit, from, to) in events { unitChanged(unit, from, to) }
            }
            guard !dirty.isEmpty else { continue }
            let g = graph
            let candidates = dirty.sorted { (sequence[$0] ?? 0) < (sequence[$1] ?? 0) }
            dirty = []
            for name in candidates {
                guard let job = jobs[name], !job.running, runnable(job, g) else { continue }
                run(job, g)
                progress = true
            }
        }
    }

    private func schedulePump() {
        guard !pumpScheduled else { return }
        pumpScheduled = true
        host.afterEvents { [unowned self] in
            self.pumpScheduled = false
            self.pump()
        }
    }

    private func run(_ job: Job, _ g: DependencyGraph) {
        guard let unit = host.units[job.unit] else {
            finish(job, .failed)
            return
        }
        let now = host.now
        switch job.kind {
        case .verifyActive:
            finish(job, unit.activeState == .active || unit.activeState == .reloading ? .done : .failed)
        case .start:
            var timing = timings[job.unit] ?? UnitTiming()
            if unit.activeState == .active || unit.activeState == .reloading {
                // Already up: its start-up stays the one that brought it up.
                finish(job, .done)
                return
            }
            timing.begin(now, heldBy: job.blocker)
            if let config = unit.config, !config.conditions.isEmpty {
                let outcome = host.evaluateConditions(config)
                if !outcome.conditionsMet || !outcome.assertsMet {
                    timing.skippedBy = outcome.failed
                    timings[job.unit] = timing
                    if !outcome.assertsMet {
                        host.report(.error, "\(job.unit): Assertion failed: \(outcome.failed ?? "")")
                        finish(job, .assert)
                    } else {
                        host.report(.info, "\(job.unit): Condition check resulted in the unit being skipped: \(outcome.failed ?? "").")
                        finish(job, .done)
                    }
                    return
                }
            }
            timings[job.unit] = timing
            if unit.hasNoProcesses {
                unit.setTargetState(.active)
                host.publishState(unit)
                timings[job.unit]?.active = now
                finish(job, .done)
                return
            }
            guard unit.loadState == .loaded, unit.machine != nil else {
                host.report(.error, "\(job.unit): Unit has a bad setting or is not loaded, not starting it.")
                finish(job, .failed)
                return
            }
            job.running = true
            host.dispatch(unit, .start)
        case .stop:
            if unit.hasNoProcesses {
                unit.setTargetState(.inactive)
                host.publishState(unit)
                finish(job, .done)
                return
            }
            guard unit.machine != nil, unit.activeState != .inactive, unit.activeState != .failed else {
                finish(job, .done)
                return
            }
            job.running = true
            host.note(unit, .info, "Stopping \(unit.unitDescription ?? job.unit)...")
            host.dispatch(unit, .stop)
        case .restart, .tryRestart, .reload:
            let down = unit.activeState == .inactive || unit.activeState == .failed
            if job.kind == .tryRestart && down {
                finish(job, .done)  // try-restart leaves a unit that isn't running alone
                return
            }
            if job.kind == .reload && down {
                job.failureText = "Failed to reload \(job.unit): Unit \(job.unit) is not active."
                finish(job, .failed)
                return
            }
            if unit.hasNoProcesses {
                // A target has no processes: restarting it reaches it again, reloading it does nothing.
                if job.kind != .reload {
                    timings[job.unit, default: UnitTiming()].begin(now, heldBy: job.blocker)
                    timings[job.unit]?.active = now
                    unit.setTargetState(.active)
                    host.publishState(unit)
                }
                finish(job, .done)
                return
            }
            guard unit.loadState == .loaded, unit.machine != nil else {
                finish(job, .failed)
                return
            }
            if job.kind != .reload {
                // A new start-up; `activating` moves to the start half once the stop half is done.
                timings[job.unit, default: UnitTiming()].begin(now, heldBy: job.blocker)
            }
            job.running = true
            if job.kind != .reload && !down { host.note(unit, .info, "Stopping \(unit.unitDescription ?? job.unit)...") }
            host.dispatch(unit, job.kind == .reload ? .reload : .restart)
        }
    }

    private func finish(_ job: Job, _ result: JobResult) {
        guard jobs[job.unit] === job else { return }
        jobs[job.unit] = nil
        sequence[job.unit] = nil
        // The jobs that waited for this one.
        for w in waitingOn.removeValue(forKey: job.unit) ?? [] where jobs[w] != nil { dirty.insert(w) }
        let now = host.now
        if job.kind.startsUnit {
            timings[job.unit, default: UnitTiming()].lastResult = result
            if result == .done {
                if timings[job.unit]?.active == nil && timings[job.unit]?.skippedBy == nil {
                    timings[job.unit]?.active = now
                }
            } else {
                timings[job.unit]?.failed = now
            }
        }
        if job.kind == .stop, job.running, result == .done, let unit = host.units[job.unit], unit.machine != nil {
            host.note(unit, .info, "Stopped \(unit.unitDescription ?? job.unit).")
        }
        if result == .dependency {
            host.report(.error, "\(job.unit): Dependency failed for \(host.units[job.unit]?.config?.description ?? job.unit).")
        }
        host.publish(.jobFinished(unit: job.unit, job: job.kind.rawValue, result: result))
        for c in job.completions { c(result) }
        // A start that did not succeed fails the waiting jobs of units that need this one.
        if result != .done && job.kind != .stop && job.kind != .reload {
            let n = graph.node(job.unit)
            for d in n.requiredBy + n.boundBy + n.requisiteOf {
                if let dj = jobs[d], dj.kind != .stop, dj.kind != .reload, !dj.running { finish(dj, .dependency) }
            }
        }
    }

    // MARK: - Hooks from the manager

    /// A machine finished a job (`.jobFinished` effect). Called inside a dispatch: handled after it.
    func machineJobFinished(_ unit: Unit, _ type: JobType, _ ok: Bool) {
        let name = unit.name.description
        if !ok, let job = jobs[name], job.running, job.kind != .stop, Self.ends(job.kind, type) {
            job.failureText = host.failureMessage(unit, job.kind == .reload ? .reload : type)
        }
        pendingFinished.append((name, type, ok))
        schedulePump()
    }

    private func machineFinished(_ name: String, _ type: JobType, _ ok: Bool) {
        guard let job = jobs[name], job.running, Self.ends(job.kind, type) else { return }
        finish(job, ok || job.kind == .stop ? .done : .failed)
    }

    /// Whether the machine finishing a job of `type` ends a running job of `kind`. A restart job ends with the
    /// machine's restart only: the `.start` it may report first is the start the restart replaced. A start job
    /// ends with a restart in flight too (the machine merged them).
    static func ends(_ kind: JobKind, _ type: JobType) -> Bool {
        switch (kind, type) {
        case (.start, .start), (.start, .restart), (.restart, .restart), (.tryRestart, .restart), (.reload, .reload),
            (.stop, .stop):
            return true
        default:
            return false
        }
    }

    /// A unit's machine changed state. Called inside a dispatch: handled after it.
    func unitStateChanged(_ unit: Unit, from: ServiceState, to: ServiceState) {
        let a = from.activeState, b = to.activeState
        let name = unit.name.description
        recordTiming(name, from: from, to: to)
        guard a != b else { return }
        pendingEvents.append((name, a, b))
        schedulePump()
    }

    /// Keeps the start-up's times (`UnitTiming`) as the unit moves. An attempt to start begins when the unit
    /// enters a start state from down, from its stop (a restart's start half) or from the wait before an
    /// automatic restart: with a start or restart job running it is the job's (the start-up); without one it is
    /// an automatic restart, a retry while the start-up has not reached active, a restart after.
    private func recordTiming(_ name: String, from: ServiceState, to: ServiceState) {
        let a = from.activeState, b = to.activeState
        let now = host.now
        var t = timings[name] ?? UnitTiming()
        if b == .activating && to != .autoRestart && (a != .activating || from == .autoRestart) {
            let byJob = jobs[name].map { $0.running && $0.kind.startsUnit } ?? false
            if byJob || t.activating == nil {
                // The job's own attempt (for a restart job, its start half), or a start without any job.
                if byJob && a == .deactivating && t.active == nil {
                    t.activating = now
                    t.attempt = now
                } else if t.activating == nil {
                    t.begin(now, heldBy: nil)
                }
            } else if t.active == nil && t.skippedBy == nil {
                t.retries += 1
                t.attempt = now
            } else {
                t.restarts += 1
                t.lastRestart = now
            }
        }
        if (b == .active || b == .reloading) && a != .active && a != .reloading && t.activating != nil && t.active == nil {
            t.active = now
        }
        if b == .failed && t.active == nil && t.failed == nil && t.activating != nil { t.failed = now }
        timings[name] = t
    }

    private func unitChanged(_ name: String, _ from: ActiveState, _ to: ActiveState) {
        let g = graph
        let n = g.node(name)
        let down = to == .inactive || to == .failed
        let wasUp = from == .active || from == .reloading || from == .activating || from == .deactivating
        // A restart takes the unit down on its way up again: its job try-restarts the units bound to it instead.
        let restarting = jobs[name].map { $0.kind == .restart || $0.kind == .tryRestart } ?? false
        if down && wasUp && !restarting {
            // BindsTo=: units bound to this one stop with it, however it went down.
            for d in n.boundBy {
                guard let u = host.units[d], u.activeState != .inactive, u.activeState != .failed,
                    jobs[d]?.kind != .stop
                else { continue }
                host.report(.info, "\(d): Stopping, because it is bound to \(name), which went down.")
                submit(.stop, d, completion: nil)
            }
        }
        if to == .failed {
            for d in n.onFailure {
                host.report(.info, "\(name): Triggering OnFailure= dependency \(d).")
                submit(.start, d, completion: nil)
            }
        }
        if down {
            // Upholds=: an active unit keeps the units it upholds running.
            for d in n.upheldBy where host.units[d]?.activeState == .active && jobs[name] == nil {
                if host.isShuttingDown { break }
                host.report(.info, "\(name): Starting, upheld by \(d).")
                submit(.start, name, completion: nil)
                break
            }
        }
    }

    // MARK: - Queries

    /// The unit's pending job, for status and tests.
    public func job(for unit: String) -> (kind: JobKind, running: Bool)? {
        jobs[unit].map { ($0.kind, $0.running) }
    }
    public var queuedJobs: Int { jobs.count }
}

extension JobKind {
    /// systemctl's verb for the job, in messages (`Failed to restart db.service: …`).
    var verb: String { self == .verifyActive ? "start" : rawValue }

    /// The request the unit's state machine gets for a job of this kind, and finishes with `.jobFinished`.
    var machineJob: JobType {
        switch self {
        case .start, .verifyActive: return .start
        case .stop: return .stop
        case .restart, .tryRestart: return .restart
        case .reload: return .reload
        }
    }
}
