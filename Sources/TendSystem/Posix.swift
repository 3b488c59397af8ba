import CTend
import Glibc
import TendModel

/// The system calls the runtime makes, each wrapped once: EINTR retried here, errno read at once and
/// turned into a `SystemError`.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    /// What was being done, as "Failed to <verb> <object>" wants it: `open /run/tend/control.sock`.
    public var operation: String
    public var errno: Int32
    public init(_ operation: String, errno: Int32) {
        self.operation = operation
        self.errno = errno
    }
    public var description: String { "\(operation): \(Posix.errorText(errno))" }
}

public enum Posix {
    /// strerror(3), e.g. "No such file or directory".
    public static func errorText(_ err: Int32) -> String {
        guard let p = strerror(err) else { return "errno \(err)" }
        return String(cString: p)
    }

    /// read(2), EINTR retried. Returns the count, 0 at EOF, nil for EAGAIN; throws other errors.
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws -> Int? {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            let e = Glibc.errno
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return nil }
            throw SystemError("read", errno: e)
        }
    }

    /// write(2) of the whole buffer on a blocking descriptor; on a non-blocking one it returns how much went
    /// out before EAGAIN.
    @discardableResult
    public static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws -> Int {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n >= 0 {
                done += n
                continue
            }
            let e = Glibc.errno
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return done }
            throw SystemError("write", errno: e)
        }
        return done
    }

    /// Writes all of `bytes` to a socket without raising SIGPIPE when the peer has gone (EPIPE is thrown).
    public static func send(_ fd: Int32, _ bytes: [UInt8]) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + done, bytes.count - done, Int32(MSG_NOSIGNAL)) }
            if n >= 0 {
                done += n
                continue
            }
            let e = Glibc.errno
            if e == EINTR { continue }
            throw SystemError("send", errno: e)
        }
    }

    @discardableResult
    public static func write(_ fd: Int32, _ bytes: [UInt8]) throws -> Int {
        try bytes.withUnsafeBytes { try write(fd, $0) }
    }

    public static func close(_ fd: Int32) {
        // close(2) is not retried on EINTR: on Linux the descriptor is released regardless.
        _ = Glibc.close(fd)
    }

    /// open(2) with O_CLOEXEC always added.
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws -> Int32 {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            if Glibc.errno == EINTR { continue }
            throw SystemError("open \(path)", errno: Glibc.errno)
        }
    }

    /// The whole content of a (small) file, or nil if it can't be read.
    public static func readFile(_ path: String, limit: Int = 16 << 20) -> [UInt8]? {
        guard let fd = try? open(path, O_RDONLY) else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while out.count < limit {
            let got: Int?? = chunk.withUnsafeMutableBytes { try? read(fd, into: $0) }
            let n = (got ?? nil) ?? -1
            if n <= 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    public static func mkdirs(_ path: String, mode: mode_t = 0o755) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if Glibc.mkdir(current, mode) != 0 && Glibc.errno != EEXIST {
                throw SystemError("create directory \(current)", errno: Glibc.errno)
            }
        }
    }

    /// The manager's state directory, made safe to use: created (mode `mode`, parents 0755) if missing; refused if
    /// it is a symbolic link, not a directory, not owned by this user, or writable by group or others, since
    /// whoever can write it could answer this user's clients, steal the services' notify sockets or hold its lock.
    /// Returns why it was refused, or nil.
    public static func secureDirectory(_ path: String, mode: mode_t) -> String? {
        let parent = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        if !parent.isEmpty { try? mkdirs(parent, mode: 0o755) }
        if Glibc.mkdir(path, mode) == 0 {
            Glibc.chmod(path, mode)  // whatever the umask took away or added
        } else if Glibc.errno != EEXIST {
            return "cannot create it: \(errorText(Glibc.errno))"
        }
        var st = stat()
        guard lstat(path, &st) == 0 else { return "cannot examine it: \(errorText(Glibc.errno))" }
        if st.st_mode & S_IFMT == S_IFLNK { return "it is a symbolic link" }
        guard st.st_mode & S_IFMT == S_IFDIR else { return "it is not a directory" }
        guard st.st_uid == geteuid() else { return "it belongs to uid \(st.st_uid), not to uid \(geteuid())" }
        if st.st_mode & 0o022 != 0 {
            return "it is writable by \(st.st_mode & 0o002 != 0 ? "anyone" : "its group") (mode \(String(st.st_mode & 0o7777, radix: 8)))"
        }
        return nil
    }

    /// Raises this process's soft limit of open files to its hard limit, as systemd does for itself (a manager
    /// holds about six descriptors per service), and returns the limits it had, which services get back
    /// unless they set `LimitNOFILE=` (systemd's services start with a soft limit of 1024 too).
    public static func raiseFileLimit() -> RLimitValue? {
        var rl = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &rl) == 0 else { return nil }
        let original = RLimitValue(soft: UInt64(rl.rlim_cur), hard: UInt64(rl.rlim_max))
        if rl.rlim_cur < rl.rlim_max {
            rl.rlim_cur = rl.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &rl)
        }
        return original
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    public static func isExecutable(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG && access(path, X_OK) == 0
    }

    public static var monotonicNow: MonotonicInstant { MonotonicInstant(ns: ctend_monotonic_ns()) }
    public static var realtimeMicroseconds: UInt64 { ctend_realtime_us() }

    /// The process environment as a dictionary.
    public static func environment() -> [String: String] {
        var env: [String: String] = [:]
        var p = Glibc.environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") {
                env[String(s[..<eq])] = String(s[s.index(after: eq)...])
            }
            p += 1
        }
        return env
    }

    /// The login name and home of a user id, from the password database.
    public static func user(uid: uid_t) -> (name: String, home: String, shell: String, gid: gid_t)? {
        var pwd = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buf = [CChar](repeating: 0, count: 16384)
        guard getpwuid_r(uid, &pwd, &buf, buf.count, &result) == 0, result != nil else { return nil }
        return (String(cString: pwd.pw_name), String(cString: pwd.pw_dir), String(cString: pwd.pw_shell), pwd.pw_gid)
    }

    /// A user by name or number.
    public static func user(named name: String) -> (uid: uid_t, gid: gid_t, name: String, home: String, shell: String)? {
        if let n = UInt32(name), let u = user(uid: n) { return (n, u.gid, u.name, u.home, u.shell) }
        var pwd = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buf = [CChar](repeating: 0, count: 16384)
        guard getpwnam_r(name, &pwd, &buf, buf.count, &result) == 0, result != nil else { return nil }
        return (pwd.pw_uid, pwd.pw_gid, String(cString: pwd.pw_name), String(cString: pwd.pw_dir),
                String(cString: pwd.pw_shell))
    }

    /// A group by name or number.
    public static func group(named name: String) -> gid_t? {
        if let n = UInt32(name) { return n }
        var grp = Glibc.group()
        var result: UnsafeMutablePointer<Glibc.group>?
        var buf = [CChar](repeating: 0, count: 16384)
        guard getgrnam_r(name, &grp, &buf, buf.count, &result) == 0, result != nil else { return nil }
        return grp.gr_gid
    }

    /// The supplementary groups a user belongs to (getgrouplist(3)).
    public static func groups(ofUser name: String, primary: gid_t) -> [gid_t] {
        var count: Int32 = 64
        var list = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(name, primary, &list, &count) < 0 {
            list = [gid_t](repeating: 0, count: Int(count))
            guard getgrouplist(name, primary, &list, &count) >= 0 else { return [primary] }
        }
        return Array(list.prefix(Int(count)))
    }
}

