import CTend
import Glibc
import TendModel
import TendSystem

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

/// How a unit's output is captured: line length, rate limit, timestamp format.
public struct CaptureSettings: Sendable, Equatable {
    public var lineMax: Int
    /// LogRateLimitIntervalSec= in µs (0: no limit) and LogRateLimitBurst=.
    public var rateInterval: UInt64
    public var rateBurst: Int
    public var timestamp: LogTimestampFormat
    public init(lineMax: Int, rateInterval: UInt64, rateBurst: Int, timestamp: LogTimestampFormat) {
        self.lineMax = lineMax
        self.rateInterval = rateInterval
        self.rateBurst = rateBurst
        self.timestamp = timestamp
    }
}

/// The event-loop side of a unit's log: the pipes its processes write to, split into records, stamped, rate
/// limited, and handed to the `LogWriter` thread. Nothing here waits for the disk.
///
/// The pipes live as long as the unit: processes of every run write into the same ones, so nothing is lost
/// between a crash and the restart. What can't be kept is counted and said in the log itself with a marker
/// record (`-- tend: 1234 lines dropped (…) --`).
public final class LogSink {
    public let unit: String
    private let loop: any Reactor
    private let writer: LogWriter
    private let index: Int
    public private(set) var capture: CaptureSettings
    /// Write ends handed to children, and our read ends.
    public private(set) var stdoutWrite: Int32 = -1
    public private(set) var stderrWrite: Int32 = -1
    private var stdoutRead: Int32 = -1
    private var stderrRead: Int32 = -1
    private var tokens: [UInt64] = []
    /// Bytes of a line not yet ended, per stream (stdout, stderr).
    private var partial: [[UInt8]] = [[], []]
    private var partialTimerArmed = false
    /// One read buffer serves every sink: the loop drains one pipe at a time.
    private let scratch: ScratchBuffer
    /// The pid stamped on records read from the pipes (the current main process).
    public var currentPID: Int32 = 0
    /// `SyslogIdentifier=`, stamped on records read from the pipes (`STREAM:IDENT`); nil: none, and readers
    /// show the unit's name.
    public var identifier: String? {
        didSet { identifierBytes = identifier.map { Array(LogFormat.sanitizedIdentifier($0).utf8) } ?? [] }
    }
    private var identifierBytes: [UInt8] = []
    /// Timestamps never go backwards within a log (a clock step back would break time search).
    private var lastTimestamp: UInt64 = 0

    private var rateWindowStart: UInt64 = 0
    private var rateCount = 0
    private var suppressed = 0
    /// Lines the writer's queue had no room for, not yet reported in the log.
    private var queueDropped = 0
    public private(set) var suppressedTotal = 0
    public private(set) var queueDroppedTotal = 0
    /// A partial line is written as a record once it has waited this long for its end.
    public static let partialFlushDelay = TimeSpan.milliseconds(100)
    /// Told of every chunk of records handed to the writer (the manager's log subscriptions).
    public var onRecords: ((String, [UInt8]) -> Void)?

    public init(unit: String, settings: LogSettings, capture: CaptureSettings, writer: LogWriter, loop: any Reactor,
                scratch: ScratchBuffer) {
        self.unit = unit
        self.capture = capture
        self.writer = writer
        self.loop = loop
        self.scratch = scratch
        // Before anything of ours is written: records from earlier runs of the manager are on disk only.
        var st = stat()
        hadOlderRecords = stat(settings.directory + "/current", &st) == 0 && st.st_size > 0
        self.index = writer.register(settings)
    }

    deinit { close() }

    /// New settings (daemon-reload).
    public func update(settings: LogSettings, capture: CaptureSettings) {
        self.capture = capture
        writer.update(index, settings)
    }

    /// Lines lost to the disk (the writer's count) plus lines the queue refused.
    public var droppedLines: Int { writer.droppedLines(index) + queueDroppedTotal }

    /// Creates the pipes (once).
    /// Called with the four ends (stdout read, write, stderr read, write) when the pipes are made, so that the
    /// holder keeps them (see `Manager.attach(holder:)`).
    public var onPipesOpened: (([Int32]) -> Void)?

