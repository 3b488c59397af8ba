import Glibc
import Testing
import TendControl
import TendSystem

/// The probes a container orchestrator runs: `tend is-system-running`, `is-active`, `is-failed`, with
/// systemctl's words and exit statuses.
@Suite struct ContainerProbeTests {
    @Test func isSystemRunningFollowsTheLaunchFailuresAndShutdown() {
        let h = DaemonHarness()
        let go = h.root + "/go"
        h.writeUnit("setup.service", "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'while [ ! -e \(go) ]; do sleep 0.02; done'\n")
        h.writeUnit("app.service", "[Unit]\nAfter=setup.service\n[Service]\nExecStart=/bin/sh -c 'trap \"\" TERM; exec sleep 1000'\n")
        h.writeUnit("broken.service", "[Service]\nExecStart=/bin/false\n")
        h.start(extraArgs: ["--no-start", "--shutdown-timeout", "30s"])
        // --no-start: nothing to launch, so running at once.
        var r = h.tend("is-system-running")
        #expect(r.status == 0 && r.stdout == "running\n", "\(r)")
        h.stop()

        h.start(extraArgs: ["--shutdown-timeout", "30s"])
        r = h.tend("is-system-running")
        #expect(r.status == 1 && r.stdout == "starting\n", "the oneshot holds the launch: \(r)")
        #expect(h.tend("is-active", "setup").stdout == "activating\n")
        h.writeFile(go, "")
        // broken.service fails at launch: degraded once the launch is over.
        #expect(waitUntil { h.tend("is-system-running").stdout == "degraded\n" })
        r = h.tend("is-system-running", "--quiet")
        #expect(r.status == 1 && r.stdout.isEmpty)
        #expect(h.tend("is-failed", "broken").status == 0)
        #expect(h.tend("is-failed", "--quiet", "app").status == 1)
        r = h.tend("is-active", "--quiet", "app", "broken")
        #expect(r.status == 0 && r.stdout.isEmpty, "one active is enough")
        #expect(h.tend("is-active", "broken").status == 3)
        #expect(h.tend("reset-failed").status == 0)
        r = h.tend("is-system-running", "-o", "json")
        #expect(r.status == 0 && (try? JSON.parse(r.stdout))?["systemState"]?.string == "running", "\(r)")
        // app ignores SIGTERM: the shutdown waits for it (30 s bound), and meanwhile the state is stopping.
        #expect(kill(h.managerPID, SIGTERM) == 0)
        #expect(waitUntil { h.tend("is-system-running").stdout == "stopping\n" })
        #expect(h.tend("kill", "--signal", "KILL", "app").status == 0)
        #expect(h.waitExit(timeout: 10) == 0)
        r = h.tend("is-system-running")
        #expect(r.status == 1 && r.stdout == "offline\n")
    }
}