/// One process in /proc.
public struct ProcessInfo: Sendable {
    public var pid: Int32
    public var ppid: Int32
    public var pgrp: Int32
    public var session: Int32
    public var state: Character
    public var comm: String
    /// Threads (`num_threads`) and resident pages (`rss`), from the same read of /proc/PID/stat.
    public var threads: Int = 1
    public var residentPages: Int = 0
    public init(pid: Int32, ppid: Int32, pgrp: Int32, session: Int32, state: Character, comm: String) {
        (self.pid, self.ppid, self.pgrp, self.session, self.state, self.comm) = (pid, ppid, pgrp, session, state, comm)
    }
}

/// Reads /proc: which processes exist and which session they belong to. Services have no cgroup here, so
/// a service's processes are the members of the sessions its commands were started in (each command
/// starts with setsid()).
public enum ProcessTable {
    public static func scan() -> [ProcessInfo] {
        guard let dir = opendir("/proc") else { return [] }
        defer { closedir(dir) }
        var out: [ProcessInfo] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> String in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard let pid = Int32(name), let info = stat(pid) else { continue }
            out.append(info)
        }
        return out
    }

    /// The processes below `root` (not `root` itself): children as the kernel lists them in
    /// /proc/PID/task/TID/children, recursively. The manager is a subreaper, so every process a service
    /// started is in its subtree; walking it reads a handful of files per service process instead of one per
    /// process on the machine. Nil when the kernel doesn't provide the lists (the caller then scans /proc).
    public static func descendants(of root: Int32) -> [ProcessInfo]? {
        var out: [ProcessInfo] = []
        var queue: [Int32] = [root]
        var seen: Set<Int32> = [root]
        var first = true
        while let pid = queue.popLast() {
            guard let kids = children(of: pid) else {
                if first { return nil }
                continue
            }
            first = false
            for k in kids where seen.insert(k).inserted {
                if let info = stat(k) { out.append(info) }
                queue.append(k)
            }
        }
        return out
    }

    /// Direct children of a process, from every one of its threads' `children` files.
    static func children(of pid: Int32) -> [Int32]? {
        guard let dir = opendir("/proc/\(pid)/task") else { return nil }
        defer { closedir(dir) }
        var out: [Int32] = []
        var any = false
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> String in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard Int32(name) != nil, let bytes = Posix.readFile("/proc/\(pid)/task/\(name)/children", limit: 1 << 20)
            else { continue }
            any = true
            for word in bytes.split(separator: 32) {
                if let c = Int32(String(decoding: word, as: UTF8.self)) { out.append(c) }
            }
        }
        return any ? out : nil
    }

    /// /proc/PID/stat, parsed.
    public static func stat(_ pid: Int32) -> ProcessInfo? {
        guard let bytes = Posix.readFile("/proc/\(pid)/stat", limit: 4096) else { return nil }
        // comm may contain spaces and parentheses: the fields resume after the last ')'.
        guard let open = bytes.firstIndex(of: UInt8(ascii: "(")),
            let close = bytes.lastIndex(of: UInt8(ascii: ")"))
        else { return nil }
        let comm = String(decoding: bytes[(open + 1)..<close], as: UTF8.self)
        let rest = bytes[(close + 1)...].split(separator: UInt8(ascii: " "), maxSplits: 22)
        guard rest.count >= 5, let stateByte = rest[0].first,
            let ppid = Int32(String(decoding: rest[1], as: UTF8.self)),
            let pgrp = Int32(String(decoding: rest[2], as: UTF8.self)),
            let session = Int32(String(decoding: rest[3], as: UTF8.self))
        else { return nil }
        var info = ProcessInfo(pid: pid, ppid: ppid, pgrp: pgrp, session: session,
                               state: Character(Unicode.Scalar(stateByte)), comm: comm)
        // After comm: state is field 3, so num_threads (20) is rest[17] and rss (24) rest[21].
        if rest.count > 21 {
            info.threads = Int(String(decoding: rest[17], as: UTF8.self)) ?? 1
            info.residentPages = Int(String(decoding: rest[21], as: UTF8.self)) ?? 0
        }
        return info
    }

    /// The command name of a process (`comm`).
    public static func comm(_ pid: Int32) -> String? {
        guard let bytes = Posix.readFile("/proc/\(pid)/comm", limit: 256) else { return nil }
        return String(decoding: bytes, as: UTF8.self).trimmingSuffix("\n")
    }
}

extension StringProtocol {
    /// Without the given characters at either end (Foundation's `trimmingCharacters(in:)`, which the manager's modules don't link).
    public func trimmingCharacters(in chars: String) -> String {
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s = s.dropFirst() }
        while let l = s.last, chars.contains(l) { s = s.dropLast() }
        return String(s)
    }
}

extension String {
    func trimmingSuffix(_ s: String) -> String {
        hasSuffix(s) ? String(dropLast(s.count)) : self
    }
}
