#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The service side of sd_notify(3), for Swift programs supervised by tend or by systemd (the protocol is
/// the same). Every call is a no-op returning false when `NOTIFY_SOCKET` is not set, so a program can call
/// them unconditionally.
///
/// ```swift
/// import SDNotify
/// let listener = SDNotify.listenFDs().first?.fd ?? makeListener()
/// SDNotify.ready(status: "Accepting connections")
/// if let interval = SDNotify.watchdogInterval() { startPinging(every: interval / 2) { SDNotify.watchdog() } }
/// ```
public enum SDNotify {
    /// Why a message could not be sent.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var operation: String
        public var errno: Int32
        public var description: String {
            "\(operation): \(String(cString: strerror(errno)))"
        }
    }

    /// A descriptor passed by the manager (`LISTEN_FDS=`), with its name from `LISTEN_FDNAMES=`.
    public struct ListenFD: Equatable, Sendable {
        public var fd: Int32
        public var name: String
        public init(fd: Int32, name: String) {
            self.fd = fd
            self.name = name
        }
    }

    /// The value of `NOTIFY_SOCKET`, or nil when not running under a manager that listens.
    public static var socketPath: String? {
        guard let p = getenv("NOTIFY_SOCKET") else { return nil }
        let s = String(cString: p)
        return s.isEmpty ? nil : s
    }

    /// Sends `KEY=VALUE` assignments in one datagram. `fds` travel with it (SCM_RIGHTS); `pid` sends on behalf
    /// of another process (its credentials; only root may name another pid). Returns false when there is
    /// no `NOTIFY_SOCKET`.
    @discardableResult
    public static func send(_ assignments: [String], fds: [Int32] = [], pid: pid_t? = nil) throws(Failure) -> Bool {
        guard let path = socketPath else { return false }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(operation: "socket", errno: errno) }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        var pathBytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard pathBytes.count < capacity, path.hasPrefix("/") || path.hasPrefix("@") else {
            throw Failure(operation: "NOTIFY_SOCKET=\(path)", errno: EINVAL)
        }
        let abstract = pathBytes.first == UInt8(ascii: "@")
        if abstract { pathBytes[0] = 0 }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in pathBytes.enumerated() { raw[i] = b }
        }
        let addrLen = socklen_t(MemoryLayout<sa_family_t>.size + pathBytes.count + (abstract ? 0 : 1))

        let payload = Array(assignments.joined(separator: "\n").utf8)
        let control = controlMessage(fds: fds, pid: pid)
        var result = 0
        payload.withUnsafeBytes { payloadRaw in
            var iov = iovec(iov_base: UnsafeMutableRawPointer(mutating: payloadRaw.baseAddress), iov_len: payload.count)
            control.withUnsafeBytes { controlRaw in
                withUnsafeMutablePointer(to: &addr) { addrPtr in
                    withUnsafeMutablePointer(to: &iov) { iovPtr in
                        var msg = msghdr()
                        msg.msg_name = UnsafeMutableRawPointer(addrPtr)
                        msg.msg_namelen = addrLen
                        msg.msg_iov = iovPtr
                        msg.msg_iovlen = 1
                        if !control.isEmpty {
                            msg.msg_control = UnsafeMutableRawPointer(mutating: controlRaw.baseAddress)
                            msg.msg_controllen = control.count
                        }
                        repeat {
                            result = sendmsg(fd, &msg, Int32(MSG_NOSIGNAL))
                        } while result < 0 && errno == EINTR
                    }
                }
            }
        }
        guard result >= 0 else { throw Failure(operation: "sendmsg to \(path)", errno: errno) }
        return true
    }

    /// Ancillary data built by hand: Swift can't use the CMSG_* macros. Layout (Linux): a header of
    /// `size_t len, int level, int type`, then the data, each entry padded to the alignment of size_t.
    private static func controlMessage(fds: [Int32], pid: pid_t?) -> [UInt8] {
        let align = MemoryLayout<Int>.size
        func padded(_ n: Int) -> Int { (n + align - 1) & ~(align - 1) }
        let header = padded(MemoryLayout<Int>.size + 2 * MemoryLayout<Int32>.size)
        var out: [UInt8] = []
        func append(level: Int32, type: Int32, data: [UInt8]) {
            var entry = [UInt8](repeating: 0, count: padded(header + data.count))
            var len = header + data.count
            withUnsafeBytes(of: &len) { for i in 0..<MemoryLayout<Int>.size { entry[i] = $0[i] } }
            var l = level
            var t = type
            withUnsafeBytes(of: &l) { for i in 0..<4 { entry[MemoryLayout<Int>.size + i] = $0[i] } }
            withUnsafeBytes(of: &t) { for i in 0..<4 { entry[MemoryLayout<Int>.size + 4 + i] = $0[i] } }
            for (i, b) in data.enumerated() { entry[header + i] = b }
            out += entry
        }
        if let pid {
            // struct ucred { pid_t pid; uid_t uid; gid_t gid; } and SCM_CREDENTIALS = 2: Glibc's module exports
            // neither without _GNU_SOURCE.
            var cred: (Int32, UInt32, UInt32) = (pid, getuid(), getgid())
            append(level: SOL_SOCKET, type: 2, data: withUnsafeBytes(of: &cred) { Array($0.prefix(12)) })
        }
        if !fds.isEmpty {
            append(level: SOL_SOCKET, type: Int32(SCM_RIGHTS), data: fds.withUnsafeBytes { Array($0) })
        }
        return out
    }

    // MARK: - The common messages

    /// One message with any of the well-known assignments (sd_notify(3)); `extra` adds `KEY=VALUE` lines of
    /// your own (`X_…`) or newer keys. Returns false when there is no manager or the send failed.
    @discardableResult
    public static func notify(
        ready: Bool = false, reloading: Bool = false, stopping: Bool = false, status: String? = nil,
        mainPID: pid_t? = nil, watchdog: Bool = false, errno: Int32? = nil, extra: [String] = []
    ) -> Bool {
        var a: [String] = []
        if ready { a.append("READY=1") }
        if reloading {
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            a += ["RELOADING=1", "MONOTONIC_USEC=\(UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000)"]
        }
        if stopping { a.append("STOPPING=1") }
        if let status { a.append("STATUS=\(status)") }
        if let mainPID { a.append("MAINPID=\(mainPID)") }
        if watchdog { a.append("WATCHDOG=1") }
        if let errno { a.append("ERRNO=\(errno)") }
        a += extra
        guard !a.isEmpty else { return false }
        return (try? send(a)) ?? false
    }

    /// `READY=1`, optionally with `STATUS=`.
    @discardableResult
    public static func ready(status: String? = nil) -> Bool {
        (try? send(["READY=1"] + (status.map { ["STATUS=\($0)"] } ?? []))) ?? false
    }

    /// `STATUS=`: one line shown by `tend status` / `systemctl status`.
    @discardableResult
    public static func status(_ text: String) -> Bool { (try? send(["STATUS=\(text)"])) ?? false }

    /// `STOPPING=1`
    @discardableResult
    public static func stopping() -> Bool { (try? send(["STOPPING=1"])) ?? false }

    /// `RELOADING=1` with `MONOTONIC_USEC=` (required by Type=notify-reload); send `ready()` when done.
    @discardableResult
    public static func reloading() -> Bool { notify(reloading: true) }

    /// `WATCHDOG=1`: call at least every half of `watchdogInterval()`.
    @discardableResult
    public static func watchdog() -> Bool { (try? send(["WATCHDOG=1"])) ?? false }

    /// `MAINPID=`
    @discardableResult
    public static func mainPID(_ pid: pid_t) -> Bool { (try? send(["MAINPID=\(pid)"])) ?? false }

    /// The watchdog interval the manager expects pings within (`WATCHDOG_USEC=`), or nil when there is none or
    /// it is meant for another process (`WATCHDOG_PID=` is set and isn't ours), as sd_watchdog_enabled(3).
    public static func watchdogInterval() -> Duration? {
        guard let raw = getenv("WATCHDOG_USEC"), let usec = UInt64(String(cString: raw)), usec > 0 else { return nil }
        if let p = getenv("WATCHDOG_PID"), let pid = pid_t(String(cString: p)), pid != getpid() { return nil }
        return .microseconds(Int64(clamping: usec))
    }

    /// The descriptors passed with `LISTEN_FDS=` (starting at 3), when meant for this process (`LISTEN_PID=`),
    /// as sd_listen_fds_with_names(3). They are marked close-on-exec; with `unsetEnvironment` the variables
    /// are removed so that children don't take them for theirs.
    public static func listenFDs(unsetEnvironment: Bool = true) -> [ListenFD] {
        defer {
            if unsetEnvironment {
                unsetenv("LISTEN_FDS")
                unsetenv("LISTEN_PID")
                unsetenv("LISTEN_FDNAMES")
            }
        }
        guard let p = getenv("LISTEN_PID"), pid_t(String(cString: p)) == getpid(),
            let c = getenv("LISTEN_FDS"), let count = Int32(String(cString: c)), count > 0
        else { return [] }
        let names = getenv("LISTEN_FDNAMES").map { String(cString: $0).split(separator: ":", omittingEmptySubsequences: false).map(String.init) } ?? []
        return (0..<count).map { i in
            let fd = 3 + i
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            return ListenFD(fd: fd, name: Int(i) < names.count ? names[Int(i)] : "unknown")
        }
    }

    /// Hands descriptors to the manager to keep across restarts (`FDSTORE=1`); the service's
    /// `FileDescriptorStoreMax=` must allow it.
    @discardableResult
    public static func storeFDs(_ fds: [Int32], name: String? = nil, poll: Bool = true) throws(Failure) -> Bool {
        var a = ["FDSTORE=1"]
        if let name { a.append("FDNAME=\(name)") }
        if !poll { a.append("FDPOLL=0") }
        return try send(a, fds: fds)
    }

    /// `BARRIER=1`: waits until the manager has processed every message sent before (it closes the pipe we
    /// pass). Returns false without a manager or on timeout.
    @discardableResult
    public static func barrier(timeoutMilliseconds: Int32 = 5000) throws(Failure) -> Bool {
        guard socketPath != nil else { return false }
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw Failure(operation: "pipe", errno: errno) }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        defer { close(fds[0]) }
        do {
            _ = try send(["BARRIER=1"], fds: [fds[1]])
        } catch {
            close(fds[1])
            throw error
        }
        close(fds[1])
        var pfd = pollfd(fd: fds[0], events: 0, revents: 0)
        var rc: Int32
        repeat { rc = poll(&pfd, 1, timeoutMilliseconds) } while rc < 0 && errno == EINTR
        return rc == 1 && (pfd.revents & Int16(POLLHUP)) != 0
    }
}
