import Glibc
import Testing
import TendModel
import TendSystem

/// The state directory holds the control socket, the notify sockets and the lock: a manager refuses one that
/// someone else could have prepared, and a client refuses a manager run by another user.
@Suite(.serialized)
struct StateDirectoryTests {
    func daemon(_ h: DaemonHarness, state: String) -> CommandResult {
        runCommand([tendBinary, "daemon", "--units", h.units, "--state-dir", state, "--log-dir", h.logs, "--no-start"],
                   timeout: 10)
    }

    @Test(.enabled(if: getuid() == 0, "needs root to give the directory to another user"))
    func aStateDirectoryOfAnotherUserIsRefused() {
        let h = DaemonHarness()
        let state = h.root + "/theirs"
        #expect(mkdir(state, 0o700) == 0)
        #expect(chown(state, 65534, 65534) == 0)
        let r = daemon(h, state: state)
        #expect(r.status != 0)
        #expect(r.stderr.contains("Refusing the state directory \(state): it belongs to uid 65534"), "\(r.stderr)")
        #expect(!Posix.isDirectory(state + "/notify") && access(state + "/control.sock", F_OK) != 0)
    }

    @Test func aWritableOrLinkedStateDirectoryIsRefused() {
        let h = DaemonHarness()
        let open = h.root + "/open"
        #expect(mkdir(open, 0o700) == 0)
        #expect(chmod(open, 0o777) == 0)
        let r = daemon(h, state: open)
        #expect(r.status != 0)
        #expect(r.stderr.contains("it is writable by anyone (mode 777)"), "\(r.stderr)")
        #expect(chmod(open, 0o770) == 0)
        #expect(daemon(h, state: open).stderr.contains("it is writable by its group"))

        let real = h.root + "/real"
        #expect(mkdir(real, 0o700) == 0)
        #expect(symlink(real, h.root + "/link") == 0)
        let l = daemon(h, state: h.root + "/link")
        #expect(l.status != 0)
        #expect(l.stderr.contains("it is a symbolic link"), "\(l.stderr)")
    }

    @Test func aNewStateDirectoryIsCreatedPrivateForAUserAndTraversableForRoot() {
        let h = DaemonHarness()
        h.start(extraArgs: ["--no-start"])
        var st = stat()
        #expect(lstat(h.state, &st) == 0)
        #expect(st.st_uid == geteuid())
        #expect(st.st_mode & 0o7777 == (getuid() == 0 ? 0o755 : 0o700))
    }

    @Test(.enabled(if: getuid() == 0, "needs root to run a listener as another user"))
    func aClientRefusesAManagerOfAnotherUser() throws {
        let h = DaemonHarness()
        let dir = h.root + "/fake"
        #expect(chmod(h.root, 0o711) == 0)  // the other user must reach its directory
        #expect(mkdir(dir, 0o777) == 0 && chmod(dir, 0o777) == 0)
        // A listener on control.sock run by uid 65534: it answers anything with "ok".
        let script = """
            import os, socket
            os.setgid(65534); os.setuid(65534)
            s = socket.socket(socket.AF_UNIX); s.bind("\(dir)/control.sock"); s.listen(4)
            open("\(dir)/ready", "w").close()
            while True:
                c, _ = s.accept(); c.recv(4096); c.sendall(b'{"ok":true,"units":[],"missing":[]}\\n'); c.close()
            """
        let out = h.root + "/listener.out"
        let listener = h.spawnBackground(["/usr/bin/env", "python3", "-c", script], stdout: out)
        #expect(listener > 0)
        defer {
            _ = kill(listener, SIGKILL)
            var st: Int32 = 0
            _ = waitpid(listener, &st, 0)
        }
        #expect(waitUntil(10) { access(dir + "/ready", F_OK) == 0 })
        let r = runCommand([tendBinary, "status", "--state-dir", dir])
        #expect(r.status != 0)
        #expect(r.stderr.contains("Refusing the manager at \(dir)/control.sock: it runs as uid 65534"), "\(r.stderr)")
    }
}

extension StateDirectoryTests {
    /// A second manager on the same units refuses, whatever state directory it is given: also the same path
    /// recreated after someone removed it under the running manager.
    @Test func aSecondManagerOnTheSameUnitsRefuses() {
        let h = DaemonHarness()
        h.writeUnit("once.service", "[Service]\nExecStart=/bin/sleep 1000\n")
        h.start()
        #expect(h.waitFor("once", sub: "running"))
        let other = daemon(h, state: h.root + "/other-state")
        #expect(other.status != 0)
        #expect(other.stderr.contains("Another tend daemon is running the units in \(h.units)"), "\(other.stderr)")
        _ = runCommand(["/bin/rm", "-rf", h.state])
        let again = daemon(h, state: h.state)
        #expect(again.status != 0)
        #expect(again.stderr.contains("Another tend daemon is running the units in"), "\(again.stderr)")
    }
}
