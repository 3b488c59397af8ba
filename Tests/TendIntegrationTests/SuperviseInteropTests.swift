import Glibc
import Testing
import TendModel
import TendSystem

/// The supervise/ records tend's model writes, read by the real daemontools and runit tools. The test process
/// plays the supervisor's part of the protocol (the FIFO readers and the status file) so that only the format
/// is under test here.
struct SuperviseInteropTests {
    /// A service directory with supervise/{ok,control} FIFOs held open for reading, as a supervisor holds them.
    final class FakeSupervised {
        let dir: String
        var readers: [Int32] = []

        init(down: Bool = false) {
            var template = Array("/tmp/tend-sv-XXXXXX".utf8CString)
            dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
            try? Posix.mkdirs(dir + "/supervise", mode: 0o700)
            for fifo in ["ok", "control"] {
                _ = mkfifo(dir + "/supervise/" + fifo, 0o600)
                readers.append(open(dir + "/supervise/" + fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC))
            }
            if down { _ = creat(dir + "/down", 0o644) }
        }

        func write(_ status: SuperviseStatus) {
            let path = dir + "/supervise/status"
            let fd = open(path + ".new", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            _ = try? Posix.write(fd, status.bytes)
            Posix.close(fd)
            _ = rename(path + ".new", path)
        }

        func release() {
            for fd in readers { Posix.close(fd) }
            readers = []
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
        let s = FakeSupervised()
        s.write(SuperviseStatus(since: Self.now, pid: getpid(), want: .up, state: .run))
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
        let s = FakeSupervised(down: true)
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
    func svcWritesLettersOurParserAccepts() {
        let s = FakeSupervised()
        let r = runCommand(["/usr/bin/svc", "-udopchaitkx", s.dir])
        #expect(r.status == 0, "\(r.stderr)")
        var buf = [UInt8](repeating: 0, count: 64)
        let n = read(s.readers[1], &buf, buf.count)
        let letters = Array(buf[0..<max(0, n)])
        #expect(letters == Array("udopchaitkx".utf8))
        #expect(letters.allSatisfy { SuperviseCommand(letter: $0) != nil })
    }
}
