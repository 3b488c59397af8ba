import CTend
import Glibc
import Testing
import TendControl
import TendModel
import TendSystem
import TendEngine

/// What a command printed and how it ended.
struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// The built `tend` binary: next to the test bundle, or `TEND_BIN`.
let tendBinary: String = {
    if let b = Posix.environment()["TEND_BIN"] { return b }
    var buf = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buf, buf.count - 1)
    var dir = n > 0 ? String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "."
    // .build/debug/tendPackageTests.xctest (a file) or .../Contents/MacOS/... : walk up to the bin dir.
    while !dir.isEmpty {
        dir = String(dir[..<(dir.lastIndex(of: "/") ?? dir.startIndex)])
        if Posix.isExecutable(dir + "/tend") { return dir + "/tend" }
    }
    return "tend"
}()

/// Runs a program to completion with a hard time limit, capturing its output. Only the pid it started is
/// reaped, never any other child of the test process.
func runCommand(_ argv: [String], environment: [String: String] = [:], timeout: Double = 30) -> CommandResult {
    var outPipe: [Int32] = [-1, -1]
    var errPipe: [Int32] = [-1, -1]
    _ = ctend_pipe(&outPipe, 1)
    _ = ctend_pipe(&errPipe, 1)
    var env = Posix.environment()
    for (k, v) in environment { env[k] = v }
    guard let (pid, pidfd) = spawnProcess(argv, environment: env, stdio: [-1, outPipe[1], errPipe[1]], newSession: true)
    else {
        Posix.close(outPipe[1])
        Posix.close(errPipe[1])
        return CommandResult(status: -1, stdout: "", stderr: "spawn failed")
    }
    Posix.close(outPipe[1])
    Posix.close(errPipe[1])
    defer {
        Posix.close(outPipe[0])
        Posix.close(errPipe[0])
        if pidfd >= 0 { Posix.close(pidfd) }
    }
    var out: [UInt8] = []
    var errOut: [UInt8] = []
    let deadline = Posix.monotonicNow + TimeSpan(usec: UInt64(timeout * 1_000_000))
    var openFDs: [Int32] = [outPipe[0], errPipe[0]]
    var buf = [UInt8](repeating: 0, count: 65536)
    while !openFDs.isEmpty {
        var pfds = openFDs.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        let left = Int32(max(0, Int64(deadline.ns) - Int64(Posix.monotonicNow.ns)) / 1_000_000)
        if left == 0 {
            _ = kill(pid, SIGKILL)
            break
        }
        _ = poll(&pfds, nfds_t(pfds.count), left)
        for p in pfds where p.revents != 0 {
            let got: Int? = buf.withUnsafeMutableBytes { b -> Int? in
                do { return try Posix.read(p.fd, into: b) } catch { return 0 }
            }
            guard let n = got else { continue }  // EAGAIN
            if n == 0 {
                openFDs.removeAll { $0 == p.fd }
            } else if p.fd == outPipe[0] {
                out += buf[0..<n]
            } else {
                errOut += buf[0..<n]
            }
        }
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return CommandResult(status: code, stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: errOut, as: UTF8.self))
}

/// Starts a program (the C spawner: no Foundation.Process, which reaps children of its own); the caller reaps
/// the pid. `stdio` are descriptors for 0, 1, 2 (-1: /dev/null).
func spawnProcess(_ argv: [String], environment: [String: String], stdio: [Int32], newSession: Bool = false)
    -> (pid: Int32, pidfd: Int32)?
{
    var pid: pid_t = 0
    var pidfd: Int32 = -1
    var stage: Int32 = 0
    var err: Int32 = 0
    let envList = environment.map { "\($0.key)=\($0.value)" }
    let rc = withCStringArray(argv) { a in
        withCStringArray(envList) { e in
            argv[0].withCString { path in
                stdio.withUnsafeBufferPointer { fdp in
                    var attr = ctend_spawn_attr()
                    attr.path = path
                    attr.argv = a
                    attr.envp = e
                    attr.fd_map = fdp.baseAddress
                    attr.fd_count = Int32(stdio.count)
                    attr.umask = -1
                    attr.new_session = newSession ? 1 : 0
                    return ctend_spawn(&attr, &pid, &pidfd, &stage, &err)
                }
            }
        }
    }
    guard rc == 0 && stage == 0 else { return nil }
    return (pid, pidfd)
}

func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    let ptrs: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) } + [nil]
    defer { for p in ptrs { free(p) } }
    return ptrs.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes. Waiting on an observable condition with a
