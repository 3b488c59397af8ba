import Glibc
import Testing
import TendControl
import TendSystem
import TendModel

/// CMD mode: `tend daemon --units DIR -- CMD ARGS...` runs the command once the launch is over and exits with
/// its status, as tini and s6-overlay do for a container's single main process.
@Suite struct CommandModeTests {
    func gate(_ go: String) -> String { "while [ ! -e \(go) ]; do sleep 0.02; done" }

    @Test func theCommandRunsAfterTheLaunchAndItsStatusIsTheManagers() {
        let h = DaemonHarness()
        let go = h.root + "/go", setup = h.root + "/setup"
        h.writeUnit("setup.service", "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/sh -c 'sleep 0.2; touch \(setup)'\n")
        h.writeUnit("app.service", "[Service]\nExecStart=/bin/sleep 1000\n")
        h.start(extraArgs: ["--", "sh", "-c", "echo \"the command's $1 %n\"; \(gate(go)); [ -e \(setup) ] && exit 7; exit 9", "sh", "output"])
        #expect(waitUntil { h.active("tend-cmd") == "active" })
        #expect(h.active("setup") == "active", "started only once the launch was over")
        h.writeFile(go, "")
        #expect(h.waitExit(timeout: 15) == 7)
        // The daemon's stdout here is a file written at an offset, not shareable: the output is in the command's log.
        #expect(h.readFile(h.logs + "/tend-cmd.service/current").contains("the command's output %n"), "its words as given")
        #expect(h.readFile(h.logs + "/app.service/current").contains("Stopped app.service."))
    }

    /// The usual container: the manager's stdout is a pipe to the runtime's log, and the command writes into it.
    @Test func theCommandWritesToTheManagersStdoutPipe() {
        let h = DaemonHarness()
        h.writeUnit("app.service", "[Service]\nExecStart=/bin/sleep 1000\n")
        let r = runCommand([tendBinary, "daemon", "--units", h.units, "--state-dir", h.state, "--log-dir", h.logs,
                            "--", "/bin/sh", "-c", "echo to-the-pipe; exit 3"], timeout: 20)
        #expect(r.status == 3, "\(r.stderr)")
        #expect(r.stdout == "to-the-pipe\n")
    }

    @Test func aCommandKilledBySignalNEndsTheManagerWith128PlusN() {
        let h = DaemonHarness()
        h.start(extraArgs: ["--", "/bin/sleep", "1000"])
        #expect(waitUntil { h.sub("tend-cmd") == "running" })
        #expect(kill(h.mainPID("tend-cmd"), SIGKILL) == 0)
        #expect(h.waitExit(timeout: 15) == 137)
    }

    @Test func sigtermStopsTheCommandFirstAndForwardedSignalsReachIt() {
        let h = DaemonHarness()
        let order = h.root + "/order"
        h.writeUnit("db.service", "[Service]\nExecStart=/bin/sleep 1000\nExecStopPost=/bin/sh -c 'echo db >> \(order)'\n")
        h.start(extraArgs: ["--forward-signals", "--",
                            "/bin/sh", "-c", "trap 'echo hup >> \(order)' HUP; trap 'echo cmd >> \(order); exit 0' TERM; while true; do sleep 0.02; done"])
        #expect(waitUntil { h.sub("tend-cmd") == "running" })
        #expect(kill(h.pid, SIGHUP) == 0, "to the holder, which passes it on; the manager gives it to the command")
        #expect(waitUntil { h.readFile(order) == "hup\n" })
        #expect(h.stop() == 0)
        #expect(h.readFile(order) == "hup\ncmd\ndb\n")
    }

    @Test func aLaunchThatDoesNotFinishGivesTheCommandUp() {
        let h = DaemonHarness()
        let marker = h.root + "/ran"
        h.writeUnit("stuck.service", "[Service]\nType=oneshot\nExecStart=/bin/sleep 1000\n")
        h.start(extraArgs: ["--command-timeout", "1s", "--", "/bin/touch", marker])
        #expect(h.waitExit(timeout: 15) == 1)
        #expect(h.daemonLog.contains("The launch did not finish within 1s: not running the command."))
        #expect(access(marker, F_OK) != 0)
    }

    /// A restricted pod: not root, a read-only file system but for the mounts given; a log directory that can't
    /// be written is refused at start, naming it.
    @Test(.enabled(if: getuid() == 0 && access("/usr/bin/setpriv", X_OK) == 0, "needs root and setpriv(1) to run the daemon as nobody"))
    func anUnwritableLogDirectoryIsAClearError() {
        let h = DaemonHarness()
        let ro = h.root + "/ro"
        try? Posix.mkdirs(ro)
        _ = chmod(ro, 0o555)
        _ = chmod(h.root, 0o755)
        let state = h.root + "/nobody-state"
        try? Posix.mkdirs(state, mode: 0o700)
        _ = chown(state, 65534, 65534)
        let r = runCommand(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", tendBinary, "daemon",
                            "--units", h.units, "--state-dir", state, "--log-dir", ro + "/logs"],
                           environment: ["TEND_NO_HOLDER": "1"], timeout: 20)
        #expect(r.status == 1)
        #expect(r.stderr.contains("Cannot create the log directory \(ro)/logs"), "\(r.stderr)")
    }

    @Test func aCommandNotFoundIsAClearError() {
        let r = runCommand([tendBinary, "daemon", "--state-dir", "/nonexistent-dir-for-tend-test/state", "--", "no-such-program-xyz"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("The command no-such-program-xyz was not found in PATH"), "\(r.stderr)")
        let r2 = runCommand([tendBinary, "daemon", "--state-dir", "/nonexistent-dir-for-tend-test/state", "--forward-signals"])
        #expect(r2.status == 2 && r2.stderr.contains("need a command after --"), "\(r2.stderr)")
    }
}
