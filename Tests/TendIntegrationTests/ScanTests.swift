import Glibc
import Testing
import TendModel
import TendSystem

/// `tend daemon --scan DIR` (what `tend scan DIR` runs) against the real daemontools and runit tools: svstat, svok,
/// svc, sv, supervise, multilog, svlogd and tai64nlocal, on service directories tend supervises.
@Suite(.serialized)
struct ScanTests {
    static let hasDaemontools = Posix.isExecutable("/usr/bin/svstat") && Posix.isExecutable("/usr/bin/svc")
    static let hasRunit = Posix.isExecutable("/usr/bin/sv") && Posix.isExecutable("/usr/bin/svlogd")

    /// A manager scanning `root/service`, with helpers to lay out service directories.
    final class Fixture {
        let h = DaemonHarness()
        var scan: String { h.root + "/service" }

        init() { try? Posix.mkdirs(h.root + "/service") }

        func dir(_ name: String) -> String { scan + "/" + name }

        /// Writes `NAME/run` (and optionally `log/run`, `finish`, `down`, extra files) in a staging directory, then
        /// moves it into the scanned directory in one rename, as the daemontools docs advise.
        func service(_ name: String, run: String, log: String? = nil, finish: String? = nil, down: Bool = false,
                     files: [String: String] = [:], into parent: String? = nil) {
            let staging = h.root + "/staging-" + name
            try? Posix.mkdirs(staging)
            h.writeFile(staging + "/run", "#!/bin/sh\n" + run + "\n", mode: 0o755)
            if let log {
                try? Posix.mkdirs(staging + "/log")
                h.writeFile(staging + "/log/run", "#!/bin/sh\n" + log + "\n", mode: 0o755)
            }
            if let finish { h.writeFile(staging + "/finish", "#!/bin/sh\n" + finish + "\n", mode: 0o755) }
            if down { h.writeFile(staging + "/down", "") }
            for (file, text) in files {
                if file.contains("/") { try? Posix.mkdirs(staging + "/" + String(file[..<file.lastIndex(of: "/")!])) }
                h.writeFile(staging + "/" + file, text, mode: file.hasPrefix("control/") ? 0o755 : 0o644)
            }
            #expect(rename(staging, (parent ?? scan) + "/" + name) == 0)
        }

        func start() { h.start(extraArgs: ["--scan", scan]) }

        func svstat(_ name: String) -> String { runCommand(["/usr/bin/svstat", dir(name)]).stdout }
        func svc(_ flags: String, _ name: String) { #expect(runCommand(["/usr/bin/svc", flags, dir(name)]).status == 0) }
        func sv(_ args: String...) -> CommandResult { runCommand(["/usr/bin/sv"] + args) }

        /// The pid svstat reports, 0 when down.
        func pid(_ name: String) -> Int32 {
            let s = svstat(name)
            guard let r = s.split(separator: "(pid ", maxSplits: 1).dropFirst().first else { return 0 }
            return Int32(r.prefix { $0.isNumber }) ?? 0
        }

        func waitForUp(_ name: String, other than: Int32 = 0, timeout: Double = 5) -> Int32 {
            var p: Int32 = 0
            _ = waitUntil(timeout) {
                p = self.pid(name)
                return p != 0 && p != than && self.svstat(name).contains(": up (pid ")
            }
            return p
        }
    }

