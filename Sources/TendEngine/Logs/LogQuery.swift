import CTend
import Glibc
import TendModel
import TendSystem

/// A question to the log store (`LOG_DIR/UNIT/` as `LogWriter` writes it), as plain data: which units, which
/// time range, how many records, which streams, in which order, and whether to keep following the log as it
/// grows. `LogQueryReader` answers it; `tend logs` is one front end, the web dashboard and HTTP API others.
///
/// The answer is the records in `[since, until]` (both inclusive, µs since the epoch; either may be nil) of
/// the streams in `streams` whose text matches `grep`, merged across units in time order (a unit's records
/// keep their order), of which only the last `last` when it is set, newest first when `reverse`. With
/// `follow`, the history is followed by every record written later, across rotation and service restarts,
/// none lost and none repeated between the two, until a record newer than `until` (if set) appears.
public struct LogQuery: Sendable {
    /// The log directory: one subdirectory per unit.
    public var logDirectory: String
    /// Unit names (their directories under `logDirectory`; `tend` is the manager's own log). Empty: every unit
    /// that has a log directory.
    public var units: [String]
    /// The oldest time wanted, inclusive (µs since the epoch).
    public var since: UInt64?
    /// The newest time wanted, inclusive (µs since the epoch). When following, the first newer record ends it.
    public var until: UInt64?
    /// Only the last N records of the answer (after the filters). nil: all. When following, this is the history
    /// printed before the new records (0: only new records).
    public var last: Int?
    /// Only records of these streams (`LogStream`: stdout, stderr, the manager's own messages). nil: all.
    public var streams: Set<LogStream>?
    /// Only records whose text this accepts (`tend logs --grep` passes a regular expression's match). nil: all.
    /// A predicate rather than a pattern, so the log layer, which the manager links, carries no regex engine
    /// (the Swift one is about 1 MB of code).
    public var matching: (@Sendable (String) -> Bool)?
    /// Newest first. Not with `follow`.
    public var reverse: Bool
    /// Keep delivering records as they are written.
    public var follow: Bool

    public init(logDirectory: String, units: [String] = [], since: UInt64? = nil, until: UInt64? = nil,
                last: Int? = nil, streams: Set<LogStream>? = nil, matching: (@Sendable (String) -> Bool)? = nil,
                reverse: Bool = false, follow: Bool = false) {
        self.logDirectory = logDirectory
        self.units = units
        self.since = since
        self.until = until
        self.last = last
        self.streams = streams
        self.matching = matching
        self.reverse = reverse
        self.follow = follow
    }

    /// The units asked about, with their directories: the named ones, or every unit with a log.
    public func resolvedUnits() -> [(name: String, directory: String)] {
        let names = units.isEmpty ? LogDirectoryListing.units(in: logDirectory) : units
        return names.map { ($0, logDirectory + "/" + $0) }
    }
}

/// One record of an answer: the record as stored (`TIMESTAMP STREAM PID TEXT`, without its newline) and the
/// unit whose log holds it.
public struct LogEntry: Sendable {
    public var unit: String
    /// The record's bytes, as in the file (what `LogText.render` takes).
    public var line: [UInt8]
    /// The record's time, µs since the epoch (0 for a line that is not a record, e.g. a torn one).
    public var timestamp: UInt64

    public init(unit: String, line: [UInt8]) {
        self.unit = unit
        self.line = line
        timestamp = LogFormat.timestamp(line) ?? 0
    }

    /// The record split into its fields (nil for a line that is not a record).
    public var record: LogFormat.Record? { LogFormat.parse(line) }
}

public enum LogQueryError: Error, Sendable, CustomStringConvertible {
    /// `follow` and `reverse` together.
    case reverseWhileFollowing
    /// The log directories can't be watched (an errno).
    case watchFailed(Int32)

    public var description: String {
        switch self {
        case .reverseWhileFollowing: "Following and reverse order don't go together."
        case .watchFailed(let e): "Failed to watch the log directory: \(Posix.errorText(e))"
        }
    }
}

