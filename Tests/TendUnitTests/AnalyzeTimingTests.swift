import Testing
import TendControl
import TendEngine
import TendFormat
import TendModel
import TendServer
import TendTestSupport

/// `tend analyze` measures a unit's start-up transaction (the job that started it, up to ready), not its latest
/// automatic restart: on the fake system, time moves only when the test advances it, so every time is exact.
@Suite struct AnalyzeTimingTests {
    static let units = [
        // 30 ms of ExecStartPre=, then a simple service that restarts 5 s after each exit.
        "flappy.service": """
            [Service]
            ExecStartPre=/usr/bin/prep
            ExecStart=/usr/bin/flappy
            Restart=always
            RestartSec=5s
            """,
        "late.service": "[Unit]\nWants=flappy.service\nAfter=flappy.service\n[Service]\nExecStart=/usr/bin/late\n",
    ]

    func analyze(_ f: FakeManager) -> [String: AnalyzeUnit] {
        var byName: [String: AnalyzeUnit] = [:]
        for u in DependencyRequests.dependencies(f.manager).units { byName[u.name] = u }
        return byName
    }

    func close(_ a: Double?, _ b: Double) -> Bool { a.map { abs($0 - b) < 1e-6 } ?? false }

    /// The control process of flappy's current start takes `ms`, then exits successfully.
    func runPrep(_ f: FakeManager, ms: UInt64) throws {
        let prep = try #require(f.system.running("/usr/bin/prep").first)
        f.reactor.advance(by: .milliseconds(ms))
        f.system.exit(prep.pid, .exited(0))
    }

    @Test func automaticRestartsMoveNeitherBlameNorTheChain() throws {
        let f = try FakeManager(units: Self.units)
        let start = f.job(.start, "late")
        try runPrep(f, ms: 30)
        #expect(f.sub("flappy") == "running")
        #expect(start.finished && start.ok)
        #expect(f.sub("late") == "running")
        // Two crashes, each restarted after RestartSec=5s, each start 40 ms of ExecStartPre=.
        for _ in 0..<2 {
            let main = try #require(f.system.running("/usr/bin/flappy").first)
            f.reactor.advance(by: .seconds(2))
            f.system.exit(main.pid, .exited(1))
            #expect(f.sub("flappy") == "auto-restart")
            f.reactor.advance(by: .seconds(5))
            try runPrep(f, ms: 40)
            #expect(f.sub("flappy") == "running")
        }
        #expect(f.unit("flappy")?.machine?.restartCount == 2)

        let u = analyze(f)
        let flappy = try #require(u["flappy.service"])
        #expect(close(flappy.activating, 0) && close(flappy.active, 0.030))
        #expect(close(flappy.startDuration, 0.030), "the start-up's 30 ms, not a restart's")
        #expect(flappy.restarts == 2 && flappy.retries == 0)
        // The second restart began when its RestartSec= ended: 30 ms + 2 × (2 s + 5 s) + 40 ms.
        #expect(close(flappy.lastRestart, 14.070))
        #expect(flappy.failed == nil)
        let late = try #require(u["late.service"])
        #expect(late.heldBy == "flappy.service")
        #expect(close(late.activating, 0.030))

        let all = Array(u.values)
        #expect(Analyze.blame(all).contains(" 30ms flappy.service\n"))
        let chain = Analyze.criticalChain(all, root: "late.service")
        #expect(chain.contains("late.service @30ms\n"))
        #expect(chain.contains("└─flappy.service @0ms +30ms\n"), "\(chain)")
        let svg = Analyze.plot(all)
        // The time axis is the start-up's (50 ms), not the 14 s of restarts; the restarts are a note.
        #expect(svg.contains(">50ms</text>") && !svg.contains(">1.000s</text>") && !svg.contains(">5.000s</text>"))
        #expect(svg.contains("restarted 2×, last @14.070s"))
        // late's "waited for" line runs from flappy's ready (30 ms) to late's start (30 ms): no gap. The plot's
        // left edge is at 190 px (a 170 px label column + 20) and 50 ms take 900 px, so 30 ms is at x = 730.
        #expect(svg.contains("<path class=\"held\" d=\"M730 "), "\(svg)")
        #expect(svg.contains(" H730\"/>"))
    }

    @Test func aRetriedStartUpShowsTheAttemptThatGotItActive() throws {
        let f = try FakeManager(units: [
            "db.service": "[Service]\nType=notify\nNotifyAccess=all\nExecStart=/usr/bin/db\nRestart=on-failure\nRestartSec=1s\n",
        ])
        let start = f.job(.start, "db")
        let first = try #require(f.system.running("/usr/bin/db").first)
        f.reactor.advance(by: .milliseconds(100))
        f.system.exit(first.pid, .exited(1))  // dies before READY=1: the start job fails, Restart= retries
        #expect(start.finished && !start.ok)
        #expect(f.sub("db") == "auto-restart")
        f.reactor.advance(by: .seconds(1))
        let second = try #require(f.system.running("/usr/bin/db").first)
        #expect(second.pid != first.pid)
        f.reactor.advance(by: .milliseconds(20))
        f.system.notify(try #require(f.unit("db")?.notifyPath), "READY=1", from: second.pid)
        #expect(f.sub("db") == "running")

        var db = try #require(analyze(f)["db.service"])
        #expect(close(db.activating, 0) && close(db.failed, 0.100))
        #expect(db.retries == 1 && close(db.attempt, 1.100) && close(db.active, 1.120))
        #expect(close(db.startDuration, 0.020), "the attempt that got it active")
        #expect(Analyze.blame([db]) == " 20ms db.service\n")
        #expect(Analyze.criticalChain([db], root: "db.service").hasSuffix("db.service @1.100s +20ms (after 1 failed attempt)\n"))
        let svg = Analyze.plot([db])
        #expect(svg.contains("fill=\"#f4a09c\"><title>db.service: 1 failed attempt 0ms → 1.100s</title>"))
        #expect(svg.contains("20ms  · after 1 failed attempt"))

        // A crash after it was ready is a restart, not a retry of the start-up.
        f.system.exit(second.pid, .exited(1))
        f.reactor.advance(by: .seconds(1))
        db = try #require(analyze(f)["db.service"])
        #expect(db.retries == 1 && db.restarts == 1 && close(db.active, 1.120) && close(db.lastRestart, 2.120))
    }

    @Test func aRestartJobBeginsANewStartUp() throws {
        let f = try FakeManager(units: Self.units)
        _ = f.job(.start, "flappy")
        try runPrep(f, ms: 30)
        let main = try #require(f.system.running("/usr/bin/flappy").first)
        f.system.exit(main.pid, .exited(1))
        f.reactor.advance(by: .seconds(5))
        try runPrep(f, ms: 40)
        #expect(analyze(f)["flappy.service"]?.restarts == 1)

        f.reactor.advance(by: .seconds(10))
        let restart = f.job(.restart, "flappy")
        #expect(f.sub("flappy") == "start-pre")
        try runPrep(f, ms: 25)
        #expect(restart.finished && restart.ok)
        let flappy = try #require(analyze(f)["flappy.service"])
        // 30 ms + 5 s + 40 ms + 10 s: the restart job's start half, then 25 ms of ExecStartPre=.
        #expect(close(flappy.activating, 15.070) && close(flappy.startDuration, 0.025))
        #expect(flappy.restarts == 0 && flappy.lastRestart == nil && flappy.jobResult == "done")
    }
}