    /// Pipes handed back by the holder after the manager's restart: the running service still writes into
    /// them; what it wrote meanwhile is read now.
    public func adoptPipes(_ fds: [Int32]) throws {
        guard fds.count == 4, stdoutRead < 0 else { return }
        (stdoutRead, stdoutWrite, stderrRead, stderrWrite) = (fds[0], fds[1], fds[2], fds[3])
        for (readEnd, stream) in [(fds[0], LogStream.stdout), (fds[2], .stderr)] {
            _ = fcntl(readEnd, F_SETFL, fcntl(readEnd, F_GETFL) | O_NONBLOCK)
            tokens.append(try loop.watch(readEnd) { [unowned self] _ in self.drain(readEnd, stream) })
        }
    }

    public func openPipes() throws {
        guard stdoutRead < 0 else { return }
        defer { onPipesOpened?([stdoutRead, stdoutWrite, stderrRead, stderrWrite]) }
        for stream in [LogStream.stdout, .stderr] {
            var fds: [Int32] = [-1, -1]
            let e = ctend_pipe(&fds, 1)
            guard e == 0 else { throw SystemError("create log pipe for \(unit)", errno: e) }
            // A deeper pipe absorbs bursts while the loop is busy elsewhere.
            _ = ctend_set_pipe_size(fds[1], 1 << 20)
            if stream == .stdout {
                (stdoutRead, stdoutWrite) = (fds[0], fds[1])
            } else {
                (stderrRead, stderrWrite) = (fds[0], fds[1])
            }
            let readEnd = fds[0]
            tokens.append(try loop.watch(readEnd) { [unowned self] _ in self.drain(readEnd, stream) })
        }
    }

    public func close() {
        for t in tokens { loop.unwatch(t) }
        tokens = []
        for fd in [stdoutRead, stdoutWrite, stderrRead, stderrWrite] where fd >= 0 { Posix.close(fd) }
        stdoutRead = -1
        stdoutWrite = -1
        stderrRead = -1
        stderrWrite = -1
        loop.cancelDeadline(ObjectIdentifier(self))
        loop.cancelDeadline(ObjectIdentifier(self), slot: 1)
    }

    /// Reads whatever the pipes hold now and writes out partial lines: called when a process of the unit
    /// exits, so its last words are logged before the news of its death.
    public func drainAll() {
        if stdoutRead >= 0 { drain(stdoutRead, .stdout) }
        if stderrRead >= 0 { drain(stderrRead, .stderr) }
        flushPartial()
        reportSuppressed()
    }

    /// Lines dropped by the rate limit are reported when its window ends, even if nothing more is written then,
    /// and when a process of the unit exits (`drainAll`): the log never hides that it lost lines.
    private func armSuppressionReport(_ time: UInt64) {
        let left = (rateWindowStart &+ capture.rateInterval) &- time
        loop.setDeadline(ObjectIdentifier(self), slot: 1, at: Posix.monotonicNow + TimeSpan(usec: min(left, capture.rateInterval))) {
            [unowned self] in self.reportSuppressed()
        }
    }

    private var suppressionNote: String {
        "\(suppressed) lines suppressed by the rate limit (LogRateLimitBurst=\(capture.rateBurst) per \(TimeSpan(usec: capture.rateInterval)))"
    }

    private func reportSuppressed() {
        guard suppressed > 0 else { return }
        loop.cancelDeadline(ObjectIdentifier(self), slot: 1)
        var out: [UInt8] = []
        let time = now()
        marker(&out, time, suppressionNote)
        suppressed = 0
        var lines = 1
        submit(&out, &lines, time)
    }

    private func now() -> UInt64 {
        let t = max(Posix.realtimeMicroseconds, lastTimestamp)
        lastTimestamp = t
        return t
    }

