import CTend
import Glibc
import TendModel
import TendSystem
import TendEngine
import TendControl

/// The manager's side of the control socket: accepts clients (only root and the manager's own user), reads
/// one request per connection, answers when the work is done. A client that sends garbage gets an error
/// reply; one that disappears mid-request harms no one: its reply is simply dropped.
public final class ControlServer {
    let manager: Manager
    private let fd: Int32
    public let path: String
    private var connections: [ObjectIdentifier: Connection] = [:]
    private var token: UInt64 = 0
    /// Connections refused and requests malformed, unknown or too large (in the `ping` reply).
    public private(set) var rejected = 0

    public init(manager: Manager, path: String) throws {
        self.manager = manager
        self.path = path
        let old = umask(0o177)
        let fd = ctend_unix_listen(path, 128)
        umask(old)
        guard fd >= 0 else { throw SystemError("listen on \(path)", errno: -fd) }
        chmod(path, 0o600)
        self.fd = fd
        reserve = Glibc.open("/dev/null", O_RDONLY | O_CLOEXEC)
        token = try manager.loop.watch(fd) { [unowned self] _ in self.acceptAll() }
    }

    /// A descriptor held in reserve: when the manager is out of descriptors (EMFILE), it is given up to accept
    /// the waiting client and tell it so, instead of leaving the connection pending, which would keep the
    /// listener readable and the loop spinning.
    private var reserve: Int32 = -1
    /// Clients turned away because the manager had no descriptor left.
    public private(set) var refusedForDescriptors = 0

    /// Turns one waiting client away with the reserve descriptor; false if there was none to use.
    private func shedOne() -> Bool {
        guard reserve >= 0 else { return false }
        Posix.close(reserve)
        reserve = -1
        let c = ctend_accept(fd)
        if c >= 0 {
            refusedForDescriptors += 1
            let e = ControlError(.failed, "The manager is out of file descriptors; try again later.")
            _ = try? Posix.write(c, e.json.bytes() + [10])
            Posix.close(c)
        }
        reserve = Glibc.open("/dev/null", O_RDONLY | O_CLOEXEC)
        return c >= 0
    }

    public func close() {
        manager.loop.unwatch(token)
        Posix.close(fd)
        if reserve >= 0 { Posix.close(reserve) }
        unlink(path)
        for c in connections.values { c.close() }
        connections = [:]
    }

    private func acceptAll() {
        while true {
            let c = ctend_accept(fd)
            if c == -EMFILE || c == -ENFILE {
                if shedOne() { continue }
                return
            }
            guard c >= 0 else { return }
            var pid: pid_t = 0
            var uid: uid_t = 0
            var gid: gid_t = 0
            if ctend_peer_cred(c, &pid, &uid, &gid) != 0 || (uid != 0 && uid != getuid()) {
                rejected += 1
                let reply = ControlError(.accessDenied, "Access denied: only root and the manager's own user may connect.")
                _ = try? Posix.write(c, reply.json.bytes() + [10])
                Posix.close(c)
                continue
            }
            let conn = Connection(fd: c, server: self)
            do {
                conn.token = try manager.loop.watch(c, events: UInt32(CTEND_EPOLLIN | CTEND_EPOLLRDHUP)) {
                    [unowned conn] events in conn.ready(events)
                }
                connections[ObjectIdentifier(conn)] = conn
            } catch {
                Posix.close(c)
            }
        }
    }

    fileprivate func countRejected() { rejected += 1 }

    fileprivate func drop(_ conn: Connection) {
        connections[ObjectIdentifier(conn)] = nil
    }

    fileprivate var loop: any Reactor { manager.loop }

    // MARK: - Requests

    /// Decodes one request line and runs it; what can't be decoded is counted and answered with its error.
    fileprivate func received(_ line: ArraySlice<UInt8>, _ conn: Connection) {
        let request: ControlRequest
        do {
            request = try ControlRequest(line: line)
        } catch {
            rejected += 1
            conn.reply(error: error)
            return
        }
        handle(request, conn)
    }

