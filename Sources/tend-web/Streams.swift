import Glibc
import TendControl
import TendEngine
import TendModel
import TendSystem

/// A subscription read on a thread of its own and handed to the HTTP side as server-sent-event chunks.
/// Bounded: when the browser reads slower than events come, at most `backlog` chunks wait, then the stream
/// ends with an `overflow` event (the page reconnects). A keep-alive comment every 15 s finds clients that
/// went away; `close()` wakes the reading thread at once (shutdown of its socket).
final class EventFeed: @unchecked Sendable {
    static let backlog = 2000
    static let keepAliveMS: Int32 = 15_000
    private let lock = Lock()
    private var fd: Int32 = -1
    private var finished = false
    private var closed = false

    /// Subscribes (throwing the manager's error if it refuses), then streams `render(event)` for each event.
    /// `prelude` runs on the thread after the subscription is made and before events are read: history that
    /// must not miss what happens meanwhile (the log view) goes there.
    func start(stateDir: String, units: [String], logs: Bool,
               prelude: @escaping @Sendable (_ emit: (String) -> Bool) -> Void = { _ in },
               render: @escaping @Sendable (ControlEvent) -> String?) async throws -> AsyncStream<String>
    {
        let (stream, cont) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingOldest(Self.backlog))
        try await withCheckedThrowingContinuation { (ready: CheckedContinuation<Void, any Error>) in
            startThread { [self] in
                let client: ControlClient
                do {
                    client = try ControlClient(stateDir: stateDir)
                    _ = try client.subscribe(units: units, logs: logs)
                } catch {
                    ready.resume(throwing: error)
                    return
                }
                lock.locked { fd = client.descriptor }
                ready.resume()
                func emit(_ s: String) -> Bool {
                    if case .dropped = cont.yield(s) {
                        _ = cont.yield("event: overflow\ndata: {}\n\n")
                        return false
                    }
                    return true
                }
                var going = lock.locked { !closed }
                if going {
                    prelude { s in
                        if !emit(s) { going = false }
                        return going
                    }
                }
                while going {
                    do {
                        guard let event = try client.nextEvent(timeout: Self.keepAliveMS) else { break }
                        if let s = render(event), !emit(s) { break }
                    } catch let e as ControlError where e.code == .timedOut {
                        if !emit(": keep-alive\n\n") { break }
                    } catch {
                        break
                    }
                    going = lock.locked { !closed }
                }
                lock.locked { finished = true }
                cont.finish()
                withExtendedLifetime(client) {}
            }
        }
        return stream
    }

    func close() {
        lock.locked {
            closed = true
            if !finished && fd >= 0 { _ = shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }
}

/// One server-sent event carrying `json`.
func sseData(_ json: JSON) -> String { "data: " + json.serialized() + "\n\n" }

/// A log record as the API shows it.
func logJSON(unit: String, time: UInt64, stream: String, pid: Int32, text: String) -> JSON {
    .object([("unit", .string(unit)), ("time", .int(Int64(clamping: time))), ("stream", .string(stream)),
             ("pid", .int(Int64(pid))), ("text", .string(text))])
}

/// The log-view parameters: `since`, `until` (tend logs' forms), `grep` (a regular expression), `lines`.
struct LogParameters: Sendable {
    static let maxLines = 5000
    static let maxPattern = 256
    var since: UInt64?
    var until: UInt64?
    var grep: String?
    var lines = 200
    var follow = false

    init(query: [String: String]) throws(APIError) {
        let now = Posix.realtimeMicroseconds
        if let s = query["since"], !s.isEmpty {
            guard let t = TimeParsing.parse(s, now: now) else { throw APIError(400, "bad-parameter", "Failed to parse since \"\(s)\".") }
            since = t
        }
        if let s = query["until"], !s.isEmpty {
            guard let t = TimeParsing.parse(s, now: now) else { throw APIError(400, "bad-parameter", "Failed to parse until \"\(s)\".") }
            until = t
        }
        if let g = query["grep"], !g.isEmpty {
            guard g.utf8.count <= Self.maxPattern else { throw APIError(400, "bad-parameter", "grep is longer than \(Self.maxPattern) bytes.") }
            guard (try? Regex(g)) != nil else { throw APIError(400, "bad-parameter", "Invalid grep expression \"\(g)\".") }
            grep = g
        }
        if let l = query["lines"], !l.isEmpty {
            guard l.utf8.count <= 6, let n = Int(l), n >= 0, n <= Self.maxLines else {
                throw APIError(400, "bad-parameter", "lines takes a number, 0 to \(Self.maxLines).")
            }
            lines = n
        }
        if let f = query["follow"] {
            guard ["1", "0", "true", "false", ""].contains(f) else { throw APIError(400, "bad-parameter", "follow is 1 or 0.") }
            follow = f == "1" || f == "true"
        }
    }

    /// The records from the files (read as `tend logs` reads them), oldest first, at most `lines`.
    func history(logDir: String, unit: String) throws(APIError) -> [JSON] {
        var matching: (@Sendable (String) -> Bool)?
        if let grep, let r = try? Regex(grep) {
            // Regex is not Sendable; the query runs on this thread only.
            nonisolated(unsafe) let regex = r
            matching = { (try? regex.firstMatch(in: $0)) != nil }
        }
        let q = LogQuery(logDirectory: logDir, units: [unit], since: since, until: until, last: lines,
                         matching: matching, follow: false)
        let reader: LogQueryReader
        do { reader = try LogQueryReader(q) } catch { throw APIError(500, "failed", "Failed to read the logs: \(error)") }
        defer { reader.close() }
        var out: [JSON] = []
        while let e = reader.next() {
            guard let r = e.record else { continue }
            // The files say out/err; the API (as the subscription) says stdout/stderr.
            let stream = r.stream == "out" ? "stdout" : r.stream == "err" ? "stderr" : r.stream
            out.append(logJSON(unit: e.unit, time: r.timestamp, stream: stream, pid: r.pid, text: r.text))
        }
        return out
    }
}