    @Test(.enabled(if: hasDaemontools && hasRunit, "needs daemontools and runit (installed by .ci/run)"))
    func realToolsReadAndControlScanServices() throws {
        let f = Fixture()
        f.service("web", run: "exec sleep 1000")
        f.service("idle", run: "exec sleep 1000", down: true)
        f.start()
        let first = f.waitForUp("web")
        #expect(first > 0, "\(f.svstat("web")) \(f.h.daemonLog)")
        #expect(runCommand(["/usr/bin/svok", f.dir("web")]).status == 0)
        #expect(f.svstat("idle").contains(": down "), "\(f.svstat("idle"))")
        #expect(!f.svstat("idle").contains("want up"), "a `down` service wants down: \(f.svstat("idle"))")
        #expect(f.sv("status", f.dir("web")).stdout.hasPrefix("run: \(f.dir("web")): (pid \(first)) "))

        // The same unit through tend, under both names; JSON includes it.
        #expect(f.h.mainPID("web") == first)
        #expect(f.h.mainPID("web.dir") == first)
        #expect(f.h.tend("list", "--all", "-o", "json").stdout.contains("\"idle.dir\""))
        #expect(f.h.tend("status", "web").stdout.contains("web.dir - Service directory"))

        // svc -t: TERM, restarted at once with a new pid (it lived more than a second: no pause).
        f.svc("-t", "web")
        let second = f.waitForUp("web", other: first)
        #expect(second != first && second > 0)

        // svc -d: TERM then CONT, down, want down; svc -u: up again.
        f.svc("-d", "web")
        #expect(waitUntil(5) { f.svstat("web").contains(": down ") }, "\(f.svstat("web"))")
        #expect(!processExists(second))
        #expect(f.h.active("web") == "inactive")
        f.svc("-u", "web")
        let upAgain = f.waitForUp("web", other: second)
        #expect(upAgain > 0)

        // tend's own job commands drive the same unit, and the supervise/ records follow.
        #expect(f.h.tend("restart", "web").status == 0)
        let byTend = f.waitForUp("web", other: upAgain)
        #expect(byTend > 0 && f.h.mainPID("web.dir") == byTend)
        #expect(f.h.tend("stop", "web.dir").status == 0)
        #expect(f.svstat("web").contains(": down "), "\(f.svstat("web"))")
        #expect(f.h.tend("start", "web").status == 0)
        let third = f.waitForUp("web", other: byTend)

        // svc -p / -c: the paused flag, and the process really stopped.
        f.svc("-p", "web")
        #expect(waitUntil(5) { f.svstat("web").contains("paused") })
        #expect(waitUntil(5) { ProcessTable.stat(third)?.state == Character("T") })
        f.svc("-c", "web")
        #expect(waitUntil(5) { !f.svstat("web").contains("paused") })
        #expect(waitUntil(5) { ProcessTable.stat(third)?.state != Character("T") })

        // sv with -w waits for the state; stop/start/restart as runit's sv does.
        #expect(f.sv("-w", "5", "stop", f.dir("web")).stdout.hasPrefix("ok: down: "))
        #expect(f.sv("-w", "5", "start", f.dir("web")).stdout.hasPrefix("ok: run: "))
        let beforeRestart = f.pid("web")
        #expect(f.sv("-w", "5", "restart", f.dir("web")).stdout.hasPrefix("ok: run: "))
        #expect(f.waitForUp("web", other: beforeRestart) > 0)

        // The `down` one starts on svc -u, and svc -o runs a service once: killed, it stays down.
        f.svc("-o", "idle")
        let once = f.waitForUp("idle")
        #expect(once > 0)
        f.svc("-k", "idle")
        #expect(waitUntil(5) { f.svstat("idle").contains(": down ") })
        #expect(!waitUntil(1.2) { f.pid("idle") != 0 }, "a service started once must not be restarted")

        // svc -dx: down, then tend lets the directory go: svok fails, the unit is forgotten.
        f.svc("-dx", "web")
        #expect(waitUntil(5) { runCommand(["/usr/bin/svok", f.dir("web")]).status == 100 }, "\(f.h.daemonLog)")
        #expect(f.h.tend("status", "web.dir").status != 0)
        #expect(f.h.mainPID("idle") == 0 && f.h.tend("status", "idle").status == 3)

        // After tend exits, clients see "supervise not running".
        f.h.stop()
        #expect(runCommand(["/usr/bin/svok", f.dir("idle")]).status == 100)
        #expect(f.svstat("idle").contains("supervise not running"))
    }

