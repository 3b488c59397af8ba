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
    private let manager: Manager
    private let fd: Int32
    public let path: String
    private var connections: [ObjectIdentifier: Connection] = [:]
    private var token: UInt64 = 0
    /// Requests refused or malformed, for `tend show`-style diagnostics.
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
        token = try manager.loop.watch(fd) { [unowned self] _ in self.acceptAll() }
    }

    public func close() {
        manager.loop.unwatch(token)
        Posix.close(fd)
        unlink(path)
        for c in connections.values { c.close() }
        connections = [:]
    }

    private func acceptAll() {
        while true {
            let c = ctend_accept(fd)
            guard c >= 0 else { return }
            var pid: pid_t = 0
            var uid: uid_t = 0
            var gid: gid_t = 0
            if ctend_peer_cred(c, &pid, &uid, &gid) != 0 || (uid != 0 && uid != getuid()) {
                rejected += 1
                let reply = JSON.object([("ok", .bool(false)), ("error", .string("Access denied.")), ("exit", .int(4))])
                _ = try? Posix.write(c, reply.bytes() + [10])
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

    fileprivate func drop(_ conn: Connection) {
        connections[ObjectIdentifier(conn)] = nil
    }

    fileprivate var loop: any Reactor { manager.loop }

    // MARK: - Requests

    fileprivate func handle(_ request: JSON, _ conn: Connection) {
        guard case .object = request, let cmd = request["cmd"]?.string else {
            rejected += 1
            conn.reply(error: "Malformed request: expected an object with \"cmd\".", exit: 1)
            return
        }
        let units = request["units"]?.stringArray ?? []
        switch cmd {
        case "start", "stop", "restart", "reload", "try-restart", "reload-or-restart":
            runJobs(cmd, units, wait: !(request["noBlock"]?.bool ?? false), conn)
        case "status", "list":
            let lines = Int(request["lines"]?.int ?? (cmd == "status" ? 10 : 0))
            let brief = cmd == "list"
            let clock = Clock()
            var out: [JSON] = []
            var missing: [String] = []
            if units.isEmpty {
                for u in manager.sortedUnits {
                    if cmd == "list" && !(request["all"]?.bool ?? false)
                        && (u.activeState == .inactive && u.loadState == .loaded)
                    {
                        continue
                    }
                    // `tend status` of everything: the built-in targets only when they are reached.
                    if cmd == "status" && u.targetState != nil && (u.config?.fragmentPath ?? "").isEmpty
                        && u.activeState == .inactive
                    {
                        continue
                    }
                    out.append(UnitStatusJSON.make(u, manager: manager, logLines: lines, brief: brief, clock: clock))
                }
            } else {
                for name in units {
                    if let u = manager.unit(named: name) {
                        out.append(UnitStatusJSON.make(u, manager: manager, logLines: lines, brief: brief, clock: clock))
                    } else {
                        missing.append(UnitName(parsing: name)?.description ?? name)
                    }
                }
            }
            conn.reply(.object([
                ("ok", .bool(true)), ("units", .array(out)), ("missing", .array(missing.map { .string($0) })),
            ]))
        case "show":
            var out: [JSON] = []
            for name in units {
                guard let u = manager.unit(named: name) else {
                    conn.reply(error: "Unit \(name) not found.", exit: 4)
                    return
                }
                out.append(.array(UnitStatusJSON.properties(u, manager: manager).map { .array([.string($0.0), .string($0.1)]) }))
            }
            conn.reply(.object([("ok", .bool(true)), ("units", .array(out))]))
        case "cat":
            var texts: [JSON] = []
            for name in units {
                guard let text = manager.catText(name) else {
                    conn.reply(error: "No files found for \(name).", exit: 1)
                    return
                }
                texts.append(.string(text))
            }
            conn.reply(.object([("ok", .bool(true)), ("texts", .array(texts))]))
        case "kill":
            let sig = Int32(request["signal"]?.int ?? Int64(SIGTERM))
            let who: KillTarget = request["who"]?.string == "main" ? .main : .all
            do {
                for name in units { try manager.kill(name, signal: sig, who: who) }
                conn.reply(.object([("ok", .bool(true))]))
            } catch let e as ManagerError {
                conn.reply(error: e.description, exit: e.exitCode)
            } catch {
                conn.reply(error: "\(error)", exit: 1)
            }
        case "reset-failed":
            do {
                if units.isEmpty { try manager.resetFailed(nil) }
                for name in units { try manager.resetFailed(name) }
                conn.reply(.object([("ok", .bool(true))]))
            } catch let e as ManagerError {
                conn.reply(error: e.description, exit: e.exitCode)
            } catch {
                conn.reply(error: "\(error)", exit: 1)
            }
        case "daemon-reload":
            manager.reloadUnits()
            conn.reply(.object([("ok", .bool(true))]))
        case _ where DependencyRequests.commands.contains(cmd):
            conn.reply(DependencyRequests.handle(cmd, request, manager: manager))
        case "ping":
            // Clients read logs from the files themselves; they learn where from here.
            conn.reply(.object([
                ("ok", .bool(true)), ("pid", .int(Int64(getpid()))), ("logDir", .string(manager.options.logDir)),
                ("version", .string(tendVersion)),
            ]))
        default:
            rejected += 1
            conn.reply(error: "Unknown command \"\(cmd)\".", exit: 1)
        }
    }

    private func runJobs(_ cmd: String, _ names: [String], wait: Bool, _ conn: Connection) {
        guard !names.isEmpty else {
            conn.reply(error: "Too few arguments: name at least one unit.", exit: 1)
            return
        }
        var pending = names.count
        var errors: [String] = []
        var exit: Int64 = 0
        let finishOne: (Bool, String?) -> Void = { [weak conn] ok, message in
            if !ok {
                errors.append(message ?? "failed")
                if message?.hasSuffix("not found.") == true { exit = 5 } else if exit == 0 { exit = 1 }
            }
            pending -= 1
            guard pending == 0, let conn else { return }
            if errors.isEmpty {
                conn.reply(.object([("ok", .bool(true))]))
            } else {
                conn.reply(.object([
                    ("ok", .bool(false)), ("error", .string(errors.joined(separator: "\n"))), ("exit", .int(exit)),
                ]))
            }
        }
        for name in names {
            var type: JobType
            switch cmd {
            case "start": type = .start
            case "stop": type = .stop
            case "reload": type = .reload
            default: type = .restart
            }
            if cmd == "try-restart" || cmd == "reload-or-restart" {
                guard let u = manager.unit(named: name) else {
                    finishOne(false, "Unit \(name) not found.")
                    continue
                }
                if cmd == "try-restart" && (u.activeState != .active && u.activeState != .reloading) {
                    finishOne(true, nil)  // try-restart leaves an inactive unit alone
                    continue
                }
                if cmd == "reload-or-restart", let c = u.config, !c.execReload.isEmpty, u.activeState == .active {
                    type = .reload
                }
            }
            manager.enqueue(type, unit: name, wait: wait, completion: finishOne)
        }
    }
}

/// One client connection: a bounded input buffer and an output queue flushed as the socket allows.
private final class Connection {
    let fd: Int32
    unowned let server: ControlServer
    var token: UInt64 = 0
    var input: [UInt8] = []
    var output: [UInt8] = []
    var outputOffset = 0
    var handled = false
    var keepOpen = false
    var closed = false
    var onClose: [() -> Void] = []
    /// A follower that can't keep up is cut off rather than buffering without bound.
    static let maxOutput = 64 << 20

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
                do {
                    let request = try JSON.parse(line)
                    server.handle(request, self)
                } catch {
                    reply(error: "Malformed request: \(error)", exit: 1)
                }
            } else if input.count > ControlProtocol.maxRequest {
                reply(error: "Request too large.", exit: 1)
            }
        }
    }

    func reply(_ json: JSON, keepOpen: Bool = false) {
        self.keepOpen = keepOpen
        send(json.bytes() + [10])
        if !keepOpen && output.count == outputOffset { close() }
    }

    func reply(error: String, exit: Int32) {
        reply(.object([("ok", .bool(false)), ("error", .string(error)), ("exit", .int(Int64(exit)))]))
    }

    func send(_ bytes: [UInt8]) {
        guard !closed else { return }
        if output.count - outputOffset + bytes.count > Connection.maxOutput {
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
