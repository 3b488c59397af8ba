import Glibc
import Testing
import TendModel
import TendSystem
import TendEngine

@Suite(.serialized)
struct RestartPropagationTests {
    /// systemd's restart: a restart job on db try-restarts the running units that Requires=, BindsTo= or are
    /// PartOf= db, each after db (ordering: After=db), and leaves the ones that aren't running alone.
    @Test func restartingARequirementRestartsTheRunningUnitsThatNeedIt() {
        let h = DaemonHarness()
        h.writeUnit("db.service", "[Service]\nExecStart=/bin/sleep 1000\n")
        h.writeUnit("app.service", "[Unit]\nRequires=db.service\nAfter=db.service\n[Service]\nExecStart=/bin/sleep 1000\n")
        h.writeUnit("worker.service", "[Unit]\nBindsTo=db.service\nAfter=db.service\n[Service]\nExecStart=/bin/sleep 1000\n")
        h.writeUnit("report.service", "[Unit]\nRequires=db.service\n[Service]\nExecStart=/bin/sleep 1000\n")
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "app", "worker").status == 0)
        let (db, app, worker) = (h.mainPID("db"), h.mainPID("app"), h.mainPID("worker"))
        #expect(db > 0 && app > 0 && worker > 0)
        #expect(h.tend("restart", "db").status == 0)
        #expect(waitUntil { let p = h.mainPID("app"); return p != 0 && p != app })
        #expect(waitUntil { let p = h.mainPID("worker"); return p != 0 && p != worker })
        #expect(h.mainPID("db") != db)
        #expect(!processExists(app) && !processExists(worker) && !processExists(db))
        // Each dependant came up again after db did.
        let dbSince = h.status("db")?["since"]?.int ?? 0
        #expect(dbSince > 0)
        #expect((h.status("app")?["since"]?.int ?? 0) >= dbSince)
        #expect((h.status("worker")?["since"]?.int ?? 0) >= dbSince)
        #expect(h.active("worker") == "active", "BindsTo= restarts with db instead of stopping")
        #expect(h.sub("report") == "dead", "a dependant that wasn't running stays stopped")
    }

    /// Like systemd's, a restart is a start for what the unit needs: restarting app starts the db it requires.
    @Test func restartingAStoppedUnitStartsItsRequirements() {
        let h = DaemonHarness()
        h.writeUnit("db.service", "[Service]\nExecStart=/bin/sleep 1000\n")
        h.writeUnit("app.service", "[Unit]\nRequires=db.service\nAfter=db.service\n[Service]\nExecStart=/bin/sleep 1000\n")
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("restart", "app").status == 0)
        #expect(h.sub("db") == "running")
        #expect(h.sub("app") == "running")
        // try-restart leaves a unit that isn't running alone, and says so with success.
        #expect(h.tend("stop", "db").status == 0)
        #expect(h.sub("app") == "dead")
        #expect(h.tend("try-restart", "app").status == 0)
        #expect(h.sub("app") == "dead" && h.sub("db") == "dead")
    }

    /// A reload goes through the job queue too, and a failing ExecReload= fails the job, not the service.
    @Test func reloadIsAJob() {
        let h = DaemonHarness()
        let marks = h.root + "/reloads"
        h.writeUnit("web.service", "[Service]\nExecStart=/bin/sleep 1000\nExecReload=/bin/sh -c 'echo r >> \(marks)'\n")
        h.writeUnit("bad.service", "[Service]\nExecStart=/bin/sleep 1000\nExecReload=/bin/false\n")
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "web", "bad").status == 0)
        let pid = h.mainPID("web")
        #expect(h.tend("reload", "web").status == 0)
        #expect(h.readFile(marks) == "r\n")
        #expect(h.mainPID("web") == pid)
        let r = h.tend("reload", "bad")
        #expect(r.status == 1)
        #expect(r.stderr.contains("bad.service"))
        #expect(h.sub("bad") == "running")
        // Reloading a unit that isn't running fails with systemctl's words and exit status 1.
        #expect(h.tend("stop", "web").status == 0)
        let idle = h.tend("reload", "web")
        #expect(idle.status == 1)
        #expect(idle.stderr.contains("Unit web.service is not active."))
    }

    @Test func restartingAUnitRestartsTheRunningUnitsThatArePartOfIt() {
        let h = DaemonHarness()
        h.writeUnit("db.service", "[Service]\nExecStart=/bin/sleep 1000\n")
        h.writeUnit("cache.service", "[Unit]\nPartOf=db.service\n[Service]\nExecStart=/bin/sleep 1000\n")
        h.writeUnit("idle.service", "[Unit]\nPartOf=db.service\n[Service]\nExecStart=/bin/sleep 1000\n")
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "db", "cache").status == 0)
        let db = h.mainPID("db")
        let cache = h.mainPID("cache")
        #expect(h.tend("restart", "db").status == 0)
        #expect(h.mainPID("db") != db)
        #expect(waitUntil { let p = h.mainPID("cache"); return p != 0 && p != cache })
        #expect(h.sub("idle") == "dead", "a stopped part stays stopped")
        #expect(h.tend("stop", "db").status == 0)
        #expect(waitUntil { h.sub("cache") == "dead" })
    }
}
