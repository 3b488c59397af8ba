import Glibc
import Testing
import TendModel
import TendSystem
import TendEngine

/// tend's supervise/ (`SuperviseDirectory`: lock, FIFOs, status files) against the real daemontools and runit
/// tools: what they read from it, what they write into it, and the lock they fight over.
struct SuperviseInteropTests {
    /// A service directory whose supervise/ is held by `SuperviseDirectory`, as tend will hold it.
    final class Supervised {
        let dir: String
        var held: SuperviseDirectory?

        init(down: Bool = false) {
            var template = Array("/tmp/tend-sv-XXXXXX".utf8CString)
            dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
            let run = dir + "/run"
            let fd = creat(run, 0o755)
            _ = try? Posix.write(fd, Array("#!/bin/sh\nexec sleep 30\n".utf8))
            Posix.close(fd)
            if down { _ = creat(dir + "/down", 0o644) }
        }

        func take() throws(SuperviseDirectory.Refusal) { held = try SuperviseDirectory(serviceDirectory: dir) }

        func write(_ status: SuperviseStatus) { #expect(held?.write(status) == nil) }

        func release() {
            held?.close()
            held = nil
        }

        deinit {
            release()
            _ = runCommand(["/bin/rm", "-rf", dir])
        }
    }

    static var now: TAI64N {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return TAI64N(unixSeconds: Int64(ts.tv_sec) - 5, nanoseconds: UInt32(ts.tv_nsec))
    }

    @Test(.enabled(if: Posix.isExecutable("/usr/bin/svstat"), "needs daemontools' svstat and svok (installed by .ci/run)"))
    func svstatAndSvokReadOurStatus() {
        let s = Supervised()
        #expect(runCommand(["/usr/bin/svok", s.dir]).status == 100)
        #expect(throws: Never.self) { try s.take() }
        s.write(SuperviseStatus(since: Self.now, pid: getpid(), want: .up, state: .run))
        #expect(String(decoding: Posix.readFile(s.dir + "/supervise/pid") ?? [], as: UTF8.self) == "\(getpid())\n")
        #expect(String(decoding: Posix.readFile(s.dir + "/supervise/stat") ?? [], as: UTF8.self) == "run\n")
        let up = runCommand(["/usr/bin/svstat", s.dir])
        #expect(up.stdout.hasPrefix("\(s.dir): up (pid \(getpid())) "), "\(up.stdout)")
        #expect(up.stdout.contains(" seconds"))
        #expect(runCommand(["/usr/bin/svok", s.dir]).status == 0)

        s.write(SuperviseStatus(since: Self.now, pid: getpid(), paused: true, want: .down, state: .run))
        let paused = runCommand(["/usr/bin/svstat", s.dir])
        #expect(paused.stdout.contains("paused") && paused.stdout.contains("want down"), "\(paused.stdout)")

        s.release()
        let gone = runCommand(["/usr/bin/svstat", s.dir])
        #expect(gone.stdout.contains("supervise not running"), "\(gone.stdout) \(gone.stderr)")
        #expect(runCommand(["/usr/bin/svok", s.dir]).status == 100)
    }

    @Test(.enabled(if: Posix.isExecutable("/usr/bin/sv"), "needs runit's sv (installed by .ci/run)"))
    func runitSvReadsOurStatus() {
        let s = Supervised(down: true)
        #expect(throws: Never.self) { try s.take() }
        s.write(SuperviseStatus(since: Self.now, pid: getpid(), want: .up, state: .run))
        let run = runCommand(["/usr/bin/sv", "status", s.dir])
        // `run: DIR: (pid N) 5s, normally down`
        #expect(run.stdout.hasPrefix("run: \(s.dir): (pid \(getpid())) "), "\(run.stdout)")
        #expect(run.stdout.contains("normally down"))
        s.write(SuperviseStatus(since: Self.now, want: .up, state: .down))
        let down = runCommand(["/usr/bin/sv", "status", s.dir])
        #expect(down.stdout.hasPrefix("down: \(s.dir): "), "\(down.stdout)")
        #expect(down.stdout.contains("want up"))
        s.release()
        let gone = runCommand(["/usr/bin/sv", "status", s.dir])
        // runit's wording: `fail: DIR: runsv not running`, and sv exits with the number of failed services.
        #expect(gone.stdout.contains("fail: \(s.dir): runsv not running"), "\(gone.stdout) \(gone.stderr)")
        #expect(gone.status == 1)
    }

