import CTend
import Glibc
import Synchronization
import TendModel
import TendSystem

/// Where and how one unit's log is kept.
public struct LogSettings: Sendable, Equatable {
    public var directory: String
    public var maxSize: UInt64
    public var maxFiles: Int
    public var maxUse: UInt64
    public var timestamp: LogTimestampFormat
    public init(directory: String, maxSize: UInt64, maxFiles: Int, maxUse: UInt64, timestamp: LogTimestampFormat) {
        self.directory = directory
        self.maxSize = maxSize
        self.maxFiles = maxFiles
        self.maxUse = maxUse
        self.timestamp = timestamp
    }

    /// The size at which `current` rotates: LogMaxSize=, but never more than half of LogMaxUse=, so that the
    /// store keeps at least one segment of history and `current` growing to its limit can't push the total past
    /// LogMaxUse= (journald likewise caps a file at a fraction of SystemMaxUse=).
    public var segmentSize: UInt64 { max(4096, min(maxSize, maxUse / 2)) }

    /// What the rotated segments may use together: LogMaxUse= less the room `current` may grow into.
    var segmentBudget: UInt64 { maxUse > segmentSize ? maxUse - segmentSize : 0 }
}

/// The log store's writer: a thread of its own that appends records to each unit's `current` file, rotates
/// and prunes. The event loop only formats records and hands them over (`submit`), so a slow or full disk
/// never stalls the manager, and through it the services: the queue between the two is bounded, and what
/// doesn't fit is dropped and counted by the caller, never waited for.
///
/// Sharing: `shared` (the queue and the counters) behind a Mutex; an eventfd wakes the thread. Everything
/// about files lives on the writer thread alone.
public final class LogWriter: Sendable {
    enum Op: Sendable {
        case configure(Int, LogSettings)
        case write(Int, [UInt8], lines: Int, first: UInt64)
    }

    struct Shared: Sendable {
        var queue: [Op] = []
        var queuedBytes = 0
        var stopping = false
        /// Lines the writer could not write (disk full, unwritable), per unit index.
        var dropped: [Int: Int] = [:]
        var nextIndex = 0
        var idle = true
    }

    private let shared = Mutex(Shared())
    private let wakeFD: Int32
    /// Bytes allowed in flight between the loop and the disk.
    public let capacity: Int
    private let threadBox = Mutex<pthread_t?>(nil)

    public init(capacity: Int = 32 << 20) throws {
        let fd = ctend_eventfd()
        guard fd >= 0 else { throw SystemError("create eventfd", errno: -fd) }
        wakeFD = fd
        self.capacity = capacity
        let context = Unmanaged.passRetained(self).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { raw in
            let writer = Unmanaged<LogWriter>.fromOpaque(raw!).takeRetainedValue()
            writer.threadMain()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<LogWriter>.fromOpaque(context).release()
            throw SystemError("start the log writer thread", errno: rc)
        }
        threadBox.withLock { $0 = tid }
    }

    /// Registers a unit's log; returns its index for `submit`.
    public func register(_ settings: LogSettings) -> Int {
        let index = shared.withLock { s -> Int in
            let i = s.nextIndex
            s.nextIndex += 1
            s.queue.append(.configure(i, settings))
            return i
        }
        wake()
        return index
    }

    /// New settings for a registered unit (daemon-reload).
    public func update(_ index: Int, _ settings: LogSettings) {
        shared.withLock { $0.queue.append(.configure(index, settings)) }
        wake()
    }

    /// Queues complete records for a unit. Returns false, queuing nothing, when the queue is full.
    public func submit(_ index: Int, _ bytes: [UInt8], lines: Int, first: UInt64) -> Bool {
        let accepted = shared.withLock { s -> Bool in
            guard s.queuedBytes + bytes.count <= capacity || s.queuedBytes == 0 else { return false }
            s.queuedBytes += bytes.count
            s.queue.append(.write(index, bytes, lines: lines, first: first))
            s.idle = false
            return true
        }
        if accepted { wake() }
        return accepted
    }

    /// Lines of a unit the writer had to drop (the disk refused them).
    public func droppedLines(_ index: Int) -> Int { shared.withLock { $0.dropped[index] ?? 0 } }

    /// Whether everything submitted so far is on disk (or was dropped).
    public var isIdle: Bool { shared.withLock { $0.idle } }

    /// Writes what is queued, then ends the thread.
    public func stop() {
        shared.withLock { $0.stopping = true }
        wake()
        if let tid = threadBox.withLock({ $0 }) { pthread_join(tid, nil) }
    }

    private func wake() {
        var one: UInt64 = 1
        _ = Glibc.write(wakeFD, &one, 8)
    }

    // MARK: - The writer thread

