import Glibc
import TendControl
import TendModel
import TendSystem

/// An HTTP/1.1 exchange on loopback, written on sockets (no Foundation): what the web tests send and read.
struct HTTPReply {
    var status: Int
    var headers: [(String, String)]
    var body: String
    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    var json: JSON? { try? JSON.parse(body) }
}

/// A TCP connection to 127.0.0.1:port with a read deadline.
final class HTTPConnection {
    let fd: Int32
    var buffer: [UInt8] = []

    init?(port: Int) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 {
            Posix.close(fd)
            return nil
        }
    }

    deinit { Posix.close(fd) }

    func send(_ text: String) { _ = try? Posix.send(fd, Array(text.utf8)) }

    /// Reads what arrives within `timeout` seconds, until `done(buffer)` or end of file. False on time-out.
    @discardableResult
    func read(timeout: Double, until done: ([UInt8]) -> Bool) -> Bool {
        let deadline = Posix.monotonicNow + TimeSpan(usec: UInt64(timeout * 1_000_000))
        var chunk = [UInt8](repeating: 0, count: 65536)
        while !done(buffer) {
            let left = Int32(max(0, Int64(deadline.ns) - Int64(Posix.monotonicNow.ns)) / 1_000_000)
            if left == 0 { return false }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, left) <= 0 { continue }
            let n = Glibc.read(fd, &chunk, chunk.count)
            if n <= 0 { return done(buffer) }
            buffer += chunk[0..<n]
        }
        return true
    }

    var text: String { String(decoding: buffer, as: UTF8.self) }
}

/// A running `tend-web` for a DaemonHarness, on a free loopback port.
final class WebProcess {
    let harness: DaemonHarness
    private(set) var pid: Int32 = 0
    private(set) var port = 0
    let tokenFile: String
    var token: String { harness.readFile(tokenFile).trimmingCharacters(in: " \n") }
    var outPath: String { harness.root + "/web.out" }

    static var binary: String {
        String(tendBinary[..<(tendBinary.lastIndex(of: "/") ?? tendBinary.startIndex)]) + "/tend-web"
    }

    init(_ harness: DaemonHarness, extraArgs: [String] = []) {
        self.harness = harness
        tokenFile = harness.root + "/web.token"
        pid = harness.spawnBackground(
            [tendBinary, "web", "--listen", "127.0.0.1:0", "--token-file", tokenFile, "--state-dir", harness.state] + extraArgs,
            stdout: outPath)
        var line = ""
        let up = waitUntil(20) {
            line = harness.readFile(self.outPath)
            return line.contains("listening on http://127.0.0.1:")
        }
        precondition(up, "tend web did not come up: \(line)")
        let after = line.split(separator: "127.0.0.1:", maxSplits: 1)[1]
        port = Int(after.prefix { $0.isNumber }) ?? 0
    }

    deinit { stop() }

    func stop() {
        guard pid > 0 else { return }
        _ = kill(pid, SIGTERM)
        var status: Int32 = 0
        if !waitUntil(10, { waitpid(self.pid, &status, WNOHANG) == self.pid }) {
            _ = kill(pid, SIGKILL)
            _ = waitpid(pid, &status, 0)
        }
        pid = 0
    }

    /// One request on its own connection (Connection: close), the whole reply.
    func request(_ method: String, _ path: String, headers: [String: String] = [:], body: String = "",
                 bearer: Bool = true, host: String? = nil) -> HTTPReply {
        guard let c = HTTPConnection(port: port) else { return HTTPReply(status: -1, headers: [], body: "connect failed") }
        var h = headers
        if bearer && h["Authorization"] == nil { h["Authorization"] = "Bearer \(token)" }
        var req = "\(method) \(path) HTTP/1.1\r\nHost: \(host ?? "127.0.0.1:\(port)")\r\nConnection: close\r\n"
        for (k, v) in h { req += "\(k): \(v)\r\n" }
        if !body.isEmpty || method == "POST" { req += "Content-Length: \(body.utf8.count)\r\n" }
        c.send(req + "\r\n" + body)
        c.read(timeout: 30) { _ in false }
        return Self.parse(c.text)
    }

    static func parse(_ text: String) -> HTTPReply {
        guard let end = text.firstRange(of: "\r\n\r\n") else { return HTTPReply(status: -1, headers: [], body: text) }
        let head = text[..<end.lowerBound].split(separator: "\r\n")
        let status = head.first.flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { Int($0) } ?? -1
        var headers: [(String, String)] = []
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters(in: " ")))
        }
        var body = String(text[end.upperBound...])
        if headers.contains(where: { $0.0.lowercased() == "transfer-encoding" && $0.1.contains("chunked") }) {
            body = dechunk(body)
        }
        return HTTPReply(status: status, headers: headers, body: body)
    }

    static func dechunk(_ s: String) -> String {
        var out: [UInt8] = []
        var b = Array(s.utf8)[...]
        while let crlf = b.firstRange(of: [13, 10]) {
            guard let n = Int(String(decoding: b[..<crlf.lowerBound], as: UTF8.self), radix: 16), n > 0 else { break }
            let start = crlf.upperBound
            guard b.distance(from: start, to: b.endIndex) >= n else { out += b[start...]; break }
            out += b[start..<b.index(start, offsetBy: n)]
            b = b[b.index(start, offsetBy: n)...].dropFirst(2)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Opens a stream (SSE) and returns the connection once the headers arrived.
    func openStream(_ path: String) -> HTTPConnection? {
        guard let c = HTTPConnection(port: port) else { return nil }
        c.send("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAuthorization: Bearer \(token)\r\nAccept: text/event-stream\r\n\r\n")
        guard c.read(timeout: 10, until: { String(decoding: $0, as: UTF8.self).contains("\r\n\r\n") }) else { return nil }
        return c
    }

    /// Logs in like a browser: the session cookie and the page's CSRF token.
    func login() -> (cookie: String, csrf: String)? {
        let r = request("POST", "/login", headers: ["Content-Type": "application/x-www-form-urlencoded"],
                        body: "token=\(token)&next=%2F", bearer: false)
        guard r.status == 303, let set = r.header("Set-Cookie"), let cookie = set.split(separator: ";").first else { return nil }
        let page = request("GET", "/", headers: ["Cookie": String(cookie)], bearer: false)
        guard let m = page.body.firstRange(of: "<meta name=csrf content=\"") else { return nil }
        let csrf = page.body[m.upperBound...].prefix { $0 != "\"" }
        return (String(cookie), String(csrf))
    }
}

/// The path of a program on PATH, or nil.
func which(_ name: String) -> String? {
    for dir in (Posix.environment()["PATH"] ?? "").split(separator: ":") where Posix.isExecutable("\(dir)/\(name)") {
        return "\(dir)/\(name)"
    }
    return nil
}

