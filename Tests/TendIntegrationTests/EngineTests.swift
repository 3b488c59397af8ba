import CTend
import Glibc
import Testing
import TendControl
import TendModel
import TendSystem
import TendEngine

/// End-to-end: a real `tend daemon`, real /bin/sh children, real signals. Serialized: these tests spawn and
/// wait, and Swift Testing's small thread pool would starve blocking tests run side by side.
@Suite(.serialized)
struct EngineTests {
    @Test func exitStatusIsReportedLikeSystemctl() {
        let h = DaemonHarness()
        h.writeUnit("fail42.service", """
            [Unit]
            Description=Exits with 42
            [Service]
            ExecStart=/bin/sh -c 'echo about to fail; exit 42'
            """)
        h.start()
        #expect(h.waitFor("fail42", sub: "failed"))
        let s = h.status("fail42")
        #expect(s?["result"]?.string == "exit-code")
        #expect(s?["execMainCode"]?.string == "exited")
        #expect(s?["execMainStatus"]?.int == 42)
        let text = h.tend("status", "fail42")
        #expect(text.status == 3)
        #expect(text.stdout.contains("Active: failed (Result: exit-code)"))
        #expect(text.stdout.contains("(code=exited, status=42)"))
        #expect(text.stdout.contains("about to fail"))
        #expect(h.stop() == 0)
    }

    @Test func missingBinaryFailsWith203Exec() {
        let h = DaemonHarness()
        h.writeUnit("nobin.service", "[Service]\nExecStart=/nonexistent/program --flag\n")
        h.start(extraArgs: ["--no-start"])
        let r = h.tend("start", "nobin")
        #expect(r.status != 0)
        #expect(r.stderr.contains("status=203/EXEC"))
        let s = h.status("nobin")
        #expect(s?["active"]?.string == "failed")
        #expect(s?["execMainStatus"]?.int == 203)
        #expect(s?["setupError"]?.string?.contains("No such file or directory") == true)
    }

