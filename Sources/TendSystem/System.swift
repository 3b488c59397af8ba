import TendModel

/// The event loop as the engine sees it: descriptors to watch, deadlines, work after the current events.
/// `EventLoop` (epoll + one timerfd) is the real one; tests drive a fake with a manual clock.
public protocol Reactor: AnyObject {
    /// Watches `fd` for the given epoll events; returns a token for `unwatch`.
    func watch(_ fd: Int32, events: UInt32, _ handler: @escaping (UInt32) -> Void) throws -> UInt64
    func modify(_ token: UInt64, events: UInt32)
    /// Stops watching; call before closing the descriptor.
    func unwatch(_ token: UInt64)
    /// Arms (or re-arms) the deadline of `owner` in `slot`; `action` runs once it has passed.
    func setDeadline(_ owner: ObjectIdentifier, slot: Int, at: MonotonicInstant, _ action: @escaping () -> Void)
    func cancelDeadline(_ owner: ObjectIdentifier, slot: Int)
    /// Runs `work` after the events of this iteration, before sleeping again.
    func afterEvents(_ work: @escaping () -> Void)
    /// Runs until `stop()`.
    func run()
    func stop()
}

extension Reactor {
    /// Readable (EPOLLIN): the common case.
    @discardableResult
    public func watch(_ fd: Int32, _ handler: @escaping (UInt32) -> Void) throws -> UInt64 {
        try watch(fd, events: Reactor_EPOLLIN, handler)
    }
    public func setDeadline(_ owner: ObjectIdentifier, at: MonotonicInstant, _ action: @escaping () -> Void) {
        setDeadline(owner, slot: 0, at: at, action)
    }
    public func cancelDeadline(_ owner: ObjectIdentifier) { cancelDeadline(owner, slot: 0) }
}

/// EPOLLIN, without importing the C shim here.
public let Reactor_EPOLLIN: UInt32 = 0x001

/// One datagram read from a notify socket: its length, the sender's kernel-supplied credentials, and how many
/// descriptors came with it.
public struct NotifyDatagram: Sendable {
    public var length: Int
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32
    public var descriptorCount: Int
    public init(length: Int, pid: Int32, uid: UInt32, gid: UInt32, descriptorCount: Int) {
        (self.length, self.pid, self.uid, self.gid, self.descriptorCount) = (length, pid, uid, gid, descriptorCount)
    }
}

/// The engine's only door to the operating system for everything it does to processes: spawning, signals,
/// pidfds, reaping, the process table, the clocks, the notify sockets, the files a command's stdio opens.
/// `RealSystem` is Linux; `TendTestSupport.FakeSystem` is a manual clock and a process table in memory, so the
/// manager and the job engine run in unit tests without a process spawned.
///
/// Descriptors are plain `Int32`s: real ones from the kernel, made-up ones from the fake.
public protocol System: AnyObject {
    var monotonicNow: MonotonicInstant { get }
    var realtimeMicroseconds: UInt64 { get }
    /// The manager's own pid and whether it runs as root.
    var managerPID: Int32 { get }
    var isRoot: Bool { get }
    /// The manager's environment (PassEnvironment=, ConditionEnvironment=, specifiers).
    var environment: [String: String] { get }

    /// Blocks `signals`, delivers them through the reactor to `handler`, ignores SIGPIPE.
    func handleSignals(_ signals: [Int32], reactor: any Reactor, _ handler: @escaping (Int32) -> Void) throws
    /// prctl(PR_SET_CHILD_SUBREAPER); false if refused.
    func becomeSubreaper() -> Bool
    func makeDirectories(_ path: String, mode: UInt32) throws

    /// Starts one command (see `Spawner`): the process, and why its setup failed if it did.
    func spawn(_ request: SpawnRequest) throws -> (process: SpawnedProcess, setupError: String?)
    /// `Limit*=` settings the command will get lowered to the closest possible value, and the sandbox settings
    /// that can't be applied here, each as a note.
    func limitNotes(_ config: ServiceConfig) -> [String]
    /// A service went down (`restarting`: an automatic restart follows): its runtime directories and private
    /// /tmp go, as `RuntimeDirectoryPreserve=` says.
    func serviceStopped(_ config: ServiceConfig, privateDirectory: String?, restarting: Bool)
    /// What this manager can apply of a sandbox (namespaces, capabilities); probed once.
    var sandboxEnvironment: SandboxEnvironment { get }
    /// The pids of the unit's cgroup, or nil when services have no cgroups (`tend daemon --cgroup DIR`).
    func cgroupMembers(_ unit: String) -> [Int32]?
    /// SIGKILL to the whole cgroup at once (cgroup.kill); false where there is none.
    func cgroupKill(_ unit: String) -> Bool
    /// The OOM killer's count of kills in the unit's cgroup, or nil without one.
    func cgroupOOMKills(_ unit: String) -> UInt64?
    /// The directory the services' cgroups are in, if any.
    var cgroupDirectory: String? { get }
    /// The next child that exited (waitid WNOHANG), or nil when none is left to reap.
    func reapChild() -> (pid: Int32, cause: ExitCause)?
    /// A pidfd for `pid`, or a negative errno.
    func openPidfd(_ pid: Int32) -> Int32
    func signal(pidfd: Int32, _ signal: Int32)
    func signal(pid: Int32, _ signal: Int32)
    func close(_ fd: Int32)
    func processInfo(_ pid: Int32) -> ProcessInfo?
    /// The processes below `pid` (children lists), or every process when that can't be read.
    func processTree(under pid: Int32) -> [ProcessInfo]
    func allProcesses() -> [ProcessInfo]

    func readFile(_ path: String, limit: Int) -> [UInt8]?
    /// Opens a file for a command's stdio: flags as open(2).
    func openFile(_ path: String, flags: Int32, mode: UInt32) throws -> Int32

    /// A bound, non-blocking datagram socket with SO_PASSCRED at `path` (`@name`: abstract), or -errno.
    func makeNotifySocket(_ path: String) -> Int32
    /// Reads one datagram into `buffer` and its descriptors into `descriptors`; nil when none is waiting.
    func receiveNotify(_ fd: Int32, into buffer: inout [UInt8], descriptors: inout [Int32]) -> NotifyDatagram?
}

extension System {
    public func limitNotes(_ config: ServiceConfig) -> [String] { [] }
    public func serviceStopped(_ config: ServiceConfig, privateDirectory: String?, restarting: Bool) {}
    public func cgroupMembers(_ unit: String) -> [Int32]? { nil }
    public func cgroupKill(_ unit: String) -> Bool { false }
    public func cgroupOOMKills(_ unit: String) -> UInt64? { nil }
    public var cgroupDirectory: String? { nil }
    public var sandboxEnvironment: SandboxEnvironment {
        SandboxEnvironment(isRoot: isRoot, mountNamespaces: false, networkNamespaces: false, canDropBoundingSet: false,
                           canLowerOOMScore: false, managerCapabilities: 0, seccomp: false,
                           mountNamespaceProblem: "not probed")
    }
}