    @Test(.enabled(if: hasDaemontools && hasRunit, "needs daemontools and runit (installed by .ci/run)"))
    func signalsFinishAndOverrides() throws {
        let f = Fixture()
        let out = f.h.root + "/out"
        // The service records the signals it gets; finish records its arguments.
        f.service("sig", run: """
            trap 'echo HUP >> \(out)' HUP
            trap 'echo ALRM >> \(out)' ALRM
            trap 'echo USR1 >> \(out)' USR1
            trap 'echo USR2 >> \(out)' USR2
            trap 'echo INT >> \(out)' INT
            trap 'echo QUIT >> \(out)' QUIT
            echo started >> \(out)
            while :; do sleep 0.05; done
            """, finish: "echo \"finish $1 $2\" >> \(out)")
        // control/t exits 0: svc -t runs it instead of sending TERM.
        f.service("guarded", run: "exec sleep 1000", files: ["control/t": "#!/bin/sh\necho override >> \(out).guarded\nexit 0\n"])
        f.service("exits", run: "exit 3", finish: "echo \"finish $1 $2\" >> \(out).exits")
        f.start()
        let pid = f.waitForUp("sig")
        #expect(pid > 0)
        #expect(waitUntil(5) { f.h.readFile(out).contains("started") })
        for (flag, name) in [("-h", "HUP"), ("-a", "ALRM"), ("-i", "INT")] {
            f.svc(flag, "sig")
            #expect(waitUntil(5) { f.h.readFile(out).contains(name) }, "\(name): \(f.h.readFile(out))")
        }
        for (cmd, name) in [("1", "USR1"), ("2", "USR2")] {
            #expect(f.sv(cmd, f.dir("sig")).status == 0)
            #expect(waitUntil(5) { f.h.readFile(out).contains(name) }, "\(name): \(f.h.readFile(out))")
        }
        #expect(f.pid("sig") == pid, "trapped signals leave the service running")

        // TERM kills it: finish gets runsv's "-1 15", and the service is back at once.
        f.svc("-t", "sig")
        #expect(waitUntil(5) { f.h.readFile(out).contains("finish -1 15") }, "\(f.h.readFile(out))")
        #expect(f.waitForUp("sig", other: pid) > 0)

        // An exit with a code: finish gets "3 0"; `run` lived under a second, so runsv's pause separates starts.
        #expect(waitUntil(5) { f.h.readFile(out + ".exits").linesContaining("finish 3 0") >= 2 }, "\(f.h.readFile(out + ".exits"))")
        let restarts = f.h.status("exits.dir")?["nRestarts"]?.int ?? -1
        #expect(restarts >= 1)
        #expect(!waitUntil(0.5) { (f.h.status("exits.dir")?["nRestarts"]?.int ?? 0) > restarts + 1 },
                "restarts of a run that lives under a second are paused 1 s")

        // control/t replaced TERM: the same process runs on.
        let guarded = f.waitForUp("guarded")
        f.svc("-t", "guarded")
        #expect(waitUntil(5) { f.h.readFile(out + ".guarded").contains("override") })
        #expect(!waitUntil(0.5) { f.pid("guarded") != guarded })
        #expect(processExists(guarded))

        // Garbage in control: reported, ignored, nothing else happens.
        let fd = Glibc.open(f.dir("sig") + "/supervise/control", O_WRONLY | O_NONBLOCK)
        #expect(fd >= 0)
        _ = try? Posix.write(fd, [0x5a, 0x00, 0xff])
        Posix.close(fd)
        #expect(waitUntil(5) { f.h.daemonLog.contains("ignored byte 0x5a written to supervise/control") }, "\(f.h.daemonLog)")
        #expect(f.h.tend("list").status == 0)
    }

    @Test(.enabled(if: hasDaemontools && hasRunit, "needs daemontools' multilog and runit's svlogd (installed by .ci/run)"))
    func logPipeLosesNoLineAcrossRestartsOfEitherSide() throws {
        let f = Fixture()
        // Numbered lines as fast as the shell writes them, with a short pause now and then.
        let writer = "i=0; while [ $i -lt 4000 ]; do i=$((i+1)); echo \"line $i\"; case $i in *50|*00) sleep 0.05;; esac; done; exec sleep 1000"
        f.service("multi", run: writer, log: "exec multilog t s9999999 ./main")
        f.service("svlog", run: writer, log: "mkdir -p main && exec svlogd -tt ./main")
        f.start()
        for name in ["multi", "svlog"] {
            #expect(f.waitForUp(name) > 0)
            #expect(f.waitForUp(name + "/log") > 0)
        }
        func lines(_ name: String) -> [Substring] {
            f.h.readFile(f.dir(name) + "/log/main/current").split(separator: "\n")
        }
        // Restart each logger twice while lines flow.
        for round in 0..<2 {
            for name in ["multi", "svlog"] {
                let have = lines(name).count
                #expect(waitUntil(10) { lines(name).count > have + 200 }, "lines flow to \(name)")
                let before = f.pid(name + "/log")
                f.svc("-t", name + "/log")
                #expect(f.waitForUp(name + "/log", other: before) > 0, "round \(round)")
            }
        }
        for name in ["multi", "svlog"] {
            #expect(waitUntil(20) { lines(name).contains { $0.hasSuffix(" line 4000") } }, "\(name): \(lines(name).suffix(3))")
            let numbers = lines(name).compactMap { l -> Int? in
                guard let r = l.split(separator: " line ", maxSplits: 1).dropFirst().first else { return nil }
                return Int(r)
            }
            // Nothing is lost in the pipe. svlogd (runit's, unlike multilog) reads ahead and on TERM writes only
            // up to the first newline of what it read, then exits (svlogd(8)): a line it had already read when
            // TERM came may be lost with it, under runsv as here. So for svlogd: in order, no duplicate, at most one
            // line missing per TERM it got.
            if name == "multi" {
                #expect(numbers == Array(1...4000), "\(name): \(numbers.count) lines, first gap \(firstGap(numbers))")
            } else {
                #expect(numbers == numbers.sorted() && Set(numbers).count == numbers.count && numbers.count >= 3998,
                        "\(name): \(numbers.count) lines, first gap \(firstGap(numbers))")
            }
        }
        // multilog's stamps are TAI64N labels tai64nlocal reads.
        let first = lines("multi").first.map(String.init) ?? ""
        #expect(first.hasPrefix("@4000"), "\(first)")
        let local = runCommand(["/bin/sh", "-c", "head -1 '\(f.dir("multi"))/log/main/current' | tai64nlocal"])
        #expect(local.stdout.contains(" line 1") && !local.stdout.hasPrefix("@"), "\(local.stdout)")