/// Answers a `LogQuery`, one record at a time, pulled by the caller: `next()` returns the next record, or nil
/// when there is none now. Nothing here blocks or owns a thread, so a long-running server can serve many
/// queries from its own event loop:
///
///     let reader = try LogQueryReader(query)
///     while true {
///         while let entry = reader.next() { send(entry) }
///         if reader.isFinished { break }
///         reader.wait(timeoutMilliseconds: -1)   // or: poll/epoll `reader.descriptor` for reading
///     }
///
/// Without `follow`, nil from `next()` means the end (`isFinished`). With `follow`, it means "nothing new
/// yet": `descriptor` (an inotify instance watching the units' directories) becomes readable when records may
/// have been written, and the next `next()` reads them (it drains the descriptor itself, before reading the
/// files, so a record written meanwhile leaves it readable: a level-triggered wait never misses one).
///
/// Costs: a plain time range is streamed, a k-way merge of one `LogCursor` per unit, each placed by a binary
/// search, so the first record comes after O(log size) reads however large the store; `last` without a range
/// or filter reads each unit's log backwards from its end. `last` with a range or filter, and `reverse`,
/// collect the answer first (keeping at most the last N per unit).
///
/// A reader is used from one thread at a time (not `Sendable`); a server makes one per request or client.
public final class LogQueryReader {
    public let query: LogQuery
    /// No more records will come (the range is exhausted, or, when following, a record newer than `until`
    /// appeared). Never true while following without `until`.
    public private(set) var isFinished = false

    private let units: [(name: String, directory: String)]
    private let matching: (@Sendable (String) -> Bool)?
    private let streamCodes: Set<String>?
    private let filtered: Bool
    /// Streamed merge: one cursor per unit and its next kept record.
    private var cursors: [LogCursor] = []
    private var heads: [LogEntry?] = []
    private var merging = false
    /// Records ready to hand out (a collected answer, the history, or a batch of new records).
    private var pending: [LogEntry] = []
    private var pendingIndex = 0
    private var followers: [(unit: String, follower: LogFollower)] = []
    private var inotify: Int32 = -1

    /// Opens the query: finds where the range starts in each unit's log and, when following, starts watching
    /// before it reads the history. Unit directories that don't exist yet are created when following, so a unit
    /// that hasn't logged yet can be watched from its first record.
    public init(_ query: LogQuery) throws {
        self.query = query
        units = query.resolvedUnits()
        matching = query.matching
        streamCodes = query.streams.map { Set($0.map(\.rawValue)) }
        filtered = matching != nil || streamCodes != nil
        if query.follow {
            guard !query.reverse else { throw LogQueryError.reverseWhileFollowing }
            try startFollowing()
        } else if query.last == nil && !query.reverse {
            cursors = units.map { LogCursor(directory: $0.directory, since: query.since, until: query.until) }
            heads = cursors.indices.map { nextKept($0) }
            merging = true
        } else {
            pending = collect()
        }
    }

    deinit { close() }

    /// The descriptor to wait on for reading while following (an inotify instance), -1 otherwise or after
    /// `close()`. Readable when `next()` may have new records. It stays valid until `close()` or the reader's
    /// end; don't read from it.
    public var descriptor: Int32 { inotify }

    /// Releases the watch and the files (also done when the reader goes away). `next()` then returns nil.
    public func close() {
        if inotify >= 0 { Posix.close(inotify) }
        inotify = -1
        followers = []
        finish()
    }

    /// The next record, or nil when there is none now (see `isFinished`).
    public func next() -> LogEntry? {
        if merging { return nextMerged() }
        while !isFinished {
            if pendingIndex < pending.count {
                let entry = pending[pendingIndex]
                pendingIndex += 1
                if query.follow, let until = query.until, entry.timestamp > until {
                    finish()
                    return nil
                }
                return entry
            }
            guard query.follow else {
                finish()
                return nil
            }
            pending.removeAll(keepingCapacity: true)
            pendingIndex = 0
            readNewRecords()
            if pending.isEmpty { return nil }
        }
        return nil
    }

    /// Blocks until `next()` may have a record or `timeoutMilliseconds` pass (-1: no limit). Returns at once
    /// when records are ready or the answer is finished. True unless it timed out.
    @discardableResult
    public func wait(timeoutMilliseconds: Int32) -> Bool {
        if isFinished || merging || pendingIndex < pending.count || inotify < 0 { return true }
        let deadline = timeoutMilliseconds < 0 ? nil : ctend_monotonic_ns() + UInt64(timeoutMilliseconds) * 1_000_000
        while true {
            var remaining: Int32 = -1
            if let deadline {
                let now = ctend_monotonic_ns()
                remaining = now >= deadline ? 0 : Int32(clamping: (deadline - now + 999_999) / 1_000_000)
            }
            var pfd = pollfd(fd: inotify, events: Int16(POLLIN), revents: 0)
            let r = poll(&pfd, 1, remaining)
            if r > 0 { return true }
            if r == 0 { return false }
            if errno != EINTR { return true }
        }
    }

    // MARK: - The three ways of answering

    private func keeps(_ line: [UInt8]) -> Bool {
        guard filtered else { return true }
        guard let r = LogFormat.parse(line) else { return false }
        if let streamCodes, !streamCodes.contains(r.stream) { return false }
        if let matching, !matching(r.text) { return false }
        return true
    }

