import CTend
import Glibc

/// The stream a log record came from.
public enum LogStream: String, Sendable {
    case stdout = "out"
    case stderr = "err"
    /// The manager's own messages about the unit.
    case manager = "tend"
}

/// A buffer shared by the sinks of one manager (one thread).
public final class ScratchBuffer {
    public var bytes: [UInt8]
    public init(size: Int) { bytes = [UInt8](repeating: 0, count: size) }
}

/// Formats the fixed-width UTC timestamp of a record, `2026-11-22T02:50:01.123456Z`, caching the
/// date-and-time part per second.
struct TimestampFormatter {
    private var cachedSecond: UInt64 = .max
    private var cachedPrefix: [UInt8] = []

    mutating func append(_ realtimeUS: UInt64, to out: inout [UInt8]) {
        let second = realtimeUS / 1_000_000
        if second != cachedSecond {
            var t = time_t(second)
            var tm = tm()
            gmtime_r(&t, &tm)
            cachedPrefix = Array(
                "\(pad(Int(tm.tm_year) + 1900, 4))-\(pad(Int(tm.tm_mon) + 1, 2))-\(pad(Int(tm.tm_mday), 2))T\(pad(Int(tm.tm_hour), 2)):\(pad(Int(tm.tm_min), 2)):\(pad(Int(tm.tm_sec), 2))."
                    .utf8)
            cachedSecond = second
        }
        out.append(contentsOf: cachedPrefix)
        var frac = realtimeUS % 1_000_000
        var digits = [UInt8](repeating: UInt8(ascii: "0"), count: 6)
        for i in stride(from: 5, through: 0, by: -1) {
            digits[i] = UInt8(ascii: "0") + UInt8(frac % 10)
            frac /= 10
        }
        out.append(contentsOf: digits)
        out.append(UInt8(ascii: "Z"))
    }

    private func pad(_ v: Int, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}

/// A unit's log: the pipes its processes write to, and the file the manager appends records to,
/// `LOG_DIR/NAME/current`, one record a line: `TIMESTAMP STREAM PID TEXT` (UTC, microseconds).
///
/// The pipes live as long as the unit: processes of every run write into the same ones, so nothing is
/// lost between a crash and the restart.
public final class LogSink {
    public let unit: String
    public let path: String
    private var fd: Int32 = -1
    private let loop: EventLoop
    /// Write ends handed to children, and our read ends.
    public private(set) var stdoutWrite: Int32 = -1
    public private(set) var stderrWrite: Int32 = -1
    private var stdoutRead: Int32 = -1
    private var stderrRead: Int32 = -1
    private var tokens: [UInt64] = []
    private var partial: [LogStream: [UInt8]] = [:]
    private var formatter = TimestampFormatter()
    /// The pid stamped on records read from the pipes (the current main process).
    public var currentPID: Int32 = 0
    /// Lines that could not be written (disk full, ...), and whether the error was reported.
    public private(set) var droppedLines = 0
    /// Called with each record as written (for followers).
    public var onRecord: ((ArraySlice<UInt8>) -> Void)?
    /// Longest line kept whole; longer ones are split.
    public static let lineMax = 48 * 1024

    public init(unit: String, directory: String, loop: EventLoop, scratch: ScratchBuffer) {
        self.scratch = scratch
        self.unit = unit
        self.path = directory + "/" + unit + "/current"
        self.loop = loop
    }

    deinit { close() }

    /// Creates the pipes (once).
    public func openPipes() throws {
        guard stdoutRead < 0 else { return }
        var fds: [Int32] = [-1, -1]
        var e = ctend_pipe(&fds, 1)
        guard e == 0 else { throw SystemError("create log pipe for \(unit)", errno: e) }
        stdoutRead = fds[0]
        stdoutWrite = fds[1]
        e = ctend_pipe(&fds, 1)
        guard e == 0 else { throw SystemError("create log pipe for \(unit)", errno: e) }
        stderrRead = fds[0]
        stderrWrite = fds[1]
        tokens.append(try loop.watch(stdoutRead) { [unowned self] _ in self.drain(self.stdoutRead, .stdout) })
        tokens.append(try loop.watch(stderrRead) { [unowned self] _ in self.drain(self.stderrRead, .stderr) })
    }

