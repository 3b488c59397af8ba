import Glibc
import Testing
import TendControl
import TendModel
import TendSystem
import TendEngine

/// Dependencies, ordering, targets and enable/disable with a real daemon and real processes. Readiness is gated
/// by files the test creates, so the order of events is forced, never guessed from timing.
@Suite(.serialized)
struct DependencyTests {
    func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    @Test func diamondStartsDbOnceThenApiAndWorkerInParallelThenApp() {
        let h = DaemonHarness()
        let d = h.root
        // db becomes ready only when the test creates GATE (Type=notify), and records each start.
        h.writeUnit("db.service", """
            [Service]
            Type=notify
            NotifyAccess=all
            ExecStart=/bin/sh -c 'echo start >> \(d)/db.count; while [ ! -e \(d)/GATE ]; do sleep 0.01; done; touch \(d)/db.ready; \(tendBinary) notify --ready; exec sleep 100'
            """)
        // api and worker each finish only once the other has started: they must run at the same time.
        for (me, other) in [("api", "worker"), ("worker", "api")] {
            h.writeUnit("\(me).service", """
                [Unit]
                Requires=db.service
                After=db.service
                [Service]
                Type=oneshot
                RemainAfterExit=yes
                TimeoutStartSec=10
                ExecStart=/bin/sh -c '[ -e \(d)/db.ready ] && touch \(d)/\(me).sawdb; touch \(d)/\(me).started; while [ ! -e \(d)/\(other).started ]; do sleep 0.01; done; touch \(d)/\(me).done'
                """)
        }
        h.writeUnit("app.service", """
            [Unit]
            Requires=api.service worker.service
            After=api.service worker.service
            [Service]
            ExecStart=/bin/sh -c '[ -e \(d)/api.done ] && [ -e \(d)/worker.done ] && touch \(d)/app.ok; exec sleep 100'
            """)
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "app", "--no-block").status == 0)
        #expect(waitUntil(10) { self.exists(d + "/db.count") })
        // db is activating; nothing ordered after it has run.
        #expect(h.active("db") == "activating")
        #expect(h.status("api")?["job"]?.string == "start waiting")
        #expect(h.status("app")?["job"]?.string == "start waiting")
        #expect(!exists(d + "/api.started") && !exists(d + "/worker.started"))
        h.writeFile(d + "/GATE", "")
        #expect(h.waitFor("app", sub: "running"))
        #expect(waitUntil(5) { self.exists(d + "/app.ok") })
        #expect(exists(d + "/api.sawdb") && exists(d + "/worker.sawdb"))
        #expect(h.sub("api") == "exited" && h.sub("worker") == "exited")
        #expect(h.readFile(d + "/db.count") == "start\n")
        // The critical chain of app goes through the slower of api/worker to db.
        let chain = h.tend("analyze", "critical-chain", "app").stdout
        #expect(chain.contains("app.service @"))
        #expect(chain.contains("db.service @"))
        #expect(h.stop() == 0)
    }

    @Test func failedRequirementFailsDependantsWithResultDependency() {
        let h = DaemonHarness()
        let d = h.root
        h.writeUnit("db.service", "[Service]\nType=oneshot\nExecStart=/bin/false\n")
        for name in ["api", "worker"] {
            h.writeUnit("\(name).service", """
                [Unit]
                Requires=db.service
                After=db.service
                [Service]
                ExecStart=/bin/sh -c 'touch \(d)/\(name).ran; exec sleep 100'
                """)
        }
        h.writeUnit("app.service", """
            [Unit]
            Requires=api.service worker.service
            After=api.service worker.service
            [Service]
            ExecStart=/bin/sh -c 'touch \(d)/app.ran; exec sleep 100'
            """)
        h.start(extraArgs: ["--no-start"])
        let r = h.tend("start", "app")
        #expect(r.status == 1)
        #expect(r.stderr.contains("A dependency job for app.service failed"))
        #expect(h.active("db") == "failed")
        for name in ["api", "worker", "app"] {
            #expect(h.status(name)?["jobResult"]?.string == "dependency")
            #expect(h.active(name) == "inactive")
            #expect(!exists("\(d)/\(name).ran"))
        }
        #expect(h.daemonLog.contains("Dependency failed for app.service"))
    }

    @Test func wantsOnAFailingUnitDoesNotFailTheWanter() {
        let h = DaemonHarness()
        h.writeUnit("bad.service", "[Service]\nType=oneshot\nExecStart=/bin/false\n")
        h.writeUnit("web.service", "[Unit]\nWants=bad.service\nAfter=bad.service\n[Service]\nExecStart=/bin/sleep 100\n")
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "web").status == 0)
        #expect(h.sub("web") == "running")
        #expect(h.active("bad") == "failed")
    }

    @Test func bindsToStopsTheBoundUnitWhenItsTargetGoesDown() {
        let h = DaemonHarness()
        h.writeUnit("main.service", "[Service]\nExecStart=/bin/sleep 100\n")
        h.writeUnit("side.service", "[Unit]\nBindsTo=main.service\nAfter=main.service\n[Service]\nExecStart=/bin/sleep 100\n")
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "side").status == 0)
        #expect(h.sub("main") == "running" && h.sub("side") == "running")
        // Not a stop job: main dies on its own.
        #expect(h.tend("kill", "main", "--signal", "KILL").status == 0)
        #expect(h.waitFor("main", sub: "failed"))
        #expect(h.waitFor("side", sub: "dead"))
        #expect(h.daemonLog.contains("side.service: Stopping, because it is bound to main.service"))
    }

    @Test func stopPropagatesToRequiringUnitsFirst() {
        let h = DaemonHarness()
        let d = h.root
        h.writeUnit("db.service", "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\nExecStop=/bin/sh -c 'echo db >> \(d)/stops'\n")
        h.writeUnit("app.service", """
            [Unit]
            Requires=db.service
            After=db.service
            [Service]
            Type=oneshot
            RemainAfterExit=yes
            ExecStart=/bin/true
            ExecStop=/bin/sh -c 'echo app >> \(d)/stops'
            """)
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "app").status == 0)
        #expect(h.tend("stop", "db").status == 0)
        #expect(h.readFile(d + "/stops") == "app\ndb\n")
        #expect(h.active("app") == "inactive")
    }

    @Test func conflictsSwapsTheTwoUnits() {
        let h = DaemonHarness()
        h.writeUnit("blue.service", "[Unit]\nConflicts=green.service\n[Service]\nExecStart=/bin/sleep 100\n")
        h.writeUnit("green.service", "[Service]\nExecStart=/bin/sleep 100\n")
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "blue").status == 0)
        #expect(h.sub("blue") == "running")
        #expect(h.tend("start", "green").status == 0)
        #expect(h.sub("green") == "running")
        #expect(h.sub("blue") == "dead")
        #expect(h.tend("start", "blue").status == 0)
        #expect(h.sub("blue") == "running")
        #expect(h.sub("green") == "dead")
    }

    @Test func threeUnitCycleIsReportedWithItsPath() {
        let h = DaemonHarness()
        h.writeUnit("a.service", "[Unit]\nRequires=b.service\nAfter=b.service\n[Service]\nExecStart=/bin/sleep 100\n")
        h.writeUnit("b.service", "[Unit]\nRequires=c.service\nAfter=c.service\n[Service]\nExecStart=/bin/sleep 100\n")
        h.writeUnit("c.service", "[Unit]\nRequires=a.service\nAfter=a.service\n[Service]\nExecStart=/bin/sleep 100\n")
        h.start(extraArgs: ["--no-start"])
        let r = h.tend(["start", "a"], timeout: 10)
        #expect(r.status == 1)
        #expect(r.stderr.contains("a.service → b.service → c.service → a.service"))
        #expect(h.active("a") == "inactive" && h.active("b") == "inactive" && h.active("c") == "inactive")
        // Nothing is left queued: the manager answers a new job at once.
        #expect(h.tend("start", "--no-block", "a").status == 1)
    }

    @Test func shutdownStopsInTheExactReverseOfTheStartOrder() {
        let h = DaemonHarness()
        let d = h.root
        let names = ["u1", "u2", "u3", "u4", "u5"]
        for (i, n) in names.enumerated() {
            let dep = i == 0 ? "" : "Requires=\(names[i - 1]).service\nAfter=\(names[i - 1]).service\n"
            h.writeUnit("\(n).service", """
                [Unit]
                \(dep)
                [Service]
                Type=oneshot
                RemainAfterExit=yes
                ExecStart=/bin/sh -c 'echo start \(n) >> \(d)/order'
                ExecStop=/bin/sh -c 'echo stop \(n) >> \(d)/order'
                """)
        }
        h.start()  // no targets and no links: every service starts, in dependency order
        #expect(waitUntil(10) { h.readFile(d + "/order").split(separator: "\n").count == 5 })
        #expect(h.stop() == 0)
        let lines = h.readFile(d + "/order").split(separator: "\n").map(String.init)
        #expect(lines == names.map { "start \($0)" } + names.reversed().map { "stop \($0)" })
    }

    @Test func defaultTargetStartsOnlyWhatIsEnabled() {
        let h = DaemonHarness()
        h.writeUnit("on.service", "[Service]\nExecStart=/bin/sleep 100\n[Install]\nWantedBy=multi-user.target\n")
        h.writeUnit("off.service", "[Service]\nExecStart=/bin/sleep 100\n[Install]\nWantedBy=multi-user.target\n")
        let e = runCommand([tendBinary, "enable", "--units", h.units, "on"])
        #expect(e.status == 0)
        #expect(e.stdout.contains("Created symlink \(h.units)/multi-user.target.wants/on.service → \(h.units)/on.service."))
        h.start()
        #expect(h.waitFor("on", sub: "running"))
        #expect(h.waitFor("multi-user.target", sub: "active"))
        #expect(h.active("default.target") == "active")
        #expect(h.sub("off") == "dead")
        let s = h.tend("status", "default.target")
        #expect(s.stdout.contains("Active: active"))
        let tree = h.tend("list-dependencies").stdout
        #expect(tree.contains("● └─multi-user.target"))
        #expect(tree.contains("●   ├─on.service"))
        // Enabling through the daemon takes effect without daemon-reload.
        let e2 = h.tend("enable", "off")
        #expect(e2.status == 0)
        #expect(h.status("off")?["enabled"]?.string == "enabled")
        #expect(h.tend("start", "multi-user.target").status == 0)
        #expect(h.sub("off") == "running")
        #expect(h.tend("analyze", "blame").stdout.contains("on.service"))
        let svg = h.tend("analyze", "plot").stdout
        #expect(svg.hasPrefix("<svg") && svg.contains("on.service") && svg.hasSuffix("</svg>\n"))
        #expect(h.tend("analyze", "dot").stdout.contains("\"default.target\"->\"multi-user.target\" [color=\"grey66\"]"))
    }

    @Test func targetOptionChoosesWhatStarts() {
        let h = DaemonHarness()
        h.writeUnit("app.target", "[Unit]\nDescription=App\nWants=one.service\n")
        h.writeUnit("one.service", "[Service]\nExecStart=/bin/sleep 100\n")
        h.writeUnit("two.service", "[Service]\nExecStart=/bin/sleep 100\n")
        h.start(extraArgs: ["--target", "app.target"])
        #expect(h.waitFor("one", sub: "running"))
        #expect(h.waitFor("app.target", sub: "active"))
        #expect(h.sub("two") == "dead")
        #expect(h.tend("stop", "app.target").status == 0)
        #expect(h.sub("app.target") == "dead")
        #expect(h.sub("one") == "running")  // Wants= does not propagate stops
    }

    @Test func conditionSkipsWithoutFailingAndAssertFails() {
        let h = DaemonHarness()
        h.writeUnit("cond.service", "[Unit]\nConditionPathExists=/nonexistent/tend\n[Service]\nExecStart=/bin/sleep 100\n")
        h.writeUnit("dep.service", "[Unit]\nRequires=cond.service\nAfter=cond.service\n[Service]\nExecStart=/bin/sleep 100\n")
        h.writeUnit("assert.service", "[Unit]\nAssertPathExists=/nonexistent/tend\n[Service]\nExecStart=/bin/sleep 100\n")
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "dep").status == 0)
        #expect(h.sub("dep") == "running")
        #expect(h.sub("cond") == "dead")
        #expect(h.status("cond")?["skippedBy"]?.string == "ConditionPathExists=/nonexistent/tend")
        let r = h.tend("start", "assert")
        #expect(r.status == 1)
        #expect(r.stderr.contains("Assertion failed"))
    }
}

