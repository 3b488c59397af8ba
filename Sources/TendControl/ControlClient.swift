import CTend
import Glibc
import TendModel
import TendSystem

/// The client side of the control socket (blocking: one request, one reply, then optionally a stream). Every
/// failure it throws is a `ControlError`: `connection-failed` when the manager can't be reached, the manager's
/// own error for a refused request, `protocol-error` for a reply it doesn't understand.
public final class ControlClient {
    public let path: String
    private let fd: Int32
    private var buffer: [UInt8] = []

    public init(stateDir: String) throws(ControlError) {
        path = stateDir + "/" + ControlProtocol.socketName
        let fd = ctend_unix_connect(path)
        guard fd >= 0 else {
            let why = -fd == ENOENT || -fd == ECONNREFUSED ? "is tend daemon running?" : Posix.errorText(-fd)
            throw ControlError(.connectionFailed,
                               "Failed to connect to the manager at \(path): \(Posix.errorText(-fd)) (\(why))")
        }
        // Only a manager run by root or by this user may answer: a socket someone else put there is refused
        // before anything is sent to it.
        var pid: pid_t = 0
        var uid: uid_t = 0
        var gid: gid_t = 0
        if ctend_peer_cred(fd, &pid, &uid, &gid) != 0 || (uid != 0 && uid != geteuid()) {
            Posix.close(fd)
            throw ControlError(.connectionFailed,
                               "Refusing the manager at \(path): it runs as uid \(uid), neither root nor this user (uid \(geteuid())).")
        }
        self.fd = fd
    }

    deinit { Posix.close(fd) }

    /// The connection's descriptor, for a client that waits on it in a loop of its own or wakes a thread
    /// blocked in `nextEvent` with `shutdown(2)` (tend-web's streams).
    public var descriptor: Int32 { fd }

    /// One request on a fresh connection, its reply decoded as `R`.
    public static func call<R: ControlReply>(stateDir: String, _ request: ControlRequest, as type: R.Type = R.self)
        throws(ControlError) -> R
    {
        try ControlClient(stateDir: stateDir).call(request, as: type)
    }

    /// Sends a request and decodes the reply; `"ok": false` is thrown as the manager's `ControlError`.
    public func call<R: ControlReply>(_ request: ControlRequest, as type: R.Type = R.self) throws(ControlError) -> R {
        try R(reply: exchange(request.bytes()))
    }

    /// Sends a raw request object and returns the raw reply (for tools speaking newer requests); a reply with
    /// `"ok": false` is thrown as its `ControlError`.
    public func request(_ json: JSON) throws(ControlError) -> JSON {
        let reply = try exchange(json.bytes() + [10])
        guard reply[Wire.ok]?.bool == true else { throw ControlError(json: reply) }
        return reply
    }

    /// Writes a request without waiting for the reply (read it with `readLine`), for clients that run an
    /// event loop of their own.
    public func send(_ request: ControlRequest) throws(ControlError) { try write(request.bytes()) }

    /// A manager that turns the client away (out of descriptors, access denied) may close before the request is
    /// written: that is not a SIGPIPE, and its answer is still read.
    private func write(_ bytes: [UInt8]) throws(ControlError) {
        do {
            try Posix.send(fd, bytes)
        } catch {
            throw ControlError(.connectionFailed, "Failed to send the request to the manager: \(error)")
        }
    }

    private func exchange(_ bytes: [UInt8]) throws(ControlError) -> JSON {
        var reply: [UInt8]?
        do {
            try write(bytes)
            reply = try readLine()
        } catch let sendError {
            // The manager may have answered before it closed (a refusal): that answer is the reply.
            guard let answer = try? readLine() else { throw sendError }
            reply = answer
        }
        guard let line = reply else {
            throw ControlError(.protocolError, "The manager closed the connection without a reply.")
        }
        do {
            return try JSON.parse(line)
        } catch {
            throw ControlError(.protocolError, "The manager's reply is not JSON: \(error)")
        }
    }

    /// `subscribe`: sends it and returns the acknowledgement; read the events with `nextEvent`.
    public func subscribe(units: [String], logs: Bool = false) throws(ControlError) -> SubscribeReply {
        try call(.subscribe(units: units, logs: logs))
    }

    /// The next event of a subscription, or nil when the manager closed the stream. With a timeout (ms),
    /// throws `timed-out` when none arrives in time.
    public func nextEvent(timeout: Int32 = -1) throws(ControlError) -> ControlEvent? {
        guard let line = try readLine(timeout: timeout) else { return nil }
        do {
            return try ControlEvent(json: JSON.parse(line))
        } catch let e as ControlError {
            throw e
        } catch {
            throw ControlError(.protocolError, "The manager sent an event that is not JSON: \(error)")
        }
    }

    /// The next line of the stream (without its newline), or nil at the end. `timeout` in ms, -1 for none.
    public func readLine(timeout: Int32 = -1) throws(ControlError) -> [UInt8]? {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let deadline = timeout >= 0 ? Posix.monotonicNow + TimeSpan(usec: UInt64(timeout) * 1000) : nil
        while true {
            if let nl = buffer.firstIndex(of: 10) {
                let line = Array(buffer[..<nl])
                buffer.removeFirst(nl + 1)
                return line
            }
            if let deadline {
                let left = max(0, Int64(deadline.ns) - Int64(Posix.monotonicNow.ns)) / 1_000_000
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let r = poll(&p, 1, Int32(left))
                if r == 0 { throw ControlError(.timedOut, "No answer from the manager within \(timeout) ms.") }
                if r < 0 && errno == EINTR { continue }
            }
            let n: Int
            do {
                n = try chunk.withUnsafeMutableBytes { try Posix.read(fd, into: $0) } ?? 0
            } catch {
                throw ControlError(.connectionFailed, "Failed to read from the manager: \(error)")
            }
            if n == 0 {
                if buffer.isEmpty { return nil }
                defer { buffer = [] }
                return buffer
            }
            buffer.append(contentsOf: chunk[0..<n])
        }
    }
}