    /// `TIMESTAMP STREAM PID `: computed once per read (every record of one read shares its arrival time).
    private func prefix(_ time: UInt64, _ stream: LogStream, _ pid: Int32) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(48)
        LogFormat.appendTimestamp(time, capture.timestamp, to: &out)
        out.append(32)
        out += stream.rawValue.utf8
        if !identifierBytes.isEmpty {
            out.append(UInt8(ascii: ":"))
            out += identifierBytes
        }
        out.append(32)
        out += String(pid).utf8
        out.append(32)
        return out
    }

    private func drain(_ pipe: Int32, _ stream: LogStream) {
        let slot = stream == .stdout ? 0 : 1
        var out: [UInt8] = []
        out.reserveCapacity(scratch.bytes.count + scratch.bytes.count / 2)
        var lines = 0
        var first: UInt64 = 0
        var budget = 16  // reads per wakeup, so one chatty service can't starve the loop
        while budget > 0 {
            budget -= 1
            let got: Int? = scratch.bytes.withUnsafeMutableBytes { buf -> Int? in
                do { return try Posix.read(pipe, into: buf) } catch { return 0 }
            }
            guard let n = got, n > 0 else { break }
            let time = now()
            if first == 0 { first = time }
            let head = prefix(time, stream, currentPID)
            scratch.bytes.withUnsafeBufferPointer { buf in
                var start = 0
                var i = 0
                while i < n {
                    // memchr: the newline search is the hot loop of log ingestion.
                    guard let p = memchr(buf.baseAddress! + i, 10, n - i) else { break }
                    let nl = buf.baseAddress!.distance(to: p.assumingMemoryBound(to: UInt8.self))
                    if partial[slot].isEmpty {
                        emit(&out, &lines, head, UnsafeBufferPointer(rebasing: buf[start..<nl]), time)
                    } else {
                        partial[slot].append(contentsOf: UnsafeBufferPointer(rebasing: buf[start..<nl]))
                        let whole = partial[slot]
                        partial[slot].removeAll(keepingCapacity: true)
                        whole.withUnsafeBufferPointer { emit(&out, &lines, head, $0, time) }
                    }
                    start = nl + 1
                    i = start
                }
                if start < n { partial[slot].append(contentsOf: UnsafeBufferPointer(rebasing: buf[start..<n])) }
            }
            // A line longer than LineMax= is split, not lost.
            while partial[slot].count >= capture.lineMax {
                let piece = Array(partial[slot].prefix(capture.lineMax))
                partial[slot].removeFirst(capture.lineMax)
                piece.withUnsafeBufferPointer { emit(&out, &lines, head, $0, time) }
            }
            if out.count >= 1 << 20 {
                submit(&out, &lines, first)
                first = 0
            }
        }
        submit(&out, &lines, first == 0 ? lastTimestamp : first)
        armPartialFlush()
    }

    /// One record: the prefix, the text (split at LineMax=), a newline; subject to the rate limit.
    private func emit(
        _ out: inout [UInt8], _ lines: inout Int, _ head: [UInt8], _ text: UnsafeBufferPointer<UInt8>, _ time: UInt64
    ) {
        if capture.rateInterval > 0 {
            if time &- rateWindowStart >= capture.rateInterval {
                if suppressed > 0 {
                    marker(&out, time, suppressionNote)
                    lines += 1
                    suppressed = 0
                }
                rateWindowStart = time
                rateCount = 0
            }
            rateCount += 1
            if rateCount > capture.rateBurst {
                suppressed += 1
                suppressedTotal += 1
                if suppressed == 1 { armSuppressionReport(time) }
                return
            }
        }
        var rest = text[...]
        repeat {
            let piece = rest.prefix(capture.lineMax)
            rest = rest.dropFirst(piece.count)
            out += head
            // A record is one line: a carriage return ending a CRLF line is dropped.
            let body = rest.isEmpty && piece.last == 13 ? piece.dropLast() : piece
            out.append(contentsOf: UnsafeBufferPointer(rebasing: body))
            out.append(10)
            lines += 1
        } while !rest.isEmpty
    }

    private func marker(_ out: inout [UInt8], _ time: UInt64, _ what: String) {
        LogFormat.appendTimestamp(time, capture.timestamp, to: &out)
        out += " tend \(getpid()) -- tend: \(what) --\n".utf8
    }

    private func submit(_ out: inout [UInt8], _ lines: inout Int, _ first: UInt64) {
        guard !out.isEmpty else { return }
        var chunk = out
        if queueDropped > 0 {
            var m: [UInt8] = []
            marker(&m, first, "\(queueDropped) lines dropped (the log writer fell behind)")
            chunk = m + chunk
        }
        if writer.submit(index, chunk, lines: lines, first: first) {
            queueDropped = 0
            remember(chunk)
            onRecords?(unit, chunk)
        } else {
            queueDropped += lines
            queueDroppedTotal += lines
        }
        out.removeAll(keepingCapacity: true)
        lines = 0
    }

    /// The last records written, for `tend status` (no file to open per unit). Only records of this manager's
    /// lifetime; `recent(_:)` answers nil when it can't answer in full, and the caller reads the files.
    /// nil stands for a record too long to keep here.
    private var recentRecords: [[UInt8]?] = []
    /// Records ever remembered, and whether the log had records before this sink wrote any: while it had none
    /// and nothing was evicted, the ring is the whole log.
    private var rememberedTotal = 0
    private let hadOlderRecords: Bool
    public static let recentCount = 10
    static let recentRecordMax = 2048

    /// Keeps the last records of a chunk: a scan back over at most `recentCount` newlines, not per line.
    private func remember(_ chunk: [UInt8]) {
        var end = chunk.count - 1  // the final newline
        var found: [[UInt8]?] = []
        while end > 0 && found.count < LogSink.recentCount {
            var start = end - 1
            while start >= 0 && chunk[start] != 10 { start -= 1 }
            let length = end - (start + 1)
            found.append(length > LogSink.recentRecordMax ? nil : Array(chunk[(start + 1)..<end]))
            end = start
        }
        rememberedTotal += found.count
        recentRecords = Array((recentRecords + found.reversed()).suffix(LogSink.recentCount))
    }

    /// The last `count` records, when kept in memory (nil: read the files).
    public func recent(_ count: Int) -> [[UInt8]]? {
        let wholeLog = !hadOlderRecords && rememberedTotal == recentRecords.count
        guard count <= recentRecords.count || wholeLog else { return nil }
        let wanted = recentRecords.suffix(count)
        let records = wanted.compactMap { $0 }
        return records.count == wanted.count ? records : nil
    }

    /// A line still waiting for its end is written out once no more of it has come for `partialFlushDelay`
    /// (re-armed at every read, so a line arriving in pieces at full speed is never cut).
    private func armPartialFlush() {
        let pending = !partial[0].isEmpty || !partial[1].isEmpty
        if pending {
            partialTimerArmed = true
            loop.setDeadline(ObjectIdentifier(self), at: Posix.monotonicNow + LogSink.partialFlushDelay) {
                [unowned self] in
                self.partialTimerArmed = false
                self.flushPartial()
            }
        } else if !pending && partialTimerArmed {
            partialTimerArmed = false
            loop.cancelDeadline(ObjectIdentifier(self))
        }
    }

    /// Writes lines still waiting for their newline as records of their own.
    public func flushPartial() {
        var out: [UInt8] = []
        var lines = 0
        let time = now()
        for (slot, stream) in [(0, LogStream.stdout), (1, .stderr)] where !partial[slot].isEmpty {
            let head = prefix(time, stream, currentPID)
            let text = partial[slot]
            partial[slot] = []
            text.withUnsafeBufferPointer { emit(&out, &lines, head, $0, time) }
        }
        submit(&out, &lines, time)
        armPartialFlush()
    }

    /// Writes the manager's own message about the unit into its log.
    public func note(_ text: String, pid: Int32 = Int32(getpid())) {
        var out: [UInt8] = []
        let time = now()
        out += prefix(time, .manager, pid)
        out += text.utf8.map { $0 == 10 ? 32 : $0 }
        out.append(10)
        var lines = 1
        submit(&out, &lines, time)
    }
}
