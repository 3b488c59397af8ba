import CTend
import Glibc
import TendModel

/// The manager's end of the holder (`ctend_holder_start`): a small parent process that outlives the manager.
/// The manager gives it the descriptors that must survive its own death (log pipes, notify sockets, the pidfd
/// of each running main process, named so that the next manager knows what each is); when the manager dies
/// of a signal, the holder starts it again and hands them back, with the exits of the services it reaped in
/// the meantime. See docs/architecture.md, "Surviving the manager's death".
public final class Holder {
    public let socket: Int32
    /// What the holder handed back at start-up, by name, in the order held.
    public private(set) var inherited: [(name: String, fd: Int32)] = []
    /// Exits the holder reported during the hand-over (processes that ended while no manager ran).
    public private(set) var pendingExits: [(pid: Int32, cause: ExitCause)] = []

    /// Connects to the holder whose socket is `fd` and takes the hand-over (blocking until it is complete).
    public init(socket fd: Int32) {
        socket = fd
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        _ = ctend_holder_configure(fd)
        while true {
            var name = [CChar](repeating: 0, count: 4200)
            var got: Int32 = -1, pid: Int32 = 0, status: Int32 = 0
            let kind = ctend_holder_recv(fd, 1, &name, name.count, &got, &pid, &status)
            if kind <= 0 || kind == Int32(UInt8(ascii: "Z")) { break }
            if kind == Int32(UInt8(ascii: "H")), got >= 0 {
                inherited.append((String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self), got))
            } else if kind == Int32(UInt8(ascii: "E")) {
                pendingExits.append((pid, Holder.cause(status)))
            }
        }
    }

    /// Starts the holder (the calling process becomes it and never returns from this call; the manager goes on
    /// in the child), or connects to the one named by `TEND_HOLDER_FD`. nil if there is none and one can't be made.
    public static func startOrConnect(argv: [String]) -> Holder? {
        if let value = Posix.environment()["TEND_HOLDER_FD"], let fd = Int32(value), fd >= 0 {
            unsetenv("TEND_HOLDER_FD")
            return Holder(socket: fd)
        }
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return nil }
        let exe = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        let fd = cargs.withUnsafeBufferPointer { ctend_holder_start(exe, $0.baseAddress!) }
        guard fd >= 0 else { return nil }
        return Holder(socket: fd)
    }

    /// Takes the descriptor held under `name` out of the hand-over (the caller owns it then).
    public func take(_ name: String) -> Int32? {
        guard let i = inherited.firstIndex(where: { $0.name == name }) else { return nil }
        return inherited.remove(at: i).fd
    }

    /// The hand-over was taken: the caller owns (or closed) every inherited descriptor.
    public func finishHandover() {
        inherited = []
        pendingExits = []
    }

    /// The holder keeps a duplicate of `fd` under `name` (a name not held: `release` the old one first).
    public func hold(_ name: String, _ fd: Int32) { _ = ctend_holder_send(socket, "P" + name, fd) }

    /// The holder keeps duplicates of `fds` (at most 8) under `NAME 0`, `NAME 1`, ... in one message.
    public func hold(_ name: String, _ fds: [Int32]) {
        _ = fds.withUnsafeBufferPointer { ctend_holder_send_fds(socket, "P" + name, $0.baseAddress!, Int32(fds.count)) }
    }

    /// The holder closes and forgets what it held under `name`.
    public func release(_ name: String) { _ = ctend_holder_send(socket, "D" + name, -1) }

    /// The next exit of this manager is a request to be executed again (daemon-reexec), not the end.
    public func requestReexec() { _ = ctend_holder_send(socket, "R", -1) }

    /// Exits of orphans the holder reaped since the last call; nil once the holder is gone.
    public func readExits() -> [(pid: Int32, cause: ExitCause)]? {
        var out: [(Int32, ExitCause)] = []
        while true {
            var name = [CChar](repeating: 0, count: 16)
            var got: Int32 = -1, pid: Int32 = 0, status: Int32 = 0
            let kind = ctend_holder_recv(socket, 0, &name, name.count, &got, &pid, &status)
            if got >= 0 { Glibc.close(got) }
            if kind == 0 { return out }
            if kind < 0 { return out.isEmpty ? nil : out }
            if kind == Int32(UInt8(ascii: "E")) { out.append((pid, Holder.cause(status))) }
        }
    }

    /// A wait(2) status as an exit cause.
    static func cause(_ status: Int32) -> ExitCause {
        let sig = status & 0x7f
        if sig == 0 { return .exited((status >> 8) & 0xff) }
        return status & 0x80 != 0 ? .dumped(sig) : .killed(sig)
    }
}
