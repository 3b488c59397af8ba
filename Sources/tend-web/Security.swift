import Glibc
import TendSystem

/// The secret: read from the token file, or created there (random, mode 0600) when the file doesn't exist.
enum TokenFile {
    static func load(_ path: String) throws(StartError) -> String {
        if let bytes = Posix.readFile(path, limit: 4096) {
            var st = stat()
            if stat(path, &st) == 0, st.st_mode & 0o077 != 0 {
                throw StartError("the token file \(path) may be read by others (mode \(String(st.st_mode & 0o777, radix: 8))); chmod 600 it.")
            }
            let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: " \t\n\r")
            guard text.utf8.count >= 16, !text.contains(where: { $0.isWhitespace }) else {
                throw StartError("the token file \(path) must hold one token of at least 16 characters.")
            }
            return text
        }
        let dir = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        if !dir.isEmpty { try? Posix.mkdirs(dir, mode: 0o700) }
        let token = randomToken()
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StartError("cannot create the token file \(path): \(Posix.errorText(errno))") }
        defer { Posix.close(fd) }
        guard (try? Posix.write(fd, Array((token + "\n").utf8))) != nil else {
            throw StartError("cannot write the token file \(path): \(Posix.errorText(errno))")
        }
        return token
    }
}

/// 32 random bytes (the system's generator: getrandom), hex.
func randomToken(bytes: Int = 32) -> String {
    var g = SystemRandomNumberGenerator()
    let digits = Array("0123456789abcdef")
    var s = ""
    for _ in 0..<bytes {
        let b = UInt8.random(in: 0...255, using: &g)
        s.append(digits[Int(b >> 4)])
        s.append(digits[Int(b & 15)])
    }
    return s
}

/// Equal strings, in time that depends only on their lengths.
func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    guard x.count == y.count else { return false }
    var d: UInt8 = 0
    for i in 0..<x.count { d |= x[i] ^ y[i] }
    return d == 0
}

/// Browser sessions: made by logging in with the token; each carries its own CSRF token, which every
/// mutating request from the page must send back in `X-CSRF-Token`.
final class Sessions: @unchecked Sendable {
    struct Session: Sendable {
        var id: String
        var csrf: String
        var created: UInt64
    }
    static let lifetimeUS: UInt64 = 12 * 3600 * 1_000_000
    static let maxSessions = 256
    private var sessions: [String: Session] = [:]
    private let lock = Lock()

    func create() -> Session {
        let s = Session(id: randomToken(), csrf: randomToken(), created: Posix.realtimeMicroseconds)
        lock.locked {
            if sessions.count >= Self.maxSessions, let oldest = sessions.values.min(by: { $0.created < $1.created }) {
                sessions[oldest.id] = nil
            }
            sessions[s.id] = s
        }
        return s
    }

    func find(_ id: String) -> Session? {
        lock.locked {
            guard let s = sessions[id] else { return nil }
            if Posix.realtimeMicroseconds - s.created > Self.lifetimeUS {
                sessions[id] = nil
                return nil
            }
            return s
        }
    }

    func remove(_ id: String) { lock.locked { sessions[id] = nil } }
}

/// How many event and log streams each client (by remote address) has open; refuses more than the bound.
final class StreamLimits: @unchecked Sendable {
    static let perClient = 16
    static let total = 64
    private var open: [String: Int] = [:]
    private var all = 0
    private let lock = Lock()

    func acquire(_ client: String) -> Bool {
        lock.locked {
            guard all < Self.total, open[client, default: 0] < Self.perClient else { return false }
            open[client, default: 0] += 1
            all += 1
            return true
        }
    }

    func release(_ client: String) {
        lock.locked {
            open[client, default: 1] -= 1
            if open[client] == 0 { open[client] = nil }
            all -= 1
        }
    }
}

final class Lock: @unchecked Sendable {
    private var m = pthread_mutex_t()
    init() { pthread_mutex_init(&m, nil) }
    deinit { pthread_mutex_destroy(&m) }
    func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&m)
        defer { pthread_mutex_unlock(&m) }
        return try body()
    }
}

/// The host name of a `Host` header or an `Origin` (without port or brackets), lowercased.
func hostName(ofAuthority a: Substring) -> String {
    if a.hasPrefix("[") {
        let end = a.firstIndex(of: "]") ?? a.endIndex
        return String(a[a.index(after: a.startIndex)..<end]).lowercased()
    }
    return String(a[..<(a.firstIndex(of: ":") ?? a.endIndex)]).lowercased()
}

func hostName(ofOrigin o: String) -> String? {
    guard let r = o.firstRange(of: "://") else { return nil }
    let rest = o[r.upperBound...]
    return hostName(ofAuthority: rest[..<(rest.firstIndex(of: "/") ?? rest.endIndex)])
}