    /// One handler per kind of request (ControlServer+Requests.swift, ControlServer+Dependencies.swift).
    func handle(_ request: ControlRequest, _ conn: Connection) {
        switch request {
        case .job(let verb, let units, let noBlock): runJobs(verb, units, wait: !noBlock, conn)
        case .subscribe(let units, let logs): subscribe(units, logs: logs, conn)
        default:
            do { conn.reply(try answer(request)) } catch { conn.reply(error: error) }
        }
    }

    /// The requests answered at once.
    private func answer(_ request: ControlRequest) throws(ControlError) -> any ControlReply {
        switch request {
        case .status(let units, let lines): return status(units, lines: lines)
        case .list(let all): return list(all: all)
        case .show(let units): return try show(units)
        case .cat(let units): return try cat(units)
        case .kill(let units, let signal, let who): return try kill(units, signal: signal, who: who)
        case .resetFailed(let units): return try resetFailed(units)
        case .daemonReload:
            manager.reloadUnits()
            return OKReply()
        case .daemonReexec:
            guard manager.reexec() else {
                throw ControlError(.invalidArgument, "This manager runs without a holder (TEND_NO_HOLDER=1, or it could not be made): it can't be executed again without stopping the services.")
            }
            return OKReply()  // the manager exits once this is on its way; the holder starts the new one
        case .enable(let units): return try DependencyRequests.enable(units, manager: manager)
        case .disable(let units): return try DependencyRequests.disable(units, manager: manager)
        case .isEnabled(let units): return DependencyRequests.isEnabled(units, manager: manager)
        case .dependencies: return DependencyRequests.dependencies(manager)
        case .unitsChanged:
            manager.jobs.invalidate()
            return OKReply()
        case .ping: return ping()
        case .job, .subscribe: preconditionFailure("answered by handle")
        }
    }

    // MARK: - Subscriptions

    /// Live subscriptions, for `ping` (and the test that a client going away unsubscribes).
    public private(set) var subscribers = 0

    /// Acknowledges, then writes one line per engine event (of the named units) until the client goes; a
    /// client that lets `maxEventBacklog` bytes pile up is cut off, which unsubscribes it too.
    private func subscribe(_ names: [String], logs: Bool, _ conn: Connection) {
        let canonical = names.map { UnitName(parsing: $0)?.description ?? $0 }
        let filter = Set(canonical)
        conn.reply(SubscribeReply(units: canonical).json, keepOpen: true)
        guard !conn.closed else { return }
        let token = manager.subscribe { [weak conn] event in
            guard let conn, !conn.closed else { return }
            let e = ControlEvent(event, time: Posix.realtimeMicroseconds)
            if !filter.isEmpty && !filter.contains(e.unit) { return }
            conn.send(e.json.bytes() + [10], limit: ControlProtocol.maxEventBacklog)
        }
        var logToken: UInt64?
        if logs {
            logToken = manager.subscribeLogs { [weak conn] unit, chunk in
                guard let conn, !conn.closed, filter.isEmpty || filter.contains(unit) else { return }
                var out: [UInt8] = []
                for line in chunk.split(separator: 10) {
                    guard let r = LogFormat.parse(line) else { continue }
                    let stream = r.stream == "out" ? "stdout" : r.stream == "err" ? "stderr" : r.stream
                    let e = ControlEvent(unit: unit, change: .log(stream: stream, pid: r.pid, text: r.text), time: r.timestamp)
                    out += e.json.bytes()
                    out.append(10)
                }
                conn.send(out, limit: ControlProtocol.maxEventBacklog)
            }
        }
        subscribers += 1
        conn.onClose.append { [unowned self] in
            self.manager.unsubscribe(token)
            if let logToken { self.manager.unsubscribe(logToken) }
            self.subscribers -= 1
        }
    }
}