    @Test(.enabled(if: Posix.isExecutable("/usr/bin/svc"), "needs daemontools' svc (installed by .ci/run)"))
    func svcLettersAreReadAndGarbageIsReported() throws {
        let s = Supervised()
        try s.take()
        let r = runCommand(["/usr/bin/svc", "-udopchaitkx", s.dir])
        #expect(r.status == 0, "\(r.stderr)")
        let fd = open(s.dir + "/supervise/control", O_WRONLY | O_NONBLOCK)
        _ = try? Posix.write(fd, Array("Z\n".utf8))
        Posix.close(fd)
        let read = s.held!.readCommands()
        #expect(read.commands.map(\.letter) == Array("udopchaitkx".utf8))
        #expect(read.commands.map(\.command).prefix(4) == [.up, .down, .once, .signal(SIGSTOP)])
        #expect(read.garbage == ["\(s.dir): ignored byte 0x5a written to supervise/control",
                                 "\(s.dir): ignored byte 0xa written to supervise/control"])
        #expect(s.held!.readCommands().commands.isEmpty)  // drained, and no end-of-file: tend holds a writer
    }

    @Test(.enabled(if: Posix.isExecutable("/usr/bin/supervise"), "needs daemontools' supervise (installed by .ci/run)"))
    func aLiveSuperviseIsRefusedAndADeadOnesLockIsTakenOver() throws {
        let s = Supervised()
        // A real supervise on the directory first: tend must refuse the directory while it lives.
        guard let (pid, pidfd) = spawnProcess(["/usr/bin/supervise", s.dir], environment: Posix.environment(),
                                              stdio: [-1, -1, -1], newSession: true) else {
            Issue.record("could not start supervise")
            return
        }
        defer { Posix.close(pidfd) }
        #expect(waitUntil(15) { runCommand(["/usr/bin/svok", s.dir]).status == 0 })
        #expect(throws: SuperviseDirectory.Refusal.locked(s.dir)) { try s.take() }
        #expect(SuperviseDirectory.Refusal.locked(s.dir).description.contains("held by another supervisor"))
        _ = kill(-pid, SIGKILL)  // supervise and its ./run, one process group
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // Its supervise/ is left behind with a stale lock: taken over (once its ./run, killed with it, is gone
        // too: a child may hold the lock's descriptor for the moment its SIGKILL takes).
        #expect(waitUntil(10) { (try? s.take()) != nil })
        // And now the real supervise refuses the directory tend holds.
        let second = runCommand(["/usr/bin/supervise", s.dir], timeout: 15)
        #expect(second.status == 111, "\(second.stderr)")
        #expect(second.stderr.contains("unable to acquire"), "\(second.stderr)")
        s.release()
        #expect(runCommand(["/usr/bin/svok", s.dir]).status == 100)
    }

    @Test func aStatusThatCannotBeWrittenIsAMessageNotACrash() throws {
        let s = Supervised()
        try s.take()
        // A directory in the way of status.new fails the write even for root (a read-only mode would not).
        #expect(mkdir(s.dir + "/supervise/status.new", 0o700) == 0)
        let message = s.held!.write(SuperviseStatus(since: Self.now, pid: 1, state: .run))
        #expect(message?.hasPrefix("\(s.dir): could not update supervise/status: open \(s.dir)/supervise/status.new: ") == true,
                "\(message ?? "nil")")
        // The lock and FIFOs are untouched: clients still see a supervisor.
        let ok = open(s.dir + "/supervise/ok", O_WRONLY | O_NONBLOCK)
        #expect(ok >= 0)
        if ok >= 0 { Posix.close(ok) }
    }
}
