import Glibc
import Testing
import TendControl
import TendModel
import TendSystem
import TendEngine

/// The client commands against a real manager: daemon-reload (command and SIGHUP), cat with drop-ins,
/// templates, kill --who, show, list JSON, --no-block.
@Suite(.serialized)
struct CommandTests {
    @Test func daemonReloadAndSIGHUPPickUpChangedFilesForTheNextStart() {
        let h = DaemonHarness()
        let out = h.root + "/out"
        h.writeUnit("ver.service", "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo one >> \(out)'\n")
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "ver").status == 0)
        h.writeUnit("ver.service", "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo two >> \(out)'\n")
        #expect(h.tend("daemon-reload").status == 0)
        #expect(h.tend("start", "ver").status == 0)
        h.writeUnit("ver.service", "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo three >> \(out)'\n")
        _ = kill(h.pid, SIGHUP)
        #expect(waitUntil { h.daemonLog.components(separatedBy: "Reloaded").count >= 3 })
        #expect(h.tend("start", "ver").status == 0)
        #expect(h.readFile(out) == "one\ntwo\nthree\n")
        // A new unit file appears with daemon-reload.
        h.writeUnit("fresh.service", "[Service]\nExecStart=/bin/sleep 1000\n")
        #expect(h.tend("daemon-reload").status == 0)
        #expect(h.tend("start", "fresh").status == 0)
        #expect(h.sub("fresh") == "running")
    }

    @Test func catShowsTheFileAndItsDropInsAndTheyApply() {
        let h = DaemonHarness()
        h.writeUnit("web.service", "[Service]\nExecStart=/bin/sleep 1000\nEnvironment=WHO=base\n")
        try? Posix.mkdirs(h.units + "/web.service.d")
        h.writeFile(h.units + "/web.service.d/10-override.conf", "[Service]\nEnvironment=WHO=dropin\nRestart=always\n")
        h.start(extraArgs: ["--no-start"])
        let cat = h.tend("cat", "web").stdout
        #expect(cat.contains("# \(h.units)/web.service\n"))
        #expect(cat.contains("# \(h.units)/web.service.d/10-override.conf\n"))
        #expect(cat.contains("Environment=WHO=dropin"))
        #expect(h.tend("show", "web", "-p", "Restart").stdout == "Restart=always\n")
        let s = h.status("web")
        #expect(s?["dropIns"]?.array?.count == 1)
    }

    @Test func templateInstancesRunWithTheirInstanceName() {
        let h = DaemonHarness()
        let out = h.root + "/inst"
        h.writeUnit("greet@.service", "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo %i >> \(out)'\n")
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "greet@alpha", "greet@beta").status == 0)
        let lines = Set(h.readFile(out).split(separator: "\n").map(String.init))
        #expect(lines == ["alpha", "beta"])
        #expect(h.tend("start", "greet@").status != 0, "a template without instance does not start")
    }

    @Test func killWhoMainSignalsOnlyTheMainProcess() {
        let h = DaemonHarness()
        let pids = h.root + "/pids"
        h.writeUnit("pair.service", """
            [Service]
            ExecStart=/bin/sh -c 'trap "echo main got USR1" USR1; sleep 1000 & echo $$! > \(pids); while :; do wait; done'
            """)
        h.start()
        #expect(h.waitFor("pair", sub: "running"))
        #expect(waitUntil { Int32(h.readFile(pids).trimmingCharacters(in: "\n")) != nil })
        let child = Int32(h.readFile(pids).trimmingCharacters(in: "\n"))!
        #expect(h.tend("kill", "pair", "--who", "main", "-s", "USR1").status == 0)
        #expect(waitUntil { h.tend("logs", "pair", "-o", "cat").stdout.contains("main got USR1") })
        #expect(processExists(child), "--who main leaves the other processes alone")
        #expect(h.tend("kill", "pair", "-s", "KILL").status == 0)
        #expect(waitUntil { !processExists(child) })
        #expect(h.tend("kill", "nope").status != 0)
        #expect(h.tend("kill", "pair", "-s", "SIGNOPE").status != 0)
    }

    /// systemctl's is-active / is-failed: the state per unit, in the order asked, and its exit statuses.
    @Test func isActiveAndIsFailedAsSystemctl() {
        let h = DaemonHarness()
        h.writeUnit("up.service", "[Service]\nExecStart=/bin/sleep 1000\n")
        h.writeUnit("broken.service", "[Service]\nExecStart=/bin/sh -c 'exit 3'\n")
        h.start()
        #expect(h.waitFor("up", sub: "running"))
        #expect(h.waitFor("broken", sub: "failed"))
        let both = h.tend("is-active", "up", "broken.service", "nosuch")
        #expect(both.status == 0)
        #expect(both.stdout == "active\nfailed\ninactive\n")
        let down = h.tend("is-active", "broken")
        #expect(down.status == 3 && down.stdout == "failed\n")
        #expect(h.tend("is-active", "--quiet", "nosuch").stdout.isEmpty)
        #expect(h.tend("is-active", "-q", "nosuch").status == 3)
        let failed = h.tend("is-failed", "broken")
        #expect(failed.status == 0 && failed.stdout == "failed\n")
        let notFailed = h.tend("is-failed", "up", "nosuch")
        #expect(notFailed.status == 1 && notFailed.stdout == "active\ninactive\n")
        let json = h.tend("is-active", "up", "-o", "json")
        #expect(json.stdout.contains("\"active\" : \"active\"") || json.stdout.contains("\"active\": \"active\""))
    }

    /// The arguments a real process gets from an Exec line with escapes systemd keeps as written.
    @Test func unknownEscapesReachTheProcessAsWritten() {
        let h = DaemonHarness()
        h.writeUnit("esc.service", #"""
            [Service]
            Type=oneshot
            ExecStart=/bin/sh -c 'printf "<%%s>" "$$@"; echo' sh '\w+\K' \;x \; \x41
            """#)
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "esc").status == 0)
        #expect(waitUntil { h.tend("logs", "esc", "-o", "cat").stdout.contains("<") })
        #expect(h.tend("logs", "esc", "-o", "cat").stdout.contains(#"<\w+\K><\;x><;><A>"#))
    }

    /// `$VAR` words as systemd expands them: split honouring quotes; `$FOO$FOO` one (unset) name.
    @Test func bareVariablesSplitWithTheirQuotesInARealProcess() {
        let h = DaemonHarness()
        h.writeUnit("vars.service", #"""
            [Service]
            Type=oneshot
            Environment="TWO='two two' too" FOO=foo
            ExecStart=/bin/sh -c 'printf "<%%s>" "$$@"; echo' sh $TWO $FOO$FOO x$FOO x${FOO}y
            """#)
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "vars").status == 0)
        #expect(waitUntil { h.tend("logs", "vars", "-o", "cat").stdout.contains("<") })
        #expect(h.tend("logs", "vars", "-o", "cat").stdout.contains("<two two><too><x$FOO><xfooy>"))
    }

    /// `tend kill` of a unit with no process says so and fails, as systemctl does.
    @Test func killOfAUnitWithNoProcessFails() {
        let h = DaemonHarness()
        h.writeUnit("done.service", "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n")
        h.writeUnit("off.service", "[Service]\nExecStart=/bin/sleep 1000\n")
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "done").status == 0)
        #expect(h.active("done") == "active")
        let r = h.tend("kill", "done")
        #expect(r.status != 0)
        #expect(r.stderr.contains("No process of done.service to signal"), "\(r.stderr)")
        let off = h.tend("kill", "off")
        #expect(off.status != 0 && off.stderr.contains("not active"), "\(off.stderr)")
    }

    /// systemctl's list-units (an alias of list) with --state= and --failed, and reload-or-restart.
    @Test func listUnitsFiltersAndReloadOrRestart() {
        let h = DaemonHarness()
        h.writeUnit("up.service", "[Service]\nExecStart=/bin/sleep 1000\nExecReload=/bin/true\n")
        h.writeUnit("plain.service", "[Service]\nExecStart=/bin/sleep 1000\n")
        h.writeUnit("broken.service", "[Service]\nExecStart=/bin/sh -c 'exit 3'\n")
        h.start()
        #expect(h.waitFor("up", sub: "running"))
        #expect(h.waitFor("plain", sub: "running"))
        #expect(h.waitFor("broken", sub: "failed"))
        let failed = h.tend("list-units", "--failed").stdout
        #expect(failed.contains("broken.service") && !failed.contains("up.service"), "\(failed)")
        let running = h.tend("list-units", "--state=running").stdout
        #expect(running.contains("up.service") && running.contains("plain.service") && !running.contains("broken"))
        #expect(h.tend("list", "--state", "failed,running").stdout.contains("broken.service"))
        // reload-or-restart: a reload keeps the main process of a unit that can reload, a restart replaces it.
        let (up, plain) = (h.mainPID("up"), h.mainPID("plain"))
        #expect(h.tend("reload-or-restart", "up", "plain").status == 0)
        #expect(h.mainPID("up") == up)
        #expect(waitUntil { let p = h.mainPID("plain"); return p != 0 && p != plain })
    }

    /// enable --now / disable --now, show --value, status -l --no-pager.
    @Test func systemctlHabitsEnableNowShowValueAndStatusFlags() {
        let h = DaemonHarness()
        h.writeUnit("web.service", "[Service]\nExecStart=/bin/sleep 1000\n[Install]\nWantedBy=multi-user.target\n")
        h.writeUnit("multi-user.target", "[Unit]\nDescription=Multi-User\n")
        h.start(extraArgs: ["--no-start"])
        #expect(h.active("web") == "inactive")
        let en = h.tend("enable", "--now", "web")
        #expect(en.status == 0, "\(en.stderr)")
        #expect(h.active("web") == "active")
        #expect(h.tend("is-enabled", "web").stdout == "enabled\n")
        let pid = h.tend("show", "web", "-p", "MainPID", "--value")
        #expect(pid.stdout == "\(h.mainPID("web"))\n")
        for flags in [["-l"], ["--no-pager"], ["-l", "--no-pager", "-n", "0"]] {
            let r = h.tend(["status", "web"] + flags)
            #expect(r.status == 0 && r.stdout.contains("web.service"), "\(flags): \(r.stderr)")
        }
        #expect(h.tend("disable", "--now", "web").status == 0)
        #expect(h.active("web") == "inactive")
        #expect(h.tend("is-enabled", "web").stdout == "disabled\n")
    }

    /// After a crash and a restart, status still shows the crashed run's exit (systemctl's `Process:` line), and
    /// the live processes with their threads and memory.
    @Test func statusKeepsTheLastCrashAndShowsTheProcessTree() {
        let h = DaemonHarness()
        let mark = h.root + "/crashed"
        h.writeUnit("dl.service", """
            [Service]
            ExecStartPre=/bin/true
            ExecStart=/bin/sh -c 'if [ -e \(mark) ]; then sleep 1000 & exec sleep 999; else touch \(mark); exit 1; fi'
            Restart=on-failure
            RestartSec=100ms
            """)
        h.start()
        #expect(waitUntil { h.status("dl")?["processTree"]?.array?.count == 2 })
        let s = h.status("dl")
        let crashed = s?["processes"]?.array?.first { $0["command"]?.string?.hasPrefix("ExecStart=") == true }
        #expect(crashed?["text"]?.string == "code=exited, status=1/FAILURE", "the crash stays visible")
        #expect(crashed?["pid"]?.int != s?["mainPID"]?.int)
        let pres = s?["processes"]?.array?.filter { $0["command"]?.string == "ExecStartPre=/bin/true" }
        #expect(pres?.count == 1, "one line per command: its last run")
        let main = Int64(h.mainPID("dl"))
        let tree = s?["processTree"]?.array ?? []
        #expect(tree.first?["pid"]?.int == main && tree.first?["command"]?.string == "sleep 999")
        #expect(tree.last?["command"]?.string == "sleep 1000" && tree.last?["ppid"]?.int == main)
        #expect((s?["tasks"]?.int ?? 0) >= 2 && (s?["memoryBytes"]?.int ?? 0) > 0)
        let text = h.tend("status", "dl").stdout
        #expect(text.contains("(code=exited, status=1/FAILURE)\n"), "\(text)")
        #expect(text.contains("  Processes: ├─\(main) sleep 999\n             └─"), "\(text)")
        #expect(text.contains("      Tasks: ") && text.contains("     Memory: "), "\(text)")
    }

    /// A mistyped command gets systemctl's "did you mean".
    @Test func aMistypedCommandGetsDidYouMean() {
        let r = runCommand([tendBinary, "statsu", "web"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("unknown command 'statsu'. Did you mean 'status'?"), "\(r.stderr)")
        #expect(runCommand([tendBinary, "restat"]).stderr.contains("Did you mean 'restart'?"))
        #expect(!runCommand([tendBinary, "xyzzy"]).stderr.contains("Did you mean"))
        #expect(runCommand([tendBinary, "is-active", "--help"]).status == 0)
    }

    /// A deliberate stop reads as one in the log, with systemd's lines, not as a crash.
    @Test func aDeliberateStopReadsAsOne() {
        let h = DaemonHarness()
        h.writeUnit("web.service", "[Unit]\nDescription=Web server\n[Service]\nExecStart=/bin/sleep 1000\n")
        h.start()
        #expect(h.waitFor("web", sub: "running"))
        #expect(h.tend("restart", "web").status == 0)
        #expect(h.tend("stop", "web").status == 0)
        let log = h.tend("logs", "web", "-o", "cat").stdout
        #expect(log.contains("Stopping Web server...\nDeactivated successfully.\nStarted."), "a restart: \(log)")
        #expect(log.hasSuffix("Stopping Web server...\nDeactivated successfully.\nStopped Web server.\n"), "\(log)")
        #expect(!log.contains("code=killed, signal=TERM"), "\(log)")
    }

    /// `tend daemon` warns about a unit directory that doesn't exist, and refuses a --target that names no unit.
    @Test func daemonWarnsOfAMissingUnitDirectoryAndFailsForAMissingTarget() {
        let h = DaemonHarness()
        h.writeUnit("web.service", "[Service]\nExecStart=/bin/sleep 1000\n")
        let r = runCommand([tendBinary, "daemon", "--units", h.units, "--state-dir", h.state, "--log-dir", h.logs,
                            "--target", "nosuch.target"], timeout: 20)
        #expect(r.status == 1)
        #expect(r.stderr.contains("--target nosuch.target: no such unit"), "\(r.stderr)")
        h.start(extraArgs: ["--units", h.root + "/missing"])
        #expect(waitUntil { h.daemonLog.contains("The unit directory \(h.root)/missing does not exist") }, "\(h.daemonLog)")
        #expect(h.waitFor("web", sub: "running"))
    }

    @Test func listJSONShowAndNoBlock() throws {
        let h = DaemonHarness()
        h.writeUnit("a.service", "[Unit]\nDescription=The A\n[Service]\nExecStart=/bin/sleep 1000\n")
        h.writeUnit("slow.service", "[Service]\nType=notify\nTimeoutStartSec=30\nExecStart=/bin/sleep 1000\n")
        h.start(extraArgs: ["--no-start"])
        // --no-block returns at once although the start can't finish (no READY=1 ever comes).
        let t0 = Posix.monotonicNow
        #expect(h.tend("start", "slow", "--no-block").status == 0)
        #expect(Posix.monotonicNow.usec(since: t0) < 5_000_000)
        #expect(h.sub("slow") == "start")
        #expect(h.tend("start", "a").status == 0)
        let rows = try JSON.parse(h.tend("list", "--output", "json").stdout)
        let a = rows.array?.first { $0["unit"]?.string == "a.service" }
        #expect(a?["description"]?.string == "The A")
        #expect(a?["sub"]?.string == "running")
        #expect((a?["mainPID"]?.int ?? 0) > 0)
        let show = h.tend("show", "a").stdout
        #expect(show.contains("Id=a.service\n"))
        #expect(show.contains("ActiveState=active\n"))
        #expect(show.contains("MainPID=\(a?["mainPID"]?.int ?? -1)\n"))
        let shown = try JSON.parse(h.tend("show", "a", "-p", "SubState,NRestarts", "-o", "json").stdout)
        #expect(shown.array?.first?["SubState"]?.string == "running")
        #expect(shown.array?.first?["NRestarts"]?.string == "0")
        #expect(h.tend("stop", "slow").status == 0)
    }
}

extension String {
    func components(separatedBy needle: String) -> [Substring] {
        var parts: [Substring] = []
        var rest = self[...]
        while let r = rest.firstRange(of: needle) {
            parts.append(rest[..<r.lowerBound])
            rest = rest[r.upperBound...]
        }
        parts.append(rest)
        return parts
    }
}
