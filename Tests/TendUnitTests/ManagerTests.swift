import Glibc
import Testing
import TendEngine
import TendModel
import TendSystem
import TendTestSupport

/// The manager and its job engine on a fake system with a manual clock: no process is spawned, no time
/// passes but what the test advances, and every assertion is on what the manager did to the "system".
@Suite struct ManagerTests {
    @Test func startCrashRestartStop() throws {
        let f = try FakeManager(units: [
            "web.service": "[Service]\nExecStart=/usr/bin/web --port 8080\nRestart=on-failure\nRestartSec=2s\n",
        ])
        let start = f.job(.start, "web")
        #expect(start.finished && start.ok)
        let first = try #require(f.system.running("/usr/bin/web").first)
        #expect(first.request.command.words == ["/usr/bin/web", "--port", "8080"])
        #expect(f.sub("web") == "running")
        #expect(f.unit("web")?.machine?.mainPID == first.pid)

        // A crash: exit status 1. Restart=on-failure waits RestartSec=, then starts it again.
        f.system.exit(first.pid, .exited(1))
        #expect(f.sub("web") == "auto-restart")
        #expect(f.unit("web")?.machine?.result == .exitCode)
        #expect(f.reactor.nextDeadline == f.clock.now + .seconds(2))
        f.reactor.advance(by: .milliseconds(1999))
        #expect(f.system.spawned.count == 1, "not before RestartSec=")
        f.reactor.advance(by: .milliseconds(1))
        let second = try #require(f.system.running("/usr/bin/web").first)
        #expect(second.pid != first.pid)
        #expect(f.sub("web") == "running")
        #expect(f.unit("web")?.machine?.restartCount == 1)

        // Stop: SIGTERM (then SIGCONT) to the main process; it dies of it; the unit is dead, not failed.
        let stop = f.job(.stop, "web")
        #expect(f.system.signals(of: second.pid).prefix(2) == [SIGTERM, SIGCONT])
        #expect(stop.finished && stop.ok)
        #expect(f.sub("web") == "dead")
        #expect(f.system.running("/usr/bin/web").isEmpty)
        #expect(f.reactor.armedDeadlines == 0, "an idle manager arms no timer")
        // As systemd's service.c: after the main process is gone, the rest of the unit is killed (stop-sigterm,
        // final-sigterm: nothing is left here, so each lasts no time) before the restart wait.
        #expect(f.states("web") == [
            "activating/start", "active/running", "deactivating/stop-sigterm", "deactivating/final-sigterm",
            "activating/auto-restart", "activating/start", "active/running", "deactivating/stop-sigterm",
            "deactivating/final-sigterm", "inactive/dead",
        ])
        #expect(f.events.contains(.jobFinished(unit: "web.service", job: "start", result: .done)))
        #expect(f.events.contains(.jobFinished(unit: "web.service", job: "stop", result: .done)))
    }

    @Test func aStopTimeoutEscalatesToSIGKILL() throws {
        let f = try FakeManager(units: [
            "stubborn.service": "[Service]\nExecStart=/usr/bin/stubborn\nTimeoutStopSec=5\n",
        ])
        f.system.ignoredSignals["/usr/bin/stubborn"] = [SIGTERM]
        #expect(f.job(.start, "stubborn").ok)
        let pid = try #require(f.system.running("/usr/bin/stubborn").first?.pid)
        let stop = f.job(.stop, "stubborn")
        #expect(!stop.finished)
        #expect(f.sub("stubborn") == "stop-sigterm")
        f.reactor.advance(by: .milliseconds(4999))
        #expect(!f.system.signals(of: pid).contains(SIGKILL))
        f.reactor.advance(by: .milliseconds(1))
        #expect(f.system.signals(of: pid).last == SIGKILL)
        #expect(stop.finished && stop.ok)
        #expect(f.sub("stubborn") == "failed")
        #expect(f.unit("stubborn")?.machine?.result == .timeout)
    }

    @Test func jobsWaitForWhatTheyAreOrderedAfterAndFailWithTheirRequirement() throws {
        let f = try FakeManager(units: [
            "db.service": "[Service]\nType=notify\nExecStart=/usr/bin/db\n",
            "app.service": "[Unit]\nRequires=db.service\nAfter=db.service\n[Service]\nExecStart=/usr/bin/app\n",
        ])
        let app = f.job(.start, "app")
        // db is starting (waiting for READY=1); app's job waits for it: nothing of app runs yet.
        #expect(f.sub("db") == "start")
        #expect(f.system.running("/usr/bin/app").isEmpty)
        let db = try #require(f.system.running("/usr/bin/db").first)
        let socket = try #require(f.unit("db")?.notifyPath)
        f.system.notify(socket, "READY=1\nSTATUS=Accepting connections", from: db.pid)
        #expect(f.sub("db") == "running")
        #expect(f.unit("db")?.statusText == "Accepting connections")
        #expect(f.system.running("/usr/bin/app").count == 1)
        #expect(app.finished && app.ok)

        // A notify message from a process that is not the main one is refused (NotifyAccess=main) and counted.
        f.system.notify(socket, "STATUS=hijacked", from: 999_999)
        #expect(f.unit("db")?.statusText == "Accepting connections")
        #expect(f.unit("db")?.notifyRejected == 1)

        // Both down; now db can't be spawned: app's start fails with result "dependency", app never runs.
        #expect(f.job(.stop, "db").ok)
        #expect(f.sub("app") == "dead", "Requires=: stopping db stops app first")
        f.system.failingPrograms["/usr/bin/db"] = ENOENT
        let again = f.job(.start, "app")
        #expect(again.finished && !again.ok)
        #expect(again.message?.contains("dependency") == true)
        #expect(again.failure?.reason == .job(.dependency))
        #expect(f.events.contains(.jobFinished(unit: "app.service", job: "start", result: .dependency)))
        #expect(f.system.spawned.filter { $0.program == "/usr/bin/app" }.count == 1)
    }

    @Test func restartTryRestartsTheUnitsThatNeedIt() throws {
        let f = try FakeManager(units: [
            "db.service": "[Service]\nExecStart=/usr/bin/db\n",
            "app.service": "[Unit]\nRequires=db.service\nAfter=db.service\n[Service]\nExecStart=/usr/bin/app\n",
            "cache.service": "[Unit]\nPartOf=db.service\nAfter=db.service\n[Service]\nExecStart=/usr/bin/cache\n",
            "idle.service": "[Unit]\nRequires=db.service\n[Service]\nExecStart=/usr/bin/idle\n",
        ])
        #expect(f.job(.start, "app").ok)
        #expect(f.job(.start, "cache").ok)
        let before = f.system.spawned.map(\.pid)
        let restart = f.job(.restart, "db")
        #expect(restart.finished && restart.ok)
        let restarted = f.system.spawned.map(\.program).dropFirst(before.count)
        // db first (it stops and starts), then the units ordered after it; idle was not running and stays so.
        #expect(restarted.first == "/usr/bin/db")
        #expect(Set(restarted) == ["/usr/bin/db", "/usr/bin/app", "/usr/bin/cache"])
        #expect(f.sub("app") == "running" && f.sub("cache") == "running" && f.sub("idle") == "dead")
        for pid in before { #expect(f.system.processes[pid] == nil, "every old process is gone") }
    }

    /// systemd's job_install: a restart requested while the start job runs is merged into it and run again;
    /// both clients hear of the one job's end, and the cancelled start inside the machine fails neither.
    @Test func aRestartWhileStartingMergesWithTheRunningStart() throws {
        let f = try FakeManager(units: ["db.service": "[Service]\nType=notify\nExecStart=/usr/bin/db\n"])
        let start = f.job(.start, "db")
        #expect(!start.finished && f.sub("db") == "start")
        let first = try #require(f.system.running("/usr/bin/db").first)
        let restart = f.job(.restart, "db")
        #expect(f.system.signals(of: first.pid).first == SIGTERM)
        let second = try #require(f.system.running("/usr/bin/db").first)
        #expect(second.pid != first.pid)
        #expect(!start.finished && !restart.finished)
        f.system.notify(try #require(f.unit("db")?.notifyPath), "READY=1", from: second.pid)
        #expect(start.finished && start.ok)
        #expect(restart.finished && restart.ok)
        #expect(f.sub("db") == "running")
        #expect(f.events.filter { if case .jobFinished("db.service", _, _) = $0 { true } else { false } }
            == [.jobFinished(unit: "db.service", job: "restart", result: .done)])
    }

    @Test func shutdownStopsEverythingInReverseOrder() throws {
        let f = try FakeManager(units: [
            "db.service": "[Service]\nExecStart=/usr/bin/db\n",
            "app.service": "[Unit]\nRequires=db.service\nAfter=db.service\n[Service]\nExecStart=/usr/bin/app\n",
        ])
        var done = false
        f.manager.onShutdownComplete = { done = true }
        #expect(f.job(.start, "app").ok)
        let db = try #require(f.system.running("/usr/bin/db").first?.pid)
        let app = try #require(f.system.running("/usr/bin/app").first?.pid)
        f.system.signalManager(SIGTERM)
        #expect(done)
        // app got its SIGTERM before db did.
        let order = f.system.signalLog.filter { $0.signal == SIGTERM }.map(\.pid)
        #expect(order == [app, db])
        let late = f.job(.start, "db")
        #expect(late.finished && late.failure?.reason == .shuttingDown)
    }

    @Test func refusalsSayWhy() throws {
        let f = try FakeManager(units: [
            "bad.service": "[Service]\nExecStart=/usr/bin/x\nRestart=sometimes\n",
            "getty@.service": "[Service]\nExecStart=/usr/bin/getty %i\n",
        ])
        #expect(f.job(.start, "nope").failure?.reason == .unitNotFound)
        let bad = f.job(.start, "bad")
        #expect(bad.failure?.reason == .badSetting)
        #expect(bad.message?.contains("bad.service:3") == true)
        #expect(f.job(.start, "getty@").failure?.reason == .badUnitName)
        #expect(f.job(.start, "getty@tty1").ok)
        #expect(f.system.running("/usr/bin/getty").first?.request.command.words == ["/usr/bin/getty", "tty1"])
        #expect(f.system.spawned.count == 1)
    }
}
