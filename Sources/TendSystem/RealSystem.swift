import CTend
import Glibc
import TendModel

/// `System` on Linux: the C shim, /proc and the spawner.
public final class RealSystem: System {
    private var signalFD: Int32 = -1
    public let environment: [String: String]
    public let managerPID: Int32 = getpid()

    public init() { environment = Posix.environment() }

    public var monotonicNow: MonotonicInstant { Posix.monotonicNow }
    public var realtimeMicroseconds: UInt64 { Posix.realtimeMicroseconds }
    public var isRoot: Bool { getuid() == 0 }

    public func handleSignals(_ signals: [Int32], reactor: any Reactor, _ handler: @escaping (Int32) -> Void) throws {
        var sigs = signals
        let e = ctend_block_signals(&sigs, Int32(sigs.count))
        guard e == 0 else { throw SystemError("block signals", errno: e) }
        _ = Glibc.signal(SIGPIPE, SIG_IGN)
        let fd = ctend_signalfd(&sigs, Int32(sigs.count))
        guard fd >= 0 else { throw SystemError("create signalfd", errno: -fd) }
        signalFD = fd
        try reactor.watch(fd) { _ in
            while true {
                let sig = ctend_signalfd_read(fd)
                if sig <= 0 { break }
                handler(sig)
            }
        }
    }

    public func becomeSubreaper() -> Bool { ctend_set_child_subreaper() == 0 }

    public func makeDirectories(_ path: String, mode: UInt32) throws { try Posix.mkdirs(path, mode: mode_t(mode)) }

    public func spawn(_ request: SpawnRequest) throws -> (process: SpawnedProcess, setupError: String?) {
        let (p, e) = try Spawner.spawn(request)
        return (p, e)
    }

    public func limitNotes(_ config: ServiceConfig) -> [String] {
        Spawner.limitNotes(config) + SandboxPlan(config.sandbox, SandboxProbe.current).notApplied + CgroupRoot.limitNotes(config)
    }
    public func cgroupMembers(_ unit: String) -> [Int32]? { CgroupRoot.current?.members(unit) }
    public func cgroupKill(_ unit: String) -> Bool { CgroupRoot.current?.kill(unit) ?? false }
    public func cgroupOOMKills(_ unit: String) -> UInt64? { CgroupRoot.current?.oomKills(unit) }
    public var cgroupDirectory: String? { CgroupRoot.current?.directory }
    public var sandboxEnvironment: SandboxEnvironment { SandboxProbe.current }
    public func serviceStopped(_ config: ServiceConfig, privateDirectory: String?, restarting: Bool) {
        ExecDirectories.removeAfterStop(config.sandbox, restarting: restarting)
        if let privateDirectory { ExecDirectories.removeTree(privateDirectory) }
        if !restarting { CgroupRoot.current?.remove(config.name.description) }
    }

    public func reapChild() -> (pid: Int32, cause: ExitCause)? {
        var pid: pid_t = 0
        var code: Int32 = 0
        var status: Int32 = 0
        guard ctend_reap_any(&pid, &code, &status) == 1 else { return nil }
        switch code {
        case 1: return (pid, .exited(status))  // CLD_EXITED
        case 3: return (pid, .dumped(status))  // CLD_DUMPED
        default: return (pid, .killed(status))
        }
    }

    public func openPidfd(_ pid: Int32) -> Int32 { ctend_pidfd_open(pid) }
    public func signal(pidfd: Int32, _ signal: Int32) { _ = ctend_pidfd_send_signal(pidfd, signal) }
    public func signal(pid: Int32, _ signal: Int32) { _ = Glibc.kill(pid, signal) }
    public func close(_ fd: Int32) { Posix.close(fd) }
    public func processInfo(_ pid: Int32) -> ProcessInfo? { ProcessTable.stat(pid) }
    public func processTree(under pid: Int32) -> [ProcessInfo] { ProcessTable.descendants(of: pid) ?? ProcessTable.scan() }
    public func allProcesses() -> [ProcessInfo] { ProcessTable.scan() }

    public func readFile(_ path: String, limit: Int) -> [UInt8]? { Posix.readFile(path, limit: limit) }
    public func openFile(_ path: String, flags: Int32, mode: UInt32) throws -> Int32 {
        try Posix.open(path, flags, mode: mode_t(mode))
    }

    public func makeNotifySocket(_ path: String) -> Int32 { ctend_notify_socket(path) }

    public func receiveNotify(_ fd: Int32, into buffer: inout [UInt8], descriptors: inout [Int32]) -> NotifyDatagram? {
        var len = 0
        var pid: pid_t = 0
        var uid: uid_t = 0
        var gid: gid_t = 0
        var nfds: Int32 = 0
        let capacity = buffer.count - 1
        let rc = buffer.withUnsafeMutableBytes { buf in
            descriptors.withUnsafeMutableBufferPointer { fds in
                ctend_recv_notify(fd, buf.baseAddress!, capacity, &len, &pid, &uid, &gid, fds.baseAddress!,
                                  Int32(fds.count), &nfds)
            }
        }
        guard rc == 1 else { return nil }
        return NotifyDatagram(length: len, pid: pid, uid: uid, gid: gid, descriptorCount: Int(nfds))
    }
}