/// hard bound, not a sleep standing in for synchronisation.
@discardableResult
func waitUntil(_ timeout: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = Posix.monotonicNow + TimeSpan(usec: UInt64(timeout * 1_000_000))
    while Posix.monotonicNow < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

func processExists(_ pid: Int32) -> Bool {
    guard let info = ProcessTable.stat(pid) else { return false }
    return info.state != "Z"
}

/// A real `tend daemon` in a private temporary directory, with its own units. Stopped (and reaped) at the end.
final class DaemonHarness {
    let root: String
    var units: String { root + "/units" }
    var state: String { root + "/state" }
    var logs: String { root + "/logs" }
    private(set) var pid: Int32 = 0
    /// The manager's pid when it came up (see `currentManagerPID`).
    private(set) var managerPID: Int32 = 0
    private var pidfd: Int32 = -1
    private var stderrPath: String { root + "/daemon.stderr" }

    /// `base`: where the test's directory goes (a service with `PrivateTmp=` sees none of the host's /tmp).
    init(base: String = "/tmp") {
        var template = Array((base + "/tend-test-XXXXXX").utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        root = p.map { String(cString: $0) } ?? "/tmp/tend-test-fallback-\(getpid())"
        try? Posix.mkdirs(units)
    }

    deinit {
        stop()
        _ = runCommand(["/bin/rm", "-rf", root])
    }

    func writeUnit(_ name: String, _ text: String) {
        writeFile(units + "/" + name, text)
    }

    func writeFile(_ path: String, _ text: String, mode: mode_t = 0o644) {
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        precondition(fd >= 0, "cannot write \(path)")
        _ = try? Posix.write(fd, Array(text.utf8))
        Posix.close(fd)
    }

    func readFile(_ path: String) -> String {
        Posix.readFile(path).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    /// Starts the daemon and waits (bounded) until its control socket answers.
    func start(extraArgs: [String] = [], wrapper: [String] = []) {
        let argv = wrapper + [tendBinary, "daemon", "--units", units, "--state-dir", state, "--log-dir", logs] + extraArgs
        let errFD = Glibc.open(stderrPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        defer { Posix.close(errFD) }
        guard let started = spawnProcess(argv, environment: Posix.environment(), stdio: [-1, errFD, errFD], newSession: true)
        else { preconditionFailure("cannot start \(tendBinary)") }
        (pid, pidfd) = started
        let up = waitUntil(10) { tend("list").status == 0 }
        precondition(up, "tend daemon did not come up: \(readFile(stderrPath))")
        managerPID = currentManagerPID() ?? pid
    }

    /// The manager's pid as it answers `ping` (`pid` is the process started, which stays as the holder and runs
    /// the manager as its child), or nil if none answers.
    func currentManagerPID() -> Int32? {
        (try? ControlClient.call(stateDir: state, .ping, as: PingReply.self))?.pid
    }

    /// Starts a program in the background with stdout to a file; the caller ends and reaps it.
    func spawnBackground(_ argv: [String], stdout path: String) -> Int32 {
        let outFD = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        defer { Posix.close(outFD) }
        let env = Posix.environment().merging(["TEND_STATE_DIR": state]) { $1 }
        guard let (pid, pidfd) = spawnProcess(argv, environment: env, stdio: [-1, outFD, -1]) else { return -1 }
        if pidfd >= 0 { Posix.close(pidfd) }
        return pid
    }

    /// The daemon's stderr so far.
    var daemonLog: String { readFile(stderrPath) }

    /// Runs `tend ARGS --state-dir STATE`.
    @discardableResult
    func tend(_ args: String...) -> CommandResult { tend(args) }

    @discardableResult
    func tend(_ args: [String], timeout: Double = 30) -> CommandResult {
        runCommand([tendBinary] + args, environment: ["TEND_STATE_DIR": state], timeout: timeout)
    }

    /// A unit's status as JSON.
    func status(_ unit: String) -> JSON? {
        let r = tend(["status", unit, "--output", "json", "-n", "0"])
        guard let json = try? JSON.parse(r.stdout), let first = json.array?.first else { return nil }
        return first
    }

    func sub(_ unit: String) -> String { status(unit)?["sub"]?.string ?? "?" }
    func active(_ unit: String) -> String { status(unit)?["active"]?.string ?? "?" }
    func mainPID(_ unit: String) -> Int32 { Int32(status(unit)?["mainPID"]?.int ?? 0) }

    /// Waits until the unit's sub-state is `sub`.
    @discardableResult
    func waitFor(_ unit: String, sub: String, timeout: Double = 10) -> Bool {
        waitUntil(timeout) { self.sub(unit) == sub }
    }

    /// Waits (bounded) for the daemon to exit by itself, without signalling it; returns its exit status, or nil
    /// if it still runs after `timeout`.
    func waitExit(timeout: Double = 15) -> Int32? {
        guard pid > 0 else { return nil }
        var status: Int32 = 0
        guard waitUntil(timeout, { waitpid(self.pid, &status, WNOHANG) == self.pid }) else { return nil }
        if pidfd >= 0 { Posix.close(pidfd) }
        pidfd = -1
        pid = 0
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// SIGTERM to the daemon and a bounded wait for its exit; returns its exit status.
    @discardableResult
    func stop(timeout: Double = 15) -> Int32? {
        guard pid > 0 else { return nil }
        _ = kill(pid, SIGTERM)
        var status: Int32 = 0
        var result: Int32?
        let ok = waitUntil(timeout) {
            let r = waitpid(self.pid, &status, WNOHANG)
            return r == self.pid
        }
        if ok {
            result = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        } else {
            _ = kill(pid, SIGKILL)
            _ = waitpid(pid, &status, 0)
        }
        if pidfd >= 0 { Posix.close(pidfd) }
        pidfd = -1
        pid = 0
        return result
    }
}