    public func close() {
        for t in tokens { loop.unwatch(t) }
        tokens = []
        for fd in [stdoutRead, stdoutWrite, stderrRead, stderrWrite, fd] where fd >= 0 { Posix.close(fd) }
        stdoutRead = -1
        stdoutWrite = -1
        stderrRead = -1
        stderrWrite = -1
        fd = -1
    }

    /// One read buffer serves every sink: the loop drains one pipe at a time.
    private let scratch: ScratchBuffer

    private func drain(_ pipe: Int32, _ stream: LogStream) {
        var out: [UInt8] = []
        out.reserveCapacity(65536 + 256)
        var budget = 16  // reads per wakeup, so one chatty service can't starve the loop
        while budget > 0 {
            budget -= 1
            let got: Int? = scratch.bytes.withUnsafeMutableBytes { buf -> Int? in
                do { return try Posix.read(pipe, into: buf) } catch { return 0 }
            }
            guard let n = got, n > 0 else { break }
            let now = Posix.realtimeMicroseconds
            var start = 0
            var buffered = partial[stream] ?? []
            let readBuffer = scratch.bytes
            for i in 0..<n where readBuffer[i] == 10 {
                if buffered.isEmpty {
                    appendRecord(&out, now, stream, currentPID, readBuffer[start..<i])
                } else {
                    buffered.append(contentsOf: readBuffer[start..<i])
                    appendRecord(&out, now, stream, currentPID, buffered[...])
                    buffered.removeAll(keepingCapacity: true)
                }
                start = i + 1
            }
            if start < n { buffered.append(contentsOf: readBuffer[start..<n]) }
            while buffered.count >= LogSink.lineMax {
                appendRecord(&out, now, stream, currentPID, buffered[0..<LogSink.lineMax])
                buffered.removeFirst(LogSink.lineMax)
            }
            partial[stream] = buffered
            if out.count > 1 << 20 {
                flush(&out)
            }
        }
        flush(&out)
    }

    /// Writes the manager's own message about the unit into its log.
    public func note(_ text: String, pid: Int32 = Int32(getpid())) {
        var out: [UInt8] = []
        appendRecord(&out, Posix.realtimeMicroseconds, .manager, pid, Array(text.utf8)[...])
        flush(&out)
    }

    private func appendRecord(
        _ out: inout [UInt8], _ time: UInt64, _ stream: LogStream, _ pid: Int32, _ text: ArraySlice<UInt8>
    ) {
        let begin = out.count
        formatter.append(time, to: &out)
        out.append(32)
        out.append(contentsOf: stream.rawValue.utf8)
        out.append(32)
        out.append(contentsOf: String(pid).utf8)
        out.append(32)
        // A record is one line: a stray carriage return at the end (CRLF output) is dropped.
        var body = text
        if body.last == 13 { body = body.dropLast() }
        out.append(contentsOf: body)
        out.append(10)
        onRecord?(out[begin...])
    }

    private func flush(_ out: inout [UInt8]) {
        guard !out.isEmpty else { return }
        defer { out.removeAll(keepingCapacity: true) }
        if fd < 0 {
            let dir = String(path.dropLast("/current".count))
            try? Posix.mkdirs(dir)
            fd = (try? Posix.open(path, O_WRONLY | O_CREAT | O_APPEND, mode: 0o640)) ?? -1
        }
        guard fd >= 0 else {
            droppedLines += out.reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
            return
        }
        do {
            try Posix.write(fd, out)
        } catch {
            droppedLines += out.reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
        }
    }

    /// The last `count` records of a log file (oldest first).
    public static func tail(path: String, count: Int) -> [String] {
        guard count > 0, let fd = try? Posix.open(path, O_RDONLY) else { return [] }
        defer { Posix.close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return [] }
        var end = Int(st.st_size)
        var collected: [UInt8] = []
        var newlines = 0
        let chunk = 65536
        while end > 0 && newlines <= count {
            let start = max(0, end - chunk)
            var buf = [UInt8](repeating: 0, count: end - start)
            let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, end - start, off_t(start)) }
            guard n > 0 else { break }
            newlines += buf[0..<n].reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
            collected = Array(buf[0..<n]) + collected
            end = start
        }
        var lines = collected.split(separator: 10, omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        return lines.suffix(count).map { String(decoding: $0, as: UTF8.self) }
    }
}