/// `tend enable`/`disable`/`is-enabled` on a directory, without a daemon.
@Suite(.serialized)
struct InstallTests {
    @Test func enableDisableRoundTripOnTheFileTree() {
        let h = DaemonHarness()
        let u = h.units
        h.writeUnit("web.service", """
            [Service]
            ExecStart=/bin/sleep 100
            [Install]
            WantedBy=multi-user.target
            RequiredBy=app.target
            Alias=www.service
            Also=helper.service
            """)
        h.writeUnit("helper.service", "[Service]\nExecStart=/bin/sleep 100\n[Install]\nWantedBy=multi-user.target\n")
        h.writeUnit("getty@.service", "[Service]\nExecStart=/bin/sleep 100\n[Install]\nWantedBy=multi-user.target\n")
        h.writeUnit("tty@.service", "[Service]\nExecStart=/bin/sleep 100\n[Install]\nWantedBy=multi-user.target\nDefaultInstance=tty1\n")
        h.writeUnit("plain.service", "[Service]\nExecStart=/bin/sleep 100\n")
        func tend(_ args: String...) -> CommandResult {
            runCommand([tendBinary] + args + ["--units", u], environment: ["TEND_STATE_DIR": h.root + "/nostate"])
        }
        func link(_ p: String) -> String? {
            var buf = [CChar](repeating: 0, count: 4096)
            let n = readlink(u + "/" + p, &buf, 4095)
            return n < 0 ? nil : String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        #expect(tend("is-enabled", "web").stdout == "disabled\n")
        #expect(tend("is-enabled", "web").status == 1)
        let e = tend("enable", "web")
        #expect(e.status == 0)
        #expect(link("multi-user.target.wants/web.service") == "../web.service")
        #expect(link("app.target.requires/web.service") == "../web.service")
        #expect(link("www.service") == "web.service")
        #expect(link("multi-user.target.wants/helper.service") == "../helper.service")
        #expect(e.stdout.split(separator: "\n").count == 4)
        #expect(tend("enable", "web").stdout == "")  // idempotent
        #expect(tend("is-enabled", "web").stdout == "enabled\n")
        #expect(tend("is-enabled", "web").status == 0)
        #expect(tend("is-enabled", "plain").stdout == "static\n")
        #expect(tend("is-enabled", "www").stdout == "alias\n")
        let d = tend("disable", "web")
        #expect(d.status == 0)
        #expect(d.stdout.contains("Removed \"\(u)/multi-user.target.wants/web.service\"."))
        #expect(link("multi-user.target.wants/web.service") == nil)
        #expect(link("app.target.requires/web.service") == nil)
        #expect(link("www.service") == nil)
        #expect(link("multi-user.target.wants/helper.service") == nil)
        #expect(tend("disable", "web").stdout == "")
        #expect(tend("is-enabled", "web").stdout == "disabled\n")
        // Templates: an instance, the default instance, or a clear refusal.
        let t = tend("enable", "getty@")
        #expect(t.status == 1)
        #expect(t.stderr.contains("getty@.service is a template and has no DefaultInstance="))
        #expect(tend("enable", "getty@tty2").status == 0)
        #expect(link("multi-user.target.wants/getty@tty2.service") == "../getty@.service")
        #expect(tend("enable", "tty@").status == 0)
        #expect(link("multi-user.target.wants/tty@tty1.service") == "../tty@.service")
        #expect(tend("disable", "getty@").status == 0)
        #expect(link("multi-user.target.wants/getty@tty2.service") == nil)
        #expect(tend("enable", "nope").status == 1)
    }
}