        // svc -t of the service itself: its next run's lines follow the old ones, none lost.
        let before = f.pid("multi")
        f.svc("-t", "multi")
        #expect(f.waitForUp("multi", other: before) > 0)
        #expect(waitUntil(20) { lines("multi").filter { $0.hasSuffix(" line 4000") }.count == 2 })
        #expect(lines("multi").count == 8000)
    }

    @Test(.enabled(if: hasDaemontools, "needs daemontools (installed by .ci/run)"))
    func directoriesAppearingAndVanishingAreSeenWithoutPolling() throws {
        let f = Fixture()
        f.service("first", run: "exec sleep 1000")
        f.start()
        #expect(f.waitForUp("first") > 0)
        // A new directory is supervised within a second.
        let t0 = Posix.monotonicNow
        f.service("late", run: "exec sleep 1000")
        #expect(waitUntil(1) { f.pid("late") != 0 }, "\(f.svstat("late")) \(f.h.daemonLog)")
        #expect(Posix.monotonicNow.usec(since: t0) < 1_000_000)
        // A directory created empty gets its run later, then made executable: seen too.
        try Posix.mkdirs(f.dir("slow"))
        f.h.writeFile(f.dir("slow") + "/run", "#!/bin/sh\nexec sleep 1000\n", mode: 0o644)
        #expect(!waitUntil(0.3) { f.pid("slow") != 0 })
        #expect(chmod(f.dir("slow") + "/run", 0o755) == 0)
        #expect(waitUntil(1) { f.pid("slow") != 0 }, "\(f.h.daemonLog)")
        #expect(f.h.daemonLog.contains("slow: ./run is not executable, not supervised"))

        // A removed directory is stopped and forgotten; its process ends.
        let late = f.pid("late")
        #expect(rename(f.dir("late"), f.scan + "/.late") == 0)
        #expect(waitUntil(5) { !processExists(late) })
        #expect(waitUntil(5) { f.h.tend("status", "late.dir").status == 4 })
        #expect(runCommand(["/usr/bin/svok", f.scan + "/.late"]).status == 100)
        #expect(f.pid("first") != 0, "other services carry on")
    }

    @Test(.enabled(if: hasDaemontools, "needs daemontools' supervise (installed by .ci/run)"))
    func liveLocksAreRefusedBothWays() throws {
        let f = Fixture()
        f.service("ours", run: "exec sleep 1000")
        // A real supervise holds "theirs" before tend starts: tend refuses that directory and says so.
        f.service("theirs", run: "exec sleep 1000")
        let theirs = f.h.spawnBackground(["/usr/bin/supervise", f.dir("theirs")], stdout: f.h.root + "/supervise.out")
        #expect(waitUntil(5) { f.pid("theirs") != 0 })
        f.start()
        #expect(f.waitForUp("ours") > 0)
        #expect(waitUntil(5) { f.h.daemonLog.contains("\(f.dir("theirs"))/supervise/lock is held by another supervisor") }, "\(f.h.daemonLog)")
        #expect(f.h.tend("status", "theirs.dir").status == 4)
        // And a real supervise started on tend's directory can't take it.
        let refused = runCommand(["/usr/bin/supervise", f.dir("ours")], timeout: 5)
        #expect(refused.status == 111 && refused.stderr.contains("unable to acquire"), "\(refused)")
        // Down and exit, as its operator would: supervise ends its service, then itself.
        let theirsPID = f.pid("theirs")
        runCommand(["/usr/bin/svc", "-dx", f.dir("theirs")])
        var st: Int32 = 0
        #expect(waitUntil(5) { waitpid(theirs, &st, WNOHANG) == theirs })
        if waitpid(theirs, &st, WNOHANG) == 0 {
            kill(theirs, SIGKILL)
            _ = waitpid(theirs, &st, 0)
        }
        #expect(waitUntil(5) { !processExists(theirsPID) })
        if processExists(theirsPID) { kill(theirsPID, SIGKILL) }
    }

    @Test(.enabled(if: hasDaemontools, "needs daemontools (installed by .ci/run)"))
    func s6StyleExtras() throws {
        let f = Fixture()
        // notification-fd: ready when the line arrives on fd 3, not before.
        let gate = f.h.root + "/gate"
        f.service("ready", run: "while [ ! -e \(gate) ]; do sleep 0.02; done; echo ready >&3; exec 3>&-; exec sleep 1000",
                  files: ["notification-fd": "3\n"])
        // timeout-kill: a service ignoring TERM is killed that many milliseconds after svc -d.
        f.service("stubborn", run: "trap '' TERM; while :; do sleep 0.05; done", files: ["timeout-kill": "300\n"])
        f.service("bad", run: "exec sleep 1000", files: ["timeout-kill": "soon\n"])
        f.start()
        #expect(waitUntil(5) { f.h.sub("ready") == "start" }, "\(f.h.sub("ready"))")
        #expect(!waitUntil(0.3) { f.h.active("ready") == "active" })
        f.h.writeFile(gate, "")
        #expect(waitUntil(5) { f.h.active("ready") == "active" && f.h.sub("ready") == "running" })

        let stubborn = f.waitForUp("stubborn")
        f.svc("-d", "stubborn")
        #expect(!waitUntil(0.2) { !processExists(stubborn) }, "TERM is ignored")
        #expect(waitUntil(3) { !processExists(stubborn) })
        #expect(f.h.tend("status", "stubborn").stdout.contains("signal=KILL"))
        #expect(f.h.daemonLog.contains("\(f.dir("bad"))/timeout-kill:1: \"soon\" is not a number of milliseconds; ignored"))
        #expect(f.waitForUp("bad") > 0)
    }

    @Test func scanDirectoriesFromTendConf() throws {
        let f = Fixture()
        f.service("fromconf", run: "exec sleep 1000")
        let conf = f.h.root + "/tend.conf"
        f.h.writeFile(conf, "[Logs]\nLogMaxFiles=4\n\n[Scan]\nDirectory=\(f.scan)\n")
        f.h.start(extraArgs: ["--config", conf])
        #expect(waitUntil(5) { f.h.sub("fromconf") == "running" }, "\(f.h.daemonLog)")
        f.h.stop()
        // A key [Scan] doesn't know is refused with its place.
        f.h.writeFile(conf, "[Scan]\nDirectory=\(f.scan)\nDirectroy=/x\n")
        let bad = runCommand([tendBinary, "daemon", "--config", conf, "--state-dir", f.h.root + "/state2"], timeout: 10)
        #expect(bad.status == 1 && bad.stderr.contains("\(conf):3: Directroy= is not a [Scan] setting"), "\(bad)")
    }

    @Test func nameClashesWithUnitFilesAreReported() throws {
        let f = Fixture()
        f.h.writeUnit("web.service", "[Service]\nExecStart=/bin/sleep 1000\n")
        f.service("web", run: "exec sleep 1000")
        f.start()
        #expect(waitUntil(5) { f.h.daemonLog.contains("web: the unit web.service has that name already; the directory is not supervised") },
                "\(f.h.daemonLog)")
        #expect(f.h.tend("status", "web.dir").status == 4)
        #expect(f.h.waitFor("web.service", sub: "running"))
    }
}

extension String {
    /// How many lines contain `needle`.
    fileprivate func linesContaining(_ needle: String) -> Int { split(separator: "\n").filter { $0.contains(needle) }.count }
}

/// Where a run of 1, 2, 3, ... first breaks, for messages.
private func firstGap(_ numbers: [Int]) -> String {
    for (i, n) in numbers.enumerated() where n != i + 1 { return "after \(i) (found \(n))" }
    return "none"
}
