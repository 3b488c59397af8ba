import Glibc
import Testing
import TendControl
import TendModel
import TendSystem

/// `tend daemon` as a container's init: PID 1 of a new PID namespace (`unshare --pid --fork --mount-proc`, which
/// needs root), or `--init` outside one. Orphans are reaped, SIGTERM stops everything in the reverse of the start
/// order within `--shutdown-timeout`, what ignores SIGTERM is killed at that bound, and `FailureAction=exit`
/// ends the manager with its status.
@Suite struct ContainerInitTests {
    static let canUnshare = getuid() == 0 && access("/usr/bin/unshare", X_OK) == 0
    static let namespace = ["/usr/bin/unshare", "--pid", "--fork", "--mount-proc", "--kill-child=SIGKILL"]

    /// Every process under `root` (host pids), itself excluded.
    func descendants(of root: Int32) -> [ProcessInfo] {
        let all = ProcessTable.scan()
        var found: [ProcessInfo] = []
        var frontier: Set<Int32> = [root]
        while !frontier.isEmpty {
            let next = all.filter { frontier.contains($0.ppid) }
            found += next
            frontier = Set(next.map(\.pid))
        }
        return found
    }

    func elapsed(since start: MonotonicInstant) -> Double { Double(Posix.monotonicNow.usec(since: start)) / 1e6 }

    /// What a container runtime does to stop a container: SIGTERM to its init (the holder, PID 1 inside; unshare
    /// itself only waits for it), then the exit status, which unshare passes on.
    func stopContainer(_ h: DaemonHarness, timeout: Double = 15) -> Int32? {
        guard let holder = ProcessTable.scan().first(where: { $0.ppid == h.pid && $0.comm == "tend-holder" }) else {
            Issue.record("no init in the namespace")
            return nil
        }
        _ = kill(holder.pid, SIGTERM)
        return h.waitExit(timeout: timeout)
    }

    /// A shell command that waits for the file `go` before going on.
    func gate(_ go: String) -> String { "while [ ! -e \(go) ]; do sleep 0.02; done" }

    @Test(.enabled(if: canUnshare, "needs root and unshare(1) for a PID namespace"))
    func asPID1OrphansOfServicesAreReaped() {
        let h = DaemonHarness()
        let marker = h.root + "/forked"
        // Three orphans through a subshell, one in a session of its own that escapes the unit, all short-lived.
        h.writeUnit("forker.service", """
            [Service]
            ExecStart=/bin/sh -c 'for i in 1 2 3; do (sleep 0.2 &) ; done; setsid sh -c "sleep 0.3 &"; touch \(marker); exec sleep 1000'

            """)
        h.start(wrapper: Self.namespace)
        #expect(h.waitFor("forker", sub: "running"))
        #expect(waitUntil { access(marker, F_OK) == 0 })
        // Once the orphans are gone, what is left under the namespace's init is the manager and the service:
        // no zombie (Z) and no short sleep.
        let settled = waitUntil(10) {
            let d = descendants(of: h.pid)
            return !d.contains { $0.state == "Z" } && d.filter { $0.comm == "sleep" }.count == 1
        }
        #expect(settled, "\(descendants(of: h.pid).map { "\($0.pid) \($0.comm) \($0.state)" })")
        #expect(stopContainer(h) == 0)
    }