    private func threadMain() {
        var files: [Int: UnitFile] = [:]
        while true {
            var counter: UInt64 = 0
            _ = Glibc.read(wakeFD, &counter, 8)
            while true {
                let (batch, stopping) = shared.withLock { s -> ([Op], Bool) in
                    let b = s.queue
                    s.queue = []
                    if b.isEmpty { s.idle = true }
                    return (b, s.stopping)
                }
                if batch.isEmpty {
                    if stopping {
                        for f in files.values { f.close() }
                        return
                    }
                    break
                }
                var written = 0
                for op in batch {
                    switch op {
                    case .configure(let i, let settings):
                        if let f = files[i] { f.settings = settings } else { files[i] = UnitFile(settings) }
                    case .write(let i, let bytes, let lines, let first):
                        written += bytes.count
                        guard let f = files[i] else { continue }
                        let lost = f.append(bytes, lines: lines, first: first)
                        if lost > 0 { shared.withLock { $0.dropped[i, default: 0] += lost } }
                    }
                }
                shared.withLock { $0.queuedBytes -= written }
            }
        }
    }
}

/// One unit's files, on the writer thread: `current`, and rotated segments named by their first record's time.
final class UnitFile {
    var settings: LogSettings
    private var fd: Int32 = -1
    private var size: UInt64 = 0
    /// The time of the first record in `current` (names the segment at rotation).
    private var firstRecord: UInt64?
    /// Lines lost in the current episode of write failures, reported when writing works again.
    private var failing: (lines: Int, error: Int32)?

    init(_ settings: LogSettings) { self.settings = settings }

    var currentPath: String { settings.directory + "/current" }

    func close() {
        if fd >= 0 { Posix.close(fd) }
        fd = -1
    }

    private func open() -> Int32? {
        if fd >= 0 { return nil }
        do {
            try Posix.mkdirs(settings.directory, mode: 0o755)
            fd = try Posix.open(currentPath, O_WRONLY | O_CREAT | O_APPEND, mode: 0o640)
        } catch let e as SystemError {
            return e.errno
        } catch {
            return EIO
        }
        var st = stat()
        fstat(fd, &st)
        size = UInt64(st.st_size)
        firstRecord = size > 0 ? LogReader.firstTimestamp(path: currentPath) : nil
        return nil
    }

    /// Appends complete records; returns how many lines were lost.
    func append(_ bytes: [UInt8], lines: Int, first: UInt64) -> Int {
        if let err = open() { return fail(lines, err) }
        if size > 0 && size + UInt64(bytes.count) > settings.segmentSize { rotate() }
        var data = bytes
        if let episode = failing {
            // Say in the log itself what is missing, before the first record that made it.
            var marker: [UInt8] = []
            LogFormat.appendTimestamp(first, settings.timestamp, to: &marker)
            marker += Array(" tend \(getpid()) -- tend: \(episode.lines) lines dropped (\(Posix.errorText(episode.error))) --\n".utf8)
            data = marker + data
        }
        let before = size
        let done: Int
        do {
            done = try data.withUnsafeBytes { try Posix.write(fd, $0) }
        } catch let e as SystemError {
            // Never leave half a record: cut the file back to where this write began.
            _ = ftruncate(fd, off_t(before))
            return fail(lines, e.errno)
        } catch {
            return fail(lines, EIO)
        }
        if done < data.count {
            _ = ftruncate(fd, off_t(before))
            return fail(lines, EAGAIN)
        }
        size += UInt64(data.count)
        if firstRecord == nil { firstRecord = first }
        if let episode = failing {
            failing = nil
            report("Writing the log in \(settings.directory) again; \(episode.lines) lines were dropped.")
        }
        return 0
    }

    private func fail(_ lines: Int, _ err: Int32) -> Int {
        if var episode = failing {
            episode.lines += lines
            failing = episode
        } else {
            failing = (lines, err)
            // Once per episode, not once per line: a full disk must not become a flood of messages.
            report("Failed to write the log in \(settings.directory): \(Posix.errorText(err)); dropping lines until it can be written again.")
        }
        return lines
    }

    private func report(_ message: String) {
        _ = try? Posix.write(2, Array("tend[\(getpid())]: warning: \(message)\n".utf8))
    }

    /// `current` becomes a segment (rename: atomic, nothing is lost or torn if the manager dies here), a new
    /// `current` starts, and the oldest segments go until LogMaxFiles= and LogMaxUse= are met.
    private func rotate() {
        let name = LogFormat.segmentName(firstRecord: firstRecord ?? Posix.realtimeMicroseconds)
        var target = settings.directory + "/" + name
        var n = 1
        while access(target, F_OK) == 0 {
            target = settings.directory + "/" + String(name.dropLast(2)) + ".\(n).s"
            n += 1
        }
        if rename(currentPath, target) == 0 {
            close()
            firstRecord = nil
            _ = open()
        }
        prune()
    }

    /// Runs right after a rotation, so `current` is new: the segments are pruned to LogMaxUse= less the room
    /// `current` may still grow into, and the store as a whole never exceeds LogMaxUse= (by more than one write
    /// batch, which is never split across files).
    private func prune() {
        var segments = LogReader.segments(in: settings.directory)
        var total = segments.reduce(UInt64(0)) { $0 + $1.size }
        while let oldest = segments.first,
            segments.count > settings.maxFiles || total > settings.segmentBudget
        {
            unlink(oldest.path)
            total -= oldest.size
            segments.removeFirst()
        }
    }
}