    @Test func missingWorkingDirectoryFailsWith200Chdir() {
        let h = DaemonHarness()
        h.writeUnit("nodir.service", "[Service]\nWorkingDirectory=/nonexistent/dir\nExecStart=/bin/true\n")
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "nodir").status != 0)
        #expect(h.status("nodir")?["execMainStatus"]?.int == 200)
        #expect(h.tend("status", "nodir").stdout.contains("status=200/CHDIR"))
    }

    @Test func unknownUserFailsWith217User() {
        let h = DaemonHarness()
        h.writeUnit("nouser.service", "[Service]\nUser=no-such-user-tend\nExecStart=/bin/true\n")
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "nouser").status != 0)
        #expect(h.status("nouser")?["execMainStatus"]?.int == 217)
    }

    @Test func ignoringSIGTERMGetsSIGKILLAfterTimeoutStopSec() {
        let h = DaemonHarness()
        h.writeUnit("stubborn.service", """
            [Service]
            ExecStart=/bin/sh -c 'trap "" TERM; echo ready; while :; do sleep 0.05; done'
            TimeoutStopSec=1
            """)
        h.start()
        #expect(h.waitFor("stubborn", sub: "running"))
        let pid = h.mainPID("stubborn")
        #expect(pid > 0)
        let t0 = Posix.monotonicNow
        let r = h.tend("stop", "stubborn")
        let took = Posix.monotonicNow.usec(since: t0)
        #expect(r.status == 0)
        #expect(took >= 900_000, "stop must wait TimeoutStopSec= before SIGKILL")
        #expect(!processExists(pid))
        let s = h.status("stubborn")
        #expect(s?["execMainStatusText"]?.string == "code=killed, signal=KILL")
        #expect(s?["result"]?.string == "timeout")
        #expect(s?["active"]?.string == "failed")
    }

    @Test func stopKillsBackgroundedChildrenWithControlGroupMode() {
        let h = DaemonHarness()
        let pids = h.root + "/children"
        h.writeUnit("bg.service", """
            [Service]
            ExecStart=/bin/sh -c 'sleep 1000 & echo $! >> \(pids); sleep 1000 & echo $! >> \(pids); (setsid sleep 1000 & echo $! >> \(pids)); wait'
            KillMode=control-group
            """)
        h.start()
        #expect(h.waitFor("bg", sub: "running"))
        #expect(waitUntil { h.readFile(pids).split(separator: "\n").count == 3 })
        let children = h.readFile(pids).split(separator: "\n").compactMap { Int32($0) }
        #expect(children.count == 3)
        // The third one left the session with setsid: it is found as a descendant reparented to the manager
        // only if tracked; the first two are in the service's session.
        for c in children.prefix(2) { #expect(processExists(c)) }
        #expect(h.tend("stop", "bg").status == 0)
        for c in children.prefix(2) { #expect(waitUntil(5) { !processExists(c) }, "child \(c) survived stop") }
        for c in children.dropFirst(2) where processExists(c) { _ = kill(c, SIGKILL) }
    }

    @Test func killModeProcessLeavesChildrenRunning() {
        let h = DaemonHarness()
        let pids = h.root + "/children"
        h.writeUnit("proc.service", """
            [Service]
            ExecStart=/bin/sh -c 'sleep 1000 & echo $! > \(pids); wait'
            KillMode=process
            """)
        h.start()
        #expect(h.waitFor("proc", sub: "running"))
        #expect(waitUntil { Int32(h.readFile(pids).split(separator: "\n").first ?? "") != nil })
        let child = Int32(h.readFile(pids).split(separator: "\n").first ?? "0") ?? 0
        #expect(h.tend("stop", "proc").status == 0)
        #expect(processExists(child), "KillMode=process must not kill other processes")
        _ = kill(child, SIGKILL)
    }

    @Test func orphansOfAServiceAreReapedNoZombies() {
        let h = DaemonHarness()
        h.writeUnit("forker.service", """
            [Service]
            ExecStart=/bin/sh -c 'i=0; while [ $i -lt 500 ]; do (true &) ; i=$((i+1)); done; echo spawned; exec sleep 1000'
            """)
        h.start()
        #expect(h.waitFor("forker", sub: "running"))
        #expect(waitUntil(20) { h.tend("logs", "forker", "-n", "5").stdout.contains("spawned") })
        let daemon = h.managerPID
        let noZombies = waitUntil(10) {
            !ProcessTable.scan().contains { $0.ppid == daemon && $0.state == "Z" }
        }
        #expect(noZombies)
    }

    @Test func sigkillWithRestartPreventExitStatusStaysDown() {
        let h = DaemonHarness()
        h.writeUnit("prevent.service", """
            [Service]
            ExecStart=/bin/sleep 1000
            Restart=always
            RestartSec=0
            RestartPreventExitStatus=SIGKILL
            """)
        h.start()
        #expect(h.waitFor("prevent", sub: "running"))
        let pid = h.mainPID("prevent")
        _ = kill(pid, SIGKILL)
        #expect(h.waitFor("prevent", sub: "failed"))
        let s = h.status("prevent")
        #expect(s?["result"]?.string == "signal")
        #expect(s?["nRestarts"]?.int == 0)
    }

    @Test func restartAlwaysBringsAKilledServiceBack() {
        let h = DaemonHarness()
        h.writeUnit("phoenix.service", "[Service]\nExecStart=/bin/sleep 1000\nRestart=always\nRestartSec=0\n")
        h.start()
        #expect(h.waitFor("phoenix", sub: "running"))
        let first = h.mainPID("phoenix")
        _ = kill(first, SIGKILL)
        #expect(waitUntil { let p = h.mainPID("phoenix"); return p != 0 && p != first })
        #expect(h.status("phoenix")?["nRestarts"]?.int == 1)
        #expect(h.sub("phoenix") == "running")
    }

    @Test func crashLoopHitsTheStartLimit() {
        let h = DaemonHarness()
        h.writeUnit("loop.service", """
            [Service]
            ExecStart=/bin/sh -c 'exit 1'
            Restart=on-failure
            RestartSec=50ms
            """)
        h.start()
        #expect(h.waitFor("loop", sub: "failed"))
        let s = h.status("loop")
        #expect(s?["result"]?.string == "start-limit-hit")
        #expect(h.tend("status", "loop").stdout.contains("failed (Result: start-limit-hit)"))
        // A manual start is refused too, until reset-failed.
        #expect(h.tend("start", "loop").stderr.contains("start rate limit"))
        #expect(h.tend("reset-failed", "loop").status == 0)
        #expect(h.sub("loop") == "dead")
    }

    @Test func startPreFailureFailsTheStartAndRunsStopPost() {
        let h = DaemonHarness()
        let marker = h.root + "/stoppost"
        h.writeUnit("checked.service", """
            [Service]
            ExecStartPre=/bin/sh -c 'echo checking; exit 2'
            ExecStart=/bin/sleep 1000
            ExecStopPost=/bin/sh -c 'echo $SERVICE_RESULT > \(marker)'
            """)
        h.start(extraArgs: ["--no-start"])
        let r = h.tend("start", "checked")
        #expect(r.status == 1)
        #expect(r.stderr.contains("ExecStartPre="))
        #expect(h.sub("checked") == "failed")
        #expect(h.readFile(marker) == "exit-code\n")
        #expect(h.tend("logs", "checked").stdout.contains("checking"))
    }

    @Test func oneshotWithRemainAfterExitStaysActive() {
        let h = DaemonHarness()
        h.writeUnit("setup.service", """
            [Service]
            Type=oneshot
            RemainAfterExit=yes
            ExecStart=/bin/echo step one
            ExecStart=/bin/echo step two
            """)
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "setup").status == 0)
        #expect(h.active("setup") == "active")
        #expect(h.sub("setup") == "exited")
        let log = h.tend("logs", "setup", "-o", "cat").stdout
        let steps = log.split(separator: "\n").filter { $0.hasPrefix("step") }
        #expect(steps == ["step one", "step two"])
    }

    /// As systemd, a PID file written after the forking parent exited is waited for (until the start times out).
    @Test func aPIDFileWrittenLateIsWaitedFor() {
        let h = DaemonHarness()
        let pidFile = h.root + "/late.pid"
        h.writeUnit("late.service", """
            [Service]
            Type=forking
            PIDFile=\(pidFile)
            ExecStart=/bin/sh -c 'sh -c "sleep 0.3; echo \\$$$$ > \(pidFile).tmp; mv \(pidFile).tmp \(pidFile); exec sleep 1000" &'
            TimeoutStartSec=5
            """)
        h.writeUnit("never.service", """
            [Service]
            Type=forking
            PIDFile=\(h.root)/never.pid
            ExecStart=/bin/sh -c 'sleep 1000 &'
            TimeoutStartSec=1
            """)
        h.start(extraArgs: ["--no-start"])
        let r = h.tend("start", "late")
        #expect(r.status == 0, "\(r.stderr)")
        let pid = h.readFile(pidFile).trimmingCharacters(in: "\n")
        #expect(h.mainPID("late") == Int32(pid) ?? -1 && h.active("late") == "active")
        #expect(h.tend("logs", "late", "-o", "cat").stdout.contains("not readable (yet?) after start."))
        #expect(h.tend("stop", "late").status == 0)
        #expect(access(pidFile, F_OK) != 0, "the PID file is removed once the service is down, as systemd does")
        let n = h.tend("start", "never")
        #expect(n.status != 0 && h.active("never") == "failed", "the start timeout ends the wait")
        #expect(h.tend("logs", "never", "-o", "cat").stdout.contains("Start operation timed out."))
    }

    @Test func forkingDaemonIsTrackedThroughPIDFile() {
        let h = DaemonHarness()
        let pidFile = h.root + "/daemon.pid"
        h.writeUnit("forky.service", """
            [Service]
            Type=forking
            PIDFile=\(pidFile)
            ExecStart=/bin/sh -c 'sleep 1000 & echo $! > \(pidFile)'
            """)
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "forky").status == 0)
        let pid = h.mainPID("forky")
        #expect(pid > 0)
        #expect(String(pid) + "\n" == h.readFile(pidFile))
        #expect(h.sub("forky") == "running")
        _ = kill(pid, SIGTERM)
        #expect(h.waitFor("forky", sub: "dead"))
    }

    @Test func environmentAndOutputFiles() {
        let h = DaemonHarness()
        let envFile = h.root + "/env"
        let outFile = h.root + "/out.txt"
        h.writeFile(envFile, "FROM_FILE=file value\n# comment\nOVERRIDE=file\n")
        h.writeUnit("env.service", """
            [Service]
            Type=oneshot
            Environment="GREETING=hello world" OVERRIDE=unit
            EnvironmentFile=\(envFile)
            EnvironmentFile=-\(h.root)/missing
            WorkingDirectory=\(h.root)
            UMask=0077
            StandardOutput=file:\(outFile)
            ExecStart=/bin/sh -c 'echo "$GREETING|$FROM_FILE|$OVERRIDE|$(pwd)|$(umask)"'
            """)
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "env").status == 0)
        #expect(h.readFile(outFile) == "hello world|file value|file|\(h.root)|0077\n")
    }

    @Test(.enabled(if: getuid() == 0, "switching users needs root"))
    func userAndGroupAreApplied() {
        let h = DaemonHarness()
        h.writeUnit("nobody.service", """
            [Service]
            Type=oneshot
            User=nobody
            ExecStart=/bin/sh -c 'echo "uid=$(id -u) user=$USER"'
            """)
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "nobody").status == 0)
        let uid = Posix.user(named: "nobody")!.uid
        #expect(h.tend("logs", "nobody", "-o", "cat").stdout.contains("uid=\(uid) user=nobody"))
    }

    @Test func garbageOnTheControlSocketIsAnsweredAndHarmless() throws {
        let h = DaemonHarness()
        h.writeUnit("calm.service", "[Service]\nExecStart=/bin/sleep 1000\n")
        h.start()
        // Garbage: an error reply.
        let fd = ctend_unix_connect(h.state + "/control.sock")
        #expect(fd >= 0)
        try Posix.write(fd, Array("\u{1}\u{2}not json at all\n".utf8))
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBytes { (try? Posix.read(fd, into: $0)) ?? 0 } ?? 0
        let reply = try JSON.parse(buf[0..<max(0, n - 1)])
        #expect(reply["ok"]?.bool == false)
        Posix.close(fd)
        // Half a request, then gone.
        let fd2 = ctend_unix_connect(h.state + "/control.sock")
        try Posix.write(fd2, Array("{\"cmd\": \"sta".utf8))
        Posix.close(fd2)
        // Binary junk without a newline, then gone.
        let fd3 = ctend_unix_connect(h.state + "/control.sock")
        try Posix.write(fd3, [UInt8](repeating: 0xff, count: 100_000))
        Posix.close(fd3)
        // A valid JSON request of the wrong shape.
        let fd4 = ctend_unix_connect(h.state + "/control.sock")
        try Posix.write(fd4, Array("[1,2,3]\n".utf8))
        Posix.close(fd4)
        #expect(h.waitFor("calm", sub: "running"))
        #expect(h.tend("status", "calm").status == 0)
    }

    @Test func sigtermStopsEveryServiceThenExitsZero() {
        let h = DaemonHarness()
        for i in 0..<5 { h.writeUnit("s\(i).service", "[Service]\nExecStart=/bin/sleep 1000\n") }
        h.start()
        #expect(waitUntil { (0..<5).allSatisfy { h.sub("s\($0)") == "running" } })
        let pids = (0..<5).map { h.mainPID("s\($0)") }
        #expect(h.stop() == 0)
        for p in pids { #expect(!processExists(p)) }
    }

    @Test func restartAndReloadJobs() {
        let h = DaemonHarness()
        let marker = h.root + "/reloaded"
        h.writeUnit("web.service", """
            [Service]
            ExecStart=/bin/sleep 1000
            ExecReload=/bin/sh -c 'echo $MAINPID > \(marker)'
            """)
        h.start()
        #expect(h.waitFor("web", sub: "running"))
        let first = h.mainPID("web")
        #expect(h.tend("reload", "web").status == 0)
        #expect(h.readFile(marker) == "\(first)\n")
        #expect(h.tend("restart", "web").status == 0)
        let second = h.mainPID("web")
        #expect(second != first && second > 0)
        #expect(!processExists(first))
        #expect(h.tend("try-restart", "web").status == 0)
        #expect(h.tend("stop", "web").status == 0)
        #expect(h.tend("try-restart", "web").status == 0)
        #expect(h.sub("web") == "dead")
    }

    @Test func statusExitCodesFollowSystemctl() {
        let h = DaemonHarness()
        h.writeUnit("up.service", "[Service]\nExecStart=/bin/sleep 1000\n")
        h.writeUnit("down.service", "[Service]\nExecStart=/bin/sleep 1000\n")
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "up").status == 0)
        #expect(h.tend("status", "up").status == 0)
        #expect(h.tend("status", "down").status == 3)
        let missing = h.tend("status", "nope")
        #expect(missing.status == 4)
        #expect(missing.stderr.contains("nope.service could not be found"))
        #expect(h.tend("start", "nope").status != 0)
    }

    @Test func badSettingRefusesToStartNamingFileAndLine() {
        let h = DaemonHarness()
        h.writeUnit("bad.service", "[Service]\nExecStart=/bin/sleep 1\nRestart=sometimes\n")
        h.start(extraArgs: ["--no-start"])
        let r = h.tend("start", "bad")
        #expect(r.status != 0)
        #expect(r.stderr.contains("bad.service:3"))
        #expect(r.stderr.contains("Restart="))
    }

    @Test func verifyReportsEveryProblemAndExitsOne() {
        let h = DaemonHarness()
        let file = h.units + "/broken.service"
        h.writeFile(file, "[Service]\nRestart=sometimes\nTimeoutStopSec=soon\nFrobnicate=yes\n")
        let r = runCommand([tendBinary, "verify", file])
        #expect(r.status == 1)
        #expect(r.stderr.contains("broken.service:2"))
        #expect(r.stderr.contains("broken.service:3"))
        #expect(r.stderr.contains("Frobnicate"))
        let good = h.units + "/good.service"
        h.writeFile(good, "[Service]\nExecStart=/bin/true\n")
        #expect(runCommand([tendBinary, "verify", good]).status == 0)
    }

    @Test func logsFollowSeesNewLinesAndRestarts() {
        let h = DaemonHarness()
        h.writeUnit("talker.service", """
            [Service]
            ExecStart=/bin/sh -c 'i=0; while [ $i -lt 3 ]; do echo "line $i"; i=$((i+1)); sleep 0.05; done; exit 1'
            Restart=always
            RestartSec=100ms
            StartLimitIntervalSec=0
            """)
        h.start(extraArgs: ["--no-start"])
        let followed = h.root + "/followed"
        // The unit never ran, so its whole history is this test's: `-n 1000` instead of `-n 0` keeps a follower
        // that gets going only after the first lines were written (a loaded machine) from missing them.
        let follower = h.spawnBackground([tendBinary, "logs", "talker", "-f", "-n", "1000", "-o", "cat"], stdout: followed)
        #expect(waitUntil { h.tend("status", "talker").status == 3 })
        #expect(h.tend("start", "talker").status == 0)
        // Two runs' worth of lines arrive through the same follow, in order.
        #expect(waitUntil(10) { h.readFile(followed).components("line 2") >= 2 })
        let lines = h.readFile(followed).split(separator: "\n").filter { $0.hasPrefix("line") }
        #expect(Array(lines.prefix(6)) == ["line 0", "line 1", "line 2", "line 0", "line 1", "line 2"])
        _ = kill(follower, SIGTERM)
        var st: Int32 = 0
        _ = waitpid(follower, &st, 0)
    }
}

extension String {
    func components(_ needle: String) -> Int { split(separator: "\n").filter { $0 == needle }.count }
}