extension ControlEvent {
    init(_ event: EngineEvent, time: UInt64) {
        switch event {
        case .unitChanged(let unit, let activeState, let subState, let result):
            self.init(unit: unit, change: .state(active: activeState, sub: subState, result: result), time: time)
        case .jobFinished(let unit, let job, let result):
            self.init(unit: unit, change: .job(job: job, result: result), time: time)
        }
    }
}

/// One client connection: a bounded input buffer and an output queue flushed as the socket allows.
final class Connection {
    let fd: Int32
    unowned let server: ControlServer
    var token: UInt64 = 0
    var input: [UInt8] = []
    var output: [UInt8] = []
    var outputOffset = 0
    var handled = false
    var keepOpen = false
    private(set) var closed = false
    var onClose: [() -> Void] = []
    /// A client that can't keep up is cut off rather than buffering without bound.
    static let maxOutput = ControlProtocol.maxOutput

    init(fd: Int32, server: ControlServer) {
        self.fd = fd
        self.server = server
    }

    func ready(_ events: UInt32) {
        if events & UInt32(CTEND_EPOLLOUT) != 0 { flush() }
        if closed { return }
        if events & UInt32(CTEND_EPOLLIN | CTEND_EPOLLRDHUP | CTEND_EPOLLHUP | CTEND_EPOLLERR) != 0 { readInput() }
    }

    private func readInput() {
        var buf = [UInt8](repeating: 0, count: 16384)
        while !closed {
            let got: Int? = buf.withUnsafeMutableBytes { b -> Int? in
                do { return try Posix.read(fd, into: b) } catch { return 0 }
            }
            guard let n = got else { return }  // EAGAIN
            if n == 0 {
                // The client is gone (or half-closed after its request, which is fine once handled).
                close()
                return
            }
            if handled { continue }  // nothing more is expected; ignore
            input.append(contentsOf: buf[0..<n])
            if let nl = input.firstIndex(of: 10) {
                handled = true
                let line = input[..<nl]
                input = []
                server.received(line, self)
            } else if input.count > ControlProtocol.maxRequest {
                handled = true
                server.countRejected()
                reply(error: ControlError(.requestTooLarge, "Request too large (more than \(ControlProtocol.maxRequest) bytes)."))
            }
        }
    }

    func reply(_ json: JSON, keepOpen: Bool = false) {
        self.keepOpen = keepOpen
        send(json.bytes() + [10])
        if !keepOpen && output.count == outputOffset { close() }
    }

    func reply(error: ControlError) { reply(error.json) }

    func reply(_ reply: any ControlReply) { self.reply(reply.json) }

    /// Queues bytes; past `limit` bytes waiting the client is cut off.
    func send(_ bytes: [UInt8], limit: Int = Connection.maxOutput) {
        guard !closed else { return }
        if output.count - outputOffset + bytes.count > limit {
            close()
            return
        }
        output.append(contentsOf: bytes)
        flush()
    }

    private func flush() {
        guard !closed else { return }
        while outputOffset < output.count {
            let n: Int
            do {
                n = try output[outputOffset...].withUnsafeBytes { try Posix.write(fd, $0) }
            } catch {
                close()
                return
            }
            if n == 0 { break }
            outputOffset += n
        }
        if outputOffset == output.count {
            output.removeAll(keepingCapacity: true)
            outputOffset = 0
            server.loop.modify(token, events: UInt32(CTEND_EPOLLIN | CTEND_EPOLLRDHUP))
            if handled && !keepOpen { close() }
        } else {
            if outputOffset > 1 << 20 {
                output.removeFirst(outputOffset)
                outputOffset = 0
            }
            server.loop.modify(token, events: UInt32(CTEND_EPOLLIN | CTEND_EPOLLRDHUP | CTEND_EPOLLOUT))
        }
    }

    func close() {
        guard !closed else { return }
        closed = true
        server.loop.unwatch(token)
        Posix.close(fd)
        for c in onClose { c() }
        onClose = []
        server.drop(self)
    }
}