    /// Three units ordered a → b → c stop c, b, a on SIGTERM to the init, and the manager exits 0 well within
    /// the bound.
    @Test(.enabled(if: canUnshare, "needs root and unshare(1) for a PID namespace"))
    func asPID1SIGTERMStopsInReverseOrderAndExitsZero() {
        let h = DaemonHarness()
        let order = h.root + "/order"
        for (name, after) in [("a", ""), ("b", "After=a.service\n"), ("c", "After=b.service\n")] {
            h.writeUnit("\(name).service", """
                [Unit]
                \(after)
                [Service]
                ExecStart=/bin/sleep 1000
                ExecStopPost=/bin/sh -c 'echo \(name) >> \(order)'

                """)
        }
        h.start(extraArgs: ["--shutdown-timeout", "5s"], wrapper: Self.namespace)
        for n in ["a", "b", "c"] { #expect(h.waitFor(n, sub: "running")) }
        let start = Posix.monotonicNow
        #expect(stopContainer(h) == 0)
        #expect(elapsed(since: start) < 5)
        #expect(h.readFile(order) == "c\nb\na\n")
    }

    @Test(.enabled(if: canUnshare, "needs root and unshare(1) for a PID namespace"))
    func asPID1FailureActionExitEndsTheManagerWithItsStatus() {
        let h = DaemonHarness()
        let go = h.root + "/go"
        h.writeUnit("long.service", "[Service]\nExecStart=/bin/sleep 1000\n")
        h.writeUnit("job.service", """
            [Unit]
            FailureAction=exit
            FailureActionExitStatus=75
            After=long.service
            [Service]
            ExecStart=/bin/sh -c '\(gate(go)); exit 3'

            """)
        h.start(wrapper: Self.namespace)
        #expect(h.waitFor("long", sub: "running"))
        h.writeFile(go, "")
        #expect(h.waitExit(timeout: 15) == 75)
        #expect(h.daemonLog.contains("job.service: unit failed: stopping every unit and exiting with status 75."))
        #expect(h.readFile(h.logs + "/long.service/current").contains("Stopped long.service."))
    }

    @Test(.enabled(if: canUnshare, "needs root and unshare(1) for a PID namespace"))
    func asPID1AServiceIgnoringSIGTERMIsKilledAtTheShutdownTimeout() {
        let h = DaemonHarness()
        h.writeUnit("stubborn.service", "[Service]\nExecStart=/bin/sh -c 'trap \"\" TERM; exec sleep 1000'\nTimeoutStopSec=60s\n")
        h.writeUnit("polite.service", "[Service]\nExecStart=/bin/sleep 1000\n")
        h.start(extraArgs: ["--shutdown-timeout", "1s"], wrapper: Self.namespace)
        #expect(h.waitFor("stubborn", sub: "running"))
        #expect(h.waitFor("polite", sub: "running"))
        let start = Posix.monotonicNow
        #expect(stopContainer(h, timeout: 10) == 124, "the status says the bound had to kill")
        let took = elapsed(since: start)
        #expect(took >= 0.9 && took < 4, "killed at the bound: \(took) s")
        #expect(h.daemonLog.contains("The shutdown timeout (1s) passed: killing stubborn.service."))
    }

    /// The end of a run of fast failures, with no script: the start limit fails the unit, FailureAction= ends
    /// the manager. No namespace needed.
    @Test func afterFastFailuresTheStartLimitEndsTheManagerWith75() {
        let h = DaemonHarness()
        let go = h.root + "/go"
        h.writeUnit("flaky.service", """
            [Unit]
            StartLimitBurst=3
            StartLimitIntervalSec=30s
            FailureAction=exit
            FailureActionExitStatus=75
            [Service]
            ExecStart=/bin/sh -c '\(gate(go)); exit 1'
            Restart=always
            RestartSec=10ms

            """)
        h.start()
        h.writeFile(go, "")
        #expect(h.waitExit(timeout: 15) == 75)
        #expect(h.daemonLog.contains("flaky.service: unit failed"))
    }

    @Test func withoutAStatusTheMainProcessExitCodeIsPassedOn() {
        let h = DaemonHarness()
        let go = h.root + "/go"
        h.writeUnit("main.service", "[Unit]\nFailureAction=exit\n[Service]\nExecStart=/bin/sh -c '\(gate(go)); exit 9'\n")
        h.start()
        h.writeFile(go, "")
        #expect(h.waitExit(timeout: 15) == 9)
    }

    /// `SuccessAction=exit-force` ends the manager at once: the unit that ignores SIGTERM doesn't hold it up.
    @Test func successActionExitForceKillsAtOnce() {
        let h = DaemonHarness()
        let go = h.root + "/go"
        h.writeUnit("stubborn.service", "[Service]\nExecStart=/bin/sh -c 'trap \"\" TERM; exec sleep 1000'\nTimeoutStopSec=60s\n")
        h.writeUnit("done.service", """
            [Unit]
            SuccessAction=exit-force
            SuccessActionExitStatus=4
            [Service]
            Type=oneshot
            ExecStart=/bin/sh -c '\(gate(go))'

            """)
        h.start()
        #expect(h.waitFor("stubborn", sub: "running"))
        let stubborn = h.mainPID("stubborn")
        let start = Posix.monotonicNow
        h.writeFile(go, "")
        #expect(h.waitExit(timeout: 10) == 4)
        #expect(elapsed(since: start) < 3)
        #expect(waitUntil { !processExists(stubborn) })
    }

    /// `--init` outside a namespace: what escaped its unit (a process in a session of its own) is killed and
    /// reaped when the manager exits, as a namespace's init would leave nothing behind.
    @Test func dashDashInitLeavesNoProcessBehind() {
        let h = DaemonHarness()
        let pidFile = h.root + "/escaped"
        let script = h.root + "/escape.sh"
        h.writeFile(script, """
            setsid sh -c 'echo $$ > \(pidFile).tmp; mv \(pidFile).tmp \(pidFile); exec sleep 1000' &
            exec sleep 1000

            """)
        h.writeUnit("escaper.service", "[Service]\nExecStart=/bin/sh \(script)\n")
        h.start(extraArgs: ["--init", "--shutdown-timeout", "5s"])
        #expect(h.waitFor("escaper", sub: "running"))
        #expect(waitUntil { !h.readFile(pidFile).isEmpty })
        let escaped = Int32(h.readFile(pidFile).trimmingCharacters(in: " \n")) ?? 0
        #expect(escaped > 0 && processExists(escaped))
        #expect(h.stop() == 0)
        let gone = waitUntil(5) { ProcessTable.stat(escaped) == nil }
        #expect(gone, "killed and reaped")
        if !gone && escaped > 0 { _ = kill(escaped, SIGKILL) }
    }
}
