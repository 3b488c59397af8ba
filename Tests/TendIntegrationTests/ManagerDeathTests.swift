import Glibc
import Testing
import TendControl
import TendModel
import TendSystem

/// The manager's own death loses nothing: the holder (the process `tend daemon` started as) keeps the log
/// pipes, notify sockets and main processes' pidfds, reaps the services the dead manager leaves, starts a new
/// manager, and hands everything back; the new manager adopts the running services instead of starting
/// duplicates. `tend daemon-reexec` goes the same way.
@Suite(.serialized)
struct ManagerDeathTests {
    static let writers = 16

    /// Every `seq N` line of a writer's log, in order.
    func sequence(_ h: DaemonHarness, _ unit: String) -> [Int] {
        h.tend("logs", unit, "-o", "cat").stdout.split(separator: "\n").compactMap { line in
            line.hasPrefix("seq ") ? Int(line.dropFirst(4)) : nil
        }
    }

    func mainPIDs(_ h: DaemonHarness, _ units: [String]) -> [String: Int32] {
        Dictionary(uniqueKeysWithValues: units.map { ($0, h.mainPID($0)) })
    }

    /// Waits for a manager other than `old` to answer; its pid.
    func newManager(_ h: DaemonHarness, after old: Int32) -> Int32? {
        var pid: Int32?
        _ = waitUntil(15) {
            pid = h.currentManagerPID()
            return pid != nil && pid != old
        }
        return pid == old ? nil : pid
    }

    @Test func twentyServicesSurviveKill9OfTheManagerAndADaemonReexec() throws {
        let h = DaemonHarness()
        var names: [String] = []
        for i in 0..<Self.writers {
            h.writeUnit("w\(i).service", """
                [Service]
                ExecStart=/bin/sh -c 'i=0; while true; do i=$((i+1)); echo "seq $i"; [ $((i %% 3)) = 0 ] && echo "err $i" >&2; sleep 0.005; done'
                """)
            names.append("w\(i)")
        }
        let ticker = h.root + "/ticker.py"
        h.writeFile(ticker, pythonNotify + """
            import time
            notify("READY=1")
            n = 0
            while True:
                n += 1
                notify("STATUS=tick %d" % n)
                time.sleep(0.05)

            """)
        h.writeUnit("ticker.service", "[Service]\nType=notify\nExecStart=/usr/bin/env python3 \(ticker)\n")
        h.writeUnit("forker.service", """
            [Service]
            Type=forking
            PIDFile=\(h.root)/forker.pid
            ExecStart=/bin/sh -c 'sleep 1000 & echo $! > \(h.root)/forker.pid'
            """)
        let mark = h.root + "/crashed-once"
        h.writeUnit("flaky.service", """
            [Service]
            ExecStart=/bin/sh -c 'if [ -e \(mark) ]; then exec sleep 1000; fi; touch \(mark); exit 3'
            Restart=on-failure
            RestartSec=50ms
            """)
        h.writeUnit("crashy.service", "[Service]\nExecStart=/bin/sleep 1000\nRestart=on-failure\nRestartSec=50ms\n")
        names += ["ticker", "forker", "flaky", "crashy"]
        #expect(names.count == 20)
        h.start()
        #expect(waitUntil(20) { names.allSatisfy { h.active($0) == "active" } && h.status("flaky")?["nRestarts"]?.int == 1 },
                "\(names.map { "\($0)=\(h.active($0))" }) \(h.daemonLog.suffix(800))")
        #expect(waitUntil { self.sequence(h, "w0").count > 20 })
        let before = mainPIDs(h, names)
        #expect(before.values.allSatisfy { $0 > 0 })