    private func finish() {
        isFinished = true
        merging = false
        cursors = []
        heads = []
        pending = []
        pendingIndex = 0
    }

    /// A plain range: the next kept record of unit `i`'s cursor.
    private func nextKept(_ i: Int) -> LogEntry? {
        while let line = cursors[i].next() {
            if keeps(line) { return LogEntry(unit: units[i].name, line: line) }
        }
        return nil
    }

    /// A k-way merge of the cursors' heads: the oldest goes first, ties to the unit listed first.
    private func nextMerged() -> LogEntry? {
        var best = -1
        for i in heads.indices {
            guard let h = heads[i] else { continue }
            if best < 0 || h.timestamp < heads[best]!.timestamp { best = i }
        }
        guard best >= 0, let entry = heads[best] else {
            finish()
            return nil
        }
        heads[best] = nextKept(best)
        return entry
    }

    /// `last` or `reverse`: the whole answer, collected.
    private func collect() -> [LogEntry] {
        var records: [LogEntry] = []
        for (name, dir) in units {
            if query.since == nil && query.until == nil && !filtered, let limit = query.last {
                // Backwards from the end: the cost is that of the records asked for, not of the log.
                records += LogReader.tail(directory: dir, count: limit).map { LogEntry(unit: name, line: $0) }
                continue
            }
            var mine: [LogEntry] = []
            let cursor = LogCursor(directory: dir, since: query.since, until: query.until)
            while let line = cursor.next() {
                guard keeps(line) else { continue }
                mine.append(LogEntry(unit: name, line: line))
                if let limit = query.last, mine.count > 2 * max(limit, 4096) { mine.removeFirst(mine.count - limit) }
            }
            records += mine
        }
        if units.count > 1 { records = Self.timeOrdered(records) }
        if let limit = query.last { records = Array(records.suffix(limit)) }
        if query.reverse { records.reverse() }
        return records
    }

    /// Stable by time: records of one unit (and of equal times) keep their order.
    static func timeOrdered(_ records: [LogEntry]) -> [LogEntry] {
        records.enumerated().sorted { ($0.element.timestamp, $0.offset) < ($1.element.timestamp, $1.offset) }
            .map(\.element)
    }

    /// Watch first, then read: a record written in between makes the descriptor readable, and each follower
    /// reads its history itself and continues exactly where it stopped, so nothing falls between the history
    /// and the new records, and nothing is handed out twice.
    private func startFollowing() throws {
        for (_, dir) in units { try? Posix.mkdirs(dir, mode: 0o755) }
        guard let first = units.first else {
            // Nothing to follow (no unit named, none has a log).
            finish()
            return
        }
        let fd = ctend_inotify_dir(first.directory, 1)
        guard fd >= 0 else { throw LogQueryError.watchFailed(-fd) }
        inotify = fd
        for (_, dir) in units.dropFirst() { _ = ctend_inotify_add(fd, dir) }
        // With a filter, `last` counts matching records: read from the start of the range and cut later.
        let from = query.since ?? (query.last == nil || filtered ? 0 : nil)
        var history: [LogEntry] = []
        for (name, dir) in units {
            let f = LogFollower(directory: dir, since: from, lastRecords: filtered ? nil : query.last)
            for line in f.takePreamble() + f.poll() where keeps(line) {
                if let entry = inRange(LogEntry(unit: name, line: line)) { history.append(entry) }
            }
            followers.append((name, f))
        }
        if units.count > 1 { history = Self.timeOrdered(history) }
        if let limit = query.last { history = Array(history.suffix(limit)) }
        pending = history
    }

    /// Drops a followed record older than `since`: one written after the follower started but stamped before
    /// (a writer thread that lagged behind).
    private func inRange(_ entry: LogEntry) -> LogEntry? {
        if let since = query.since, entry.timestamp != 0 && entry.timestamp < since { return nil }
        return entry
    }

    /// Following: drains the watch, then reads what the followers have (in that order: a record written after
    /// the read leaves an event behind). Several units' new records are merged by time within the batch.
    private func readNewRecords() {
        var buf = [UInt8](repeating: 0, count: 4096)
        while inotify >= 0 {
            let n = buf.withUnsafeMutableBytes { Glibc.read(inotify, $0.baseAddress, $0.count) }
            if n > 0 { continue }
            if n < 0 && errno == EINTR { continue }
            break
        }
        for (unit, f) in followers {
            for line in f.poll() where keeps(line) {
                if let entry = inRange(LogEntry(unit: unit, line: line)) { pending.append(entry) }
            }
        }
        if followers.count > 1 && pending.count > 1 { pending = Self.timeOrdered(pending) }
    }
}
