import CTend
import Glibc
import TendModel
import TendSystem

/// The client side of the control socket (blocking: one request, one reply, then optionally a stream).
public final class ControlClient {
    public let path: String
    private let fd: Int32
    private var buffer: [UInt8] = []

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public var exitCode: Int32
    }

    public init(stateDir: String) throws {
        path = stateDir + "/" + ControlProtocol.socketName
        let fd = ctend_unix_connect(path)
        guard fd >= 0 else {
            let why = -fd == ENOENT || -fd == ECONNREFUSED ? "is tend daemon running?" : Posix.errorText(-fd)
            throw Failure(description: "Failed to connect to the manager at \(path): \(Posix.errorText(-fd)) (\(why))", exitCode: 1)
        }
        self.fd = fd
    }

    deinit { Posix.close(fd) }

    /// Sends a request and returns the reply; a reply with `"ok": false` becomes a thrown `Failure`.
    public func request(_ json: JSON) throws -> JSON {
        try Posix.write(fd, json.bytes() + [10])
        guard let line = try readLine() else {
            throw Failure(description: "The manager closed the connection without a reply.", exitCode: 1)
        }
        let reply = try JSON.parse(line)
        if reply["ok"]?.bool != true {
            throw Failure(description: reply["error"]?.string ?? "The request failed.",
                          exitCode: Int32(reply["exit"]?.int ?? 1))
        }
        return reply
    }

    /// The next line of the stream (without its newline), or nil at the end.
    public func readLine() throws -> [UInt8]? {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            if let nl = buffer.firstIndex(of: 10) {
                let line = Array(buffer[..<nl])
                buffer.removeFirst(nl + 1)
                return line
            }
            let n = try chunk.withUnsafeMutableBytes { try Posix.read(fd, into: $0) } ?? 0
            if n == 0 {
                if buffer.isEmpty { return nil }
                defer { buffer = [] }
                return buffer
            }
            buffer.append(contentsOf: chunk[0..<n])
        }
    }
}
