import Testing
@testable import TendModel
@testable import TendSystem
@testable import TendEngine

/// Transactions without processes: unit dependencies in, jobs and ordering edges out.
struct TransactionTests {
    /// A unit with `DefaultDependencies=no`, so only what the test says counts.
    func u(_ name: String, requires: [String] = [], wants: [String] = [], requisite: [String] = [],
           bindsTo: [String] = [], partOf: [String] = [], conflicts: [String] = [], after: [String] = [],
           before: [String] = []) -> UnitDependencies {
        var d = UnitDependencies(name: name)
        d.requires = requires
        d.wants = wants
        d.requisite = requisite
        d.bindsTo = bindsTo
        d.partOf = partOf
        d.conflicts = conflicts
        d.after = after
        d.before = before
        d.defaultDependencies = false
        return d
    }

    func inactive(_: String) -> ActiveState { .inactive }
    func active(_: String) -> ActiveState { .active }

    func edgeSet(_ t: Transaction) -> Set<String> { Set(t.edges.map { "\($0.0)>\($0.1)" }) }

    @Test func diamondStartsEachUnitOnceInDependencyOrder() throws {
        let g = DependencyGraph(units: [
            u("app.service", requires: ["api.service", "worker.service"], after: ["api.service", "worker.service"]),
            u("api.service", requires: ["db.service"], after: ["db.service"]),
            u("worker.service", requires: ["db.service"], after: ["db.service"]),
            u("db.service"),
        ])
        let t = try Transaction.build(g, anchor: "app.service", kind: .start, state: inactive)
        #expect(t.jobs.map(\.unit).sorted() == ["api.service", "app.service", "db.service", "worker.service"])
        #expect(t.jobs.allSatisfy { $0.kind == .start && $0.mattersToAnchor })
        #expect(edgeSet(t) == [
            "api.service>app.service", "worker.service>app.service", "db.service>api.service",
            "db.service>worker.service",
        ])
    }

    @Test func threeUnitOrderingCycleOfRequirementsIsRefusedWithItsPath() {
        let g = DependencyGraph(units: [
            u("a.service", requires: ["b.service"], after: ["b.service"]),
            u("b.service", requires: ["c.service"], after: ["c.service"]),
            u("c.service", requires: ["a.service"], after: ["a.service"]),
        ])
        #expect(throws: TransactionError.orderingCycle(["a.service", "b.service", "c.service", "a.service"])) {
            try Transaction.build(g, anchor: "a.service", kind: .start, state: inactive)
        }
        let message = TransactionError.orderingCycle(["a.service", "b.service", "c.service", "a.service"]).description
        #expect(message.contains("a.service → b.service → c.service → a.service"))
    }

    @Test func cycleThroughAWantsOnlyJobIsBrokenByDroppingIt() throws {
        // a requires b; b wants c; c is ordered before b and after a: a waits b waits c waits a.
        let g = DependencyGraph(units: [
            u("a.service", requires: ["b.service"], after: ["b.service"]),
            u("b.service", wants: ["c.service"], after: ["c.service"]),
            u("c.service", after: ["a.service"]),
        ])
        let t = try Transaction.build(g, anchor: "a.service", kind: .start, state: inactive)
        #expect(t.jobs.map(\.unit) == ["a.service", "b.service"])
        #expect(t.brokenCycles.count == 1)
        #expect(t.brokenCycles.first?.dropped == "c.service")
        #expect(t.brokenCycles.first?.path == ["a.service", "b.service", "c.service", "a.service"])
    }

    @Test func wantsPullsInWithoutMatteringToTheAnchor() throws {
        let g = DependencyGraph(units: [u("web.service", wants: ["setup.service"]), u("setup.service")])
        let t = try Transaction.build(g, anchor: "web.service", kind: .start, state: inactive)
        #expect(t.job("setup.service")?.mattersToAnchor == false)
        #expect(t.job("web.service")?.mattersToAnchor == true)
        #expect(t.edges.isEmpty)  // no ordering: they start in parallel
    }

    @Test func missingRequiredUnitIsAnErrorAndMissingWantedIsNot() throws {
        let g = DependencyGraph(units: [u("a.service", requires: ["nope.service"]), u("b.service", wants: ["nope.service"])])
        #expect(throws: TransactionError.notFound(unit: "nope.service", requiredBy: "a.service")) {
            try Transaction.build(g, anchor: "a.service", kind: .start, state: inactive)
        }
        let t = try Transaction.build(g, anchor: "b.service", kind: .start, state: inactive)
        #expect(t.jobs.map(\.unit) == ["b.service"])
        #expect(t.missingWanted == ["nope.service"])
    }

    @Test func stopPropagatesToRequiringBoundAndPartOfUnitsInReverseOrder() throws {
        let g = DependencyGraph(units: [
            u("db.service"),
            u("app.service", requires: ["db.service"], after: ["db.service"]),
            u("side.service", bindsTo: ["db.service"], after: ["db.service"]),
            u("part.service", partOf: ["db.service"]),
            u("fan.service", wants: ["db.service"], after: ["db.service"]),
        ])
        let t = try Transaction.build(g, anchor: "db.service", kind: .stop, state: active)
        #expect(Set(t.jobs.map(\.unit)) == ["db.service", "app.service", "side.service", "part.service"])
        #expect(t.jobs.allSatisfy { $0.kind == .stop })
        // db stops after those ordered after it.
        #expect(edgeSet(t) == ["app.service>db.service", "side.service>db.service"])
    }

    @Test func stopLeavesInactiveDependantsAlone() throws {
        let g = DependencyGraph(units: [u("db.service"), u("app.service", requires: ["db.service"])])
        let t = try Transaction.build(g, anchor: "db.service", kind: .stop) { $0 == "db.service" ? .active : .inactive }
        #expect(t.jobs.map(\.unit) == ["db.service"])
    }

    @Test func conflictsStopsTheOtherSideFirst() throws {
        let g = DependencyGraph(units: [u("blue.service", conflicts: ["green.service"]), u("green.service")])
        let t = try Transaction.build(g, anchor: "green.service", kind: .start) { $0 == "blue.service" ? .active : .inactive }
        #expect(t.job("blue.service")?.kind == .stop)
        #expect(t.job("green.service")?.kind == .start)
        #expect(edgeSet(t) == ["blue.service>green.service"])
    }

    @Test func requiringAConflictingUnitIsRefused() {
        let g = DependencyGraph(units: [
            u("a.service", requires: ["b.service", "c.service"]), u("b.service", conflicts: ["c.service"]),
            u("c.service"),
        ])
        #expect(throws: TransactionError.self) {
            try Transaction.build(g, anchor: "a.service", kind: .start, state: inactive)
        }
    }

    @Test func requisiteBecomesAVerifyJob() throws {
        let g = DependencyGraph(units: [u("a.service", requisite: ["b.service"], after: ["b.service"]), u("b.service")])
        let t = try Transaction.build(g, anchor: "a.service", kind: .start, state: inactive)
        #expect(t.job("b.service")?.kind == .verifyActive)
        #expect(edgeSet(t) == ["b.service>a.service"])
    }

    @Test func defaultDependenciesOrderTargetsAfterWhatTheyWant() throws {
        var app = UnitDependencies(name: "app.service")
        app.after = []
        var multi = UnitDependencies(name: "multi-user.target")
        multi.wants = ["app.service"]
        let g = DependencyGraph(units: [
            app, multi, UnitDependencies(name: "sysinit.target"), UnitDependencies(name: "basic.target"),
            UnitDependencies(name: "shutdown.target"),
        ])
        #expect(g.node("multi-user.target").after.contains("app.service"))
        #expect(g.node("app.service").requires == ["sysinit.target"])
        #expect(g.node("app.service").after.contains("basic.target"))
        let t = try Transaction.build(g, anchor: "multi-user.target", kind: .start, state: inactive)
        #expect(Set(t.jobs.map(\.unit)) == ["multi-user.target", "app.service", "sysinit.target"])
        #expect(edgeSet(t).contains("app.service>multi-user.target"))
        #expect(edgeSet(t).contains("sysinit.target>app.service"))
    }

    @Test func queuedJobsTakePartInCycleDetection() {
        // b's start is already queued and waits for a; starting a after b closes a cycle.
        let g = DependencyGraph(units: [u("a.service", after: ["b.service"]), u("b.service", after: ["a.service"])])
        #expect(throws: TransactionError.orderingCycle(["a.service", "b.service", "a.service"])) {
            try Transaction.build(g, anchor: "a.service", kind: .start, state: inactive, existing: ["b.service": .start])
        }
    }

    @Test func conditionsSkipAndAssertsFail() {
        let env = ["MODE": "prod", "SET": "1"]
        #expect(Conditions.evaluate([("ConditionPathExists", "/")], environment: env).conditionsMet)
        #expect(!Conditions.evaluate([("ConditionPathExists", "/nonexistent-tend")], environment: env).conditionsMet)
        #expect(Conditions.evaluate([("ConditionPathExists", "!/nonexistent-tend")], environment: env).conditionsMet)
        #expect(Conditions.evaluate([("ConditionPathIsDirectory", "/tmp")], environment: env).conditionsMet)
        #expect(!Conditions.evaluate([("ConditionFileNotEmpty", "/dev/null")], environment: env).conditionsMet)
        #expect(Conditions.evaluate([("ConditionEnvironment", "MODE=prod")], environment: env).conditionsMet)
        #expect(!Conditions.evaluate([("ConditionEnvironment", "MODE=dev")], environment: env).conditionsMet)
        #expect(Conditions.evaluate([("ConditionEnvironment", "SET")], environment: env).conditionsMet)
        #expect(Conditions.evaluate([("ConditionUser", "0")], environment: env, uid: 0).conditionsMet)
        #expect(!Conditions.evaluate([("ConditionUser", "0")], environment: env, uid: 1000).conditionsMet)
        // Triggering checks: one of them suffices.
        let trig = [("ConditionPathExists", "|/nonexistent-tend"), ("ConditionPathExists", "|/")]
        #expect(Conditions.evaluate(trig.map { (directive: $0.0, value: $0.1) }, environment: env).conditionsMet)
        let a = Conditions.evaluate([("AssertPathExists", "/nonexistent-tend")], environment: env)
        #expect(a.conditionsMet && !a.assertsMet)
        #expect(a.failed == "AssertPathExists=/nonexistent-tend")
    }
}