        // kill -9 of the manager: the services go on writing into the pipes the holder keeps. The writers are
        // paused until the manager has written all it read (a record read but not yet written when the manager
        // is killed is lost with it: only what is in the pipes survives), and resumed at once after the kill,
        // so that they write while no manager runs.
        let writerPIDs = names.filter { $0.hasPrefix("w") }.map { before[$0]! }
        for pid in writerPIDs { kill(pid, SIGSTOP) }
        var lastSeen: [Int] = []
        #expect(waitUntil(10) {
            let now = (0..<Self.writers).map { self.sequence(h, "w\($0)").last ?? 0 }
            defer { lastSeen = now }
            return now == lastSeen
        }, "the manager has written everything the writers wrote")
        let first = h.managerPID
        let atKill = sequence(h, "w3").last ?? 0
        #expect(kill(first, SIGKILL) == 0)
        for pid in writerPIDs { kill(pid, SIGCONT) }
        let second = newManager(h, after: first)
        #expect(second != nil, "a new manager answers: \(h.daemonLog.suffix(1500))")
        #expect(h.pid != first && h.pid != second, "the holder is neither")
        #expect(mainPIDs(h, names) == before, "every service adopted with its main process, none restarted")
        #expect(names.allSatisfy { h.active($0) == "active" })
        #expect(h.status("flaky")?["nRestarts"]?.int == 1, "NRestarts kept")
        #expect(h.daemonLog.contains("Adopted 20 running services from the previous manager."), "\(h.daemonLog.suffix(1500))")
        // No duplicates: each writer's script runs once.
        let shells = ProcessTable.scan().filter { $0.comm == "sh" && $0.session > 0 }
        for (name, pid) in before where name.hasPrefix("w") {
            #expect(shells.filter { $0.session == pid }.count == 1, "\(name): one writer")
        }
        // The notify socket was kept: the ticker's STATUS= keeps arriving at the new manager.
        let tick = h.status("ticker")?["statusText"]?.string
        #expect(waitUntil { h.status("ticker")?["statusText"]?.string != tick })

        // daemon-reexec: the same hand-over, asked for.
        let atReexec = sequence(h, "w3").last ?? 0
        let reexec = h.tend("daemon-reexec")
        #expect(reexec.status == 0, "\(reexec.stderr)")
        let third = h.currentManagerPID()
        #expect(third != nil && third != second)
        #expect(mainPIDs(h, names) == before)

        // An adopted process is the holder's child: its exit still reaches the manager, and Restart= applies.
        #expect(kill(before["crashy"]!, SIGKILL) == 0)
        #expect(waitUntil { let p = h.mainPID("crashy"); return p != 0 && p != before["crashy"]! })
        #expect(h.status("crashy")?["nRestarts"]?.int == 1)
        let exit = h.status("crashy")?["processes"]?.array?.first { $0["pid"]?.int == Int64(before["crashy"]!) }
        #expect(exit?["text"]?.string == "code=killed, signal=KILL", "the exit status came through the holder")
        // A stop reaches adopted processes too.
        #expect(h.tend("stop", "w1").status == 0 && h.active("w1") == "inactive")
        #expect(kill(before["w1"]!, 0) != 0, "the writer is gone")

        // Every line written across both hand-overs is in the store, once and in order.
        let last = sequence(h, "w0").last ?? 0
        #expect(waitUntil { (self.sequence(h, "w0").last ?? 0) > last + 20 }, "w0 keeps being logged")
        for name in names where name.hasPrefix("w") {
            let seq = sequence(h, name)
            let gaps = zip(seq, seq.dropFirst()).filter { $0.1 != $0.0 + 1 }
            #expect(seq.first == 1 && gaps.isEmpty && seq.count > 50, "\(name): \(seq.count) lines, gaps \(gaps.prefix(3)); w3 at the kill \(atKill), at the re-exec \(atReexec)")
        }
        let errs = h.tend("logs", "w0", "--stream", "stderr", "-o", "cat").stdout.split(separator: "\n")
        #expect(errs.count > 10 && errs.allSatisfy { $0.hasPrefix("err ") })
    }

    /// FDSTORE=1 descriptors are held too: after the manager's death, a restart still hands the stored
    /// listening socket to the new instance.
    @Test func theFdStoreSurvivesTheManagersDeath() {
        let h = DaemonHarness()
        let script = h.root + "/store.py"
        h.writeFile(script, pythonNotify + """
            import os, socket, time
            inherited = os.environ.get("LISTEN_PID") == str(os.getpid()) and os.environ.get("LISTEN_FDS") == "1"
            srv = socket.socket(fileno=3) if inherited else socket.create_server(("127.0.0.1", 0))
            if not inherited: notify("FDSTORE=1\\nFDNAME=listener", [srv.fileno()])
            notify("READY=1\\nSTATUS=%s %d" % ("inherited" if inherited else "fresh", srv.getsockname()[1]))
            time.sleep(1000)

            """)
        h.writeUnit("store.service", "[Service]\nType=notify\nFileDescriptorStoreMax=2\nExecStart=/usr/bin/env python3 \(script)\n")
        h.start()
        #expect(h.waitFor("store", sub: "running"))
        let fresh = h.status("store")?["statusText"]?.string ?? ""
        #expect(fresh.hasPrefix("fresh "))
        let first = h.managerPID
        #expect(kill(first, SIGKILL) == 0)
        #expect(newManager(h, after: first) != nil)
        #expect(h.status("store")?["fdStore"]?.int == 1, "the store was handed back")
        #expect(h.tend("restart", "store").status == 0)
        let port = fresh.split(separator: " ").last.map(String.init) ?? ""
        #expect(waitUntil { h.status("store")?["statusText"]?.string == "inherited \(port)" }, "the same socket, passed on")
    }

    /// As PID 1 of a PID namespace (a container's init), the holder is the init: the manager's death ends
    /// neither the container nor a service, and SIGTERM from outside still stops everything in order.
    @Test(.enabled(if: getuid() == 0 && access("/usr/bin/unshare", X_OK) == 0, "needs root and unshare(1)"))
    func asPID1OfANamespaceTheHolderOutlivesTheManager() {
        let h = DaemonHarness()
        h.writeUnit("web.service", "[Service]\nExecStart=/bin/sh -c 'echo pid=$$$$; exec sleep 1000'\n")
        h.start(wrapper: ["/usr/bin/unshare", "--pid", "--fork", "--mount-proc", "--kill-child=SIGTERM"])
        #expect(h.waitFor("web", sub: "running"))
        #expect(h.managerPID == 2, "the manager is the init's child inside the namespace")
        // Host pids: unshare → the holder (PID 1 inside) → the manager.
        let holder = ProcessTable.scan().first { $0.ppid == h.pid }
        #expect(holder?.comm == "tend-holder")
        let manager = ProcessTable.scan().first { $0.ppid == holder?.pid && $0.comm == "tend" }
        #expect(manager != nil)
        let web = h.mainPID("web")
        #expect(kill(manager?.pid ?? 0, SIGKILL) == 0)
        #expect(waitUntil(15) { ProcessTable.scan().contains { $0.ppid == holder?.pid && $0.comm == "tend" && $0.pid != manager?.pid } && h.currentManagerPID() != nil })
        #expect(h.mainPID("web") == web && h.active("web") == "active", "adopted inside the namespace")
        // A container runtime stops a container by SIGTERM to its init (unshare itself waits for its child).
        #expect(kill(holder?.pid ?? 0, SIGTERM) == 0)
        #expect(h.stop() == 0, "SIGTERM reaches the init and stops everything in order")
        #expect(h.readFile(h.logs + "/web.service/current").contains("Stopped web.service."))
    }

    /// A service caught half-way through its start when the manager dies is not adopted as running (it never
    /// said READY=1 to anyone who will remember): the next manager ends that process and starts the unit afresh,
    /// so it never runs twice.
    @Test func aServiceStartingWhenTheManagerDiesIsStartedAfreshNotTwice() {
        let h = DaemonHarness()
        let go = h.root + "/go"
        let script = h.root + "/slow.py"
        h.writeFile(script, pythonNotify + """
            import os, time
            while not os.path.exists("\(go)"): time.sleep(0.01)
            notify("READY=1")
            time.sleep(1000)

            """)
        h.writeUnit("slow.service", "[Service]\nType=notify\nExecStart=/usr/bin/env python3 \(script)\n")
        h.start()
        #expect(waitUntil { h.sub("slow") == "start" && h.mainPID("slow") != 0 })
        let old = h.mainPID("slow")
        let first = h.managerPID
        #expect(kill(first, SIGKILL) == 0)
        #expect(newManager(h, after: first) != nil)
        h.writeFile(go, "")
        #expect(h.waitFor("slow", sub: "running", timeout: 15))
        #expect(h.mainPID("slow") != old, "started afresh")
        #expect(waitUntil { kill(old, 0) != 0 }, "the half-started process was ended")
        #expect(h.daemonLog.contains("slow.service: its main process \(old) was starting or stopping"))
    }

    /// A service that dies while no manager runs: the holder reaps it and reports the exit to the next manager,
    /// which applies Restart= as if it had seen the death itself.
    @Test func anExitWhileNoManagerRunsIsFedToTheNextOne() {
        let h = DaemonHarness()
        h.writeUnit("gap.service", "[Service]\nExecStart=/bin/sleep 1000\nRestart=on-failure\nRestartSec=50ms\n")
        h.start()
        #expect(h.waitFor("gap", sub: "running"))
        let old = h.mainPID("gap")
        let first = h.managerPID
        // The manager stopped can't reap; the service dies meanwhile; then the manager is killed, and the
        // service's remains fall to the holder.
        #expect(kill(first, SIGSTOP) == 0)
        #expect(kill(old, SIGKILL) == 0)
        #expect(kill(first, SIGKILL) == 0)
        #expect(newManager(h, after: first) != nil)
        #expect(waitUntil { let p = h.mainPID("gap"); return p != 0 && p != old }, "restarted by Restart=on-failure")
        #expect(h.status("gap")?["nRestarts"]?.int == 1)
        let exit = h.status("gap")?["processes"]?.array?.first { $0["pid"]?.int == Int64(old) }
        #expect(exit?["text"]?.string == "code=killed, signal=KILL")
    }

    @Test func aDaemonReexecWithoutHolderIsRefused() {
        let h = DaemonHarness()
        h.writeUnit("a.service", "[Service]\nExecStart=/bin/sleep 1000\n")
        h.start(wrapper: ["/usr/bin/env", "TEND_NO_HOLDER=1"])
        #expect(h.managerPID == h.pid)
        let r = h.tend("daemon-reexec")
        #expect(r.status != 0 && r.stderr.contains("without a holder"), "\(r.stderr)")
    }
}
