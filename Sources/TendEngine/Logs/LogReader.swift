import CTend
import Glibc
import TendModel
import TendSystem

/// Reads a unit's log from the files alone (`LOG_DIR/UNIT/`: rotated `@….s` segments, then `current`), so it
/// works with or without a running manager. Segments are named by their first record's time, and records are
/// in time order, so a time range is found with a binary search, not a scan: the cost of `--since` grows with
/// the logarithm of the store's size.
public enum LogReader {
    public struct Segment: Sendable {
        public var path: String
        public var start: UInt64
        public var size: UInt64
        /// The n of `@X.n.s` (0 for `@X.s`): segments whose first records share a time, in the order made.
        public var suffix: Int = 0
    }

    /// Rotated segments, oldest first.
    public static func segments(in directory: String) -> [Segment] {
        var out: [Segment] = []
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            let base = name.hasSuffix(".s") && name.utf8.count > LogFormat.taiWidth + 2
                ? String(name.prefix(LogFormat.taiWidth)) + ".s" : name
            guard let start = LogFormat.segmentStart(base) else { continue }
            var st = stat()
            let path = directory + "/" + name
            guard stat(path, &st) == 0 else { continue }
            // A name with a suffix (`@X.1.s`) was made because `@X.s` existed: it comes after it.
            let suffix = base == name ? 0 : Int(name.dropFirst(LogFormat.taiWidth + 1).dropLast(2)) ?? 0
            out.append(Segment(path: path, start: start, size: UInt64(st.st_size), suffix: suffix))
        }
        return out.sorted { ($0.start, $0.suffix, $0.path) < ($1.start, $1.suffix, $1.path) }
    }

    /// Every file of the log in time order (segments, then `current`).
    public static func files(in directory: String) -> [String] {
        var files = segments(in: directory).map(\.path)
        if access(directory + "/current", F_OK) == 0 { files.append(directory + "/current") }
        return files
    }

    public static func firstTimestamp(path: String) -> UInt64? {
        guard let fd = try? Posix.open(path, O_RDONLY) else { return nil }
        defer { Posix.close(fd) }
        var buf = [UInt8](repeating: 0, count: 64)
        let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 64, 0) }
        return n > 0 ? LogFormat.timestamp(buf[0..<n]) : nil
    }

    /// The last `count` records of the files, oldest first (reading backwards from the end), within `maxBytes`
    /// of them: a request's cost is bounded by bytes as well as by lines (records of up to LineMax= each).
    public static func tail(directory: String, count: Int, maxBytes: Int = .max) -> [[UInt8]] {
        guard count > 0 else { return [] }
        // Usually `current` alone holds enough: list the segments only when it doesn't.
        var budget = maxBytes
        var result = tail(path: directory + "/current", count: count, budget: &budget)
        if result.count >= count { return result }
        for path in segments(in: directory).map(\.path).reversed() where budget > 0 {
            let lines = tail(path: path, count: count - result.count, budget: &budget)
            result = lines + result
            if result.count >= count { break }
        }
        return result
    }

    static func tail(path: String, count: Int) -> [[UInt8]] {
        var budget = Int.max
        return tail(path: path, count: count, budget: &budget)
    }

    /// The last `count` whole records of one file that fit in `budget` bytes; `budget` is reduced by what was
    /// read, and set to 0 when the limit cut the answer short (so no older file is read).
    static func tail(path: String, count: Int, budget: inout Int) -> [[UInt8]] {
        guard count > 0, budget > 0, let fd = try? Posix.open(path, O_RDONLY) else { return [] }
        defer { Posix.close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return [] }
        let size = Int(st.st_size)
        let (start, found) = startOfLast(count, fd: fd, size: size, limit: budget)
        budget = found < count && start > 0 ? 0 : budget - (size - start)
        guard size > start else { return [] }
        var buf = [UInt8](repeating: 0, count: size - start)
        let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(start)) }
        guard n > 0 else { return [] }
        var lines = buf[0..<n].split(separator: 10, omittingEmptySubsequences: false).map(Array.init)
        if lines.last?.isEmpty == true { lines.removeLast() }
        return Array(lines.suffix(count))
    }

    /// The offset of the `n`-th last record of a file (0 when it has fewer), and how many records follow it.
    /// With a `limit`, only the last `limit` bytes are looked at: the answer is then the oldest record that starts
    /// within them (the file's size and 0 records when not even the last one fits).
    static func startOfLast(_ n: Int, fd: Int32, size: Int, limit: Int = .max) -> (Int, Int) {
        guard n > 0, size > 0 else { return (size, 0) }
        let floor = limit >= size ? 0 : size - limit
        var end = size
        var newlines = 0
        var oldestStart = size
        var buf = [UInt8](repeating: 0, count: 65536)
        // The newline at size-1 closes the last record; a last record cut short has none.
        var skipLast = true
        while end > floor {
            let start = max(floor, end - buf.count)
            let got = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, end - start, off_t(start)) }
            guard got > 0 else { break }
            var i = got - 1
            while i >= 0 {
                if buf[i] == 10 {
                    if skipLast && start + i == size - 1 {
                        skipLast = false
                    } else {
                        newlines += 1
                        oldestStart = start + i + 1
                        if newlines == n { return (oldestStart, n) }
                    }
                }
                i -= 1
            }
            end = start
        }
        if floor > 0 { return (oldestStart, newlines) }
        return (0, newlines + 1)
    }

    /// The byte offset of the first record at or after `time` in a file (or its size when there is none): a
    /// binary search over byte offsets, each probe resynchronised to the next record start.
    ///
    /// Invariant: with A the answer, `lo` is a record start at or before A whose record (if lo < A) is older
    /// than `time`, and A <= recordAfter(hi).
    public static func offset(ofFirstRecordAtOrAfter time: UInt64, fd: Int32, size: Int) -> Int {
        var buf = [UInt8](repeating: 0, count: 4096)
        /// The first record start at or after p.
        func recordAfter(_ p: Int) -> Int {
            if p == 0 { return 0 }
            var pos = p - 1
            while pos < size {
                let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(pos)) }
                guard n > 0 else { return size }
                if let nl = buf[0..<n].firstIndex(of: 10) { return pos + nl + 1 }
                pos += n
            }
            return size
        }
        func timestamp(at p: Int) -> UInt64? {
            let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 64, off_t(p)) }
            return n > 0 ? LogFormat.timestamp(buf[0..<n]) : nil
        }
        var lo = 0
        var hi = size
        while hi - lo > 8192 {
            let mid = lo + (hi - lo) / 2
            let r = recordAfter(mid)
            if r >= hi || (timestamp(at: r) ?? .max) >= time {
                hi = mid
            } else {
                lo = r
            }
        }
        // A few KiB (plus at most one long line) from a record start.
        var pos = lo
        while pos < size {
            if let ts = timestamp(at: pos), ts >= time { return pos }
            pos = recordAfter(pos + 1)
        }
        return size
    }

    /// Calls `body` with each record in [since, until] (either may be nil), oldest first; `body` returns false
    /// to stop.
    public static func scan(directory: String, since: UInt64?, until: UInt64?, _ body: ([UInt8]) -> Bool) {
        let cursor = LogCursor(directory: directory, since: since, until: until)
        while let line = cursor.next() {
            if !body(line) { return }
        }
    }
}

/// Reads a unit's records in [since, until] one at a time, oldest first, opening one file at a time: the first
/// record comes after a binary search and one read, however large the store.
public final class LogCursor {
    private var files: [(path: String, start: UInt64)]
    private let since: UInt64?
    private let until: UInt64?
    private var fd: Int32 = -1
    private var pos = 0
    private var size = 0
    private var buffer: [UInt8] = []
    private var bufferStart = 0
    private var finished = false

    public init(directory: String, since: UInt64?, until: UInt64?, includeCurrent: Bool = true) {
        self.since = since
        self.until = until
        var paths: [(String, UInt64)] = LogReader.segments(in: directory).map { ($0.path, $0.start) }
        if includeCurrent && access(directory + "/current", F_OK) == 0 {
            paths.append((directory + "/current", LogReader.firstTimestamp(path: directory + "/current") ?? 0))
        }
        // A file ends where the next one starts: files entirely before `since` are never opened.
        if let since {
            while paths.count > 1 && paths[1].1 < since { paths.removeFirst() }
        }
        files = paths
    }

    deinit { if fd >= 0 { Posix.close(fd) } }

    private func openNext() -> Bool {
        if fd >= 0 { Posix.close(fd) }
        fd = -1
        while !files.isEmpty {
            let (path, start) = files.removeFirst()
            if let until, start > until { break }
            guard let f = try? Posix.open(path, O_RDONLY) else { continue }
            var st = stat()
            fstat(f, &st)
            fd = f
            size = Int(st.st_size)
            pos = since.map { LogReader.offset(ofFirstRecordAtOrAfter: $0, fd: f, size: size) } ?? 0
            buffer = []
            bufferStart = 0
            return true
        }
        finished = true
        return false
    }

    /// The next record (without its newline), or nil at the end of the range.
    public func next() -> [UInt8]? {
        while !finished {
            if fd < 0 && !openNext() { return nil }
            if let nl = buffer[bufferStart...].firstIndex(of: 10) {
                let line = Array(buffer[bufferStart..<nl])
                bufferStart = nl + 1
                if let until, let ts = LogFormat.timestamp(line.prefix(LogFormat.isoWidth)), ts > until {
                    finished = true
                    return nil
                }
                return line
            }
            // Refill: keep the unfinished tail, read the next block.
            buffer.removeFirst(bufferStart)
            bufferStart = 0
            guard pos < size else {
                if !buffer.isEmpty {
                    // A last record without newline (a file cut short): yield it as it is.
                    let line = buffer
                    buffer = []
                    return line
                }
                if !openNext() { return nil }
                continue
            }
            let want = min(1 << 18, size - pos)
            var chunk = [UInt8](repeating: 0, count: want)
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, want, off_t(pos)) }
            guard n > 0 else {
                pos = size
                continue
            }
            pos += n
            buffer += chunk[0..<n]
        }
        return nil
    }
}

/// Follows a unit's log as it grows, across rotation (the renamed file is read to its end, then the new
/// `current` from its start) and across service restarts (same file). inotify, no polling.
public final class LogFollower {
    public let directory: String
    private var fd: Int32 = -1
    private var inode: ino_t = 0
    private var offset: off_t = 0
    private var carry: [UInt8] = []
    /// While there is no `current` open: the segments already read or older than the start, so that what is
    /// rotated before `current` is opened again is read, and only that.
    private var knownSegments: Set<ino_t> = []

    /// Starts at the current end of the log (what existed before is the caller's to print).
    public init(directory: String) {
        self.directory = directory
        reopen(fromEnd: true)
        if fd < 0 { knownSegments = Set(segmentInodes().map(\.inode)) }
    }

    /// Records older than where `poll()` starts: the part of the history in rotated segments.
    public private(set) var preamble: [[UInt8]] = []

    /// `preamble`, handed over once (it isn't kept: a long history is not held for the follower's lifetime).
    public func takePreamble() -> [[UInt8]] {
        defer { preamble = [] }
        return preamble
    }

    /// Starts with the history itself, so that nothing falls between printing the past and following: the
    /// first `poll()` returns the records of `current` from `since` (or its last `lastRecords`), and
    /// `preamble` holds what came before them in rotated segments.
    public init(directory: String, since: UInt64?, lastRecords: Int?) {
        self.directory = directory
        reopen(fromEnd: false)
        guard fd >= 0 else {
            // No `current` yet: whatever segments hold is history (rare: a log being rotated right now).
            if let since {
                let c = LogCursor(directory: directory, since: since, until: nil, includeCurrent: false)
                while let line = c.next() { preamble.append(line) }
            } else if let n = lastRecords, n > 0 {
                preamble = LogReader.tail(directory: directory, count: n)
            }
            knownSegments = Set(segmentInodes().map(\.inode))
            return
        }
        var st = stat()
        fstat(fd, &st)
        let size = Int(st.st_size)
        if let since {
            offset = off_t(LogReader.offset(ofFirstRecordAtOrAfter: since, fd: fd, size: size))
            if offset == 0 {
                let c = LogCursor(directory: directory, since: since, until: nil, includeCurrent: false)
                while let line = c.next() { preamble.append(line) }
            }
        } else if let n = lastRecords {
            let (start, found) = LogReader.startOfLast(n, fd: fd, size: size)
            offset = off_t(start)
            if found < n {
                let older = LogReader.segments(in: directory).map(\.path)
                var need = n - found
                for path in older.reversed() where need > 0 {
                    let lines = LogReader.tail(path: path, count: need)
                    preamble = lines + preamble
                    need -= lines.count
                }
            }
        } else {
            offset = off_t(size)
        }
    }

    deinit { if fd >= 0 { Posix.close(fd) } }

    private func reopen(fromEnd: Bool) {
        if fd >= 0 { Posix.close(fd) }
        fd = (try? Posix.open(directory + "/current", O_RDONLY)) ?? -1
        carry = []
        guard fd >= 0 else {
            offset = 0
            inode = 0
            return
        }
        var st = stat()
        fstat(fd, &st)
        inode = st.st_ino
        offset = fromEnd ? off_t(st.st_size) : 0
    }

    /// New complete records since the last call.
    public func poll() -> [[UInt8]] {
        var out: [[UInt8]] = []
        while true {
            if fd >= 0 { out += readNew() }
            // Rotated (or created) since we opened it? Finish the old file, then switch.
            var st = stat()
            guard stat(directory + "/current", &st) == 0, fd < 0 || st.st_ino != inode else { return out }
            guard fd >= 0 else {
                // Created (again): first what was rotated while there was none, then the new one from its start.
                reopen(fromEnd: false)
                if fd >= 0 {
                    let known = knownSegments
                    out += readSegments(segmentInodes().filter { !known.contains($0.inode) }, upTo: inode)
                }
                continue
            }
            out += readNew()
            // Several rotations may have happened since the last call: the segments between the file we read
            // and the new `current` are read whole, in order (the new one is opened first, so a rotation
            // meanwhile leaves it among the segments, where the next round finds it).
            let old = (fd: fd, inode: inode)
            fd = -1
            reopen(fromEnd: false)
            let segments = segmentInodes()
            var from = segments.count
            if let i = segments.firstIndex(where: { $0.inode == old.inode }) {
                from = i + 1
            } else {
                // Pruned already: those that began after it.
                var buf = [UInt8](repeating: 0, count: 64)
                let n = buf.withUnsafeMutableBytes { pread(old.fd, $0.baseAddress, 64, 0) }
                if n > 0, let start = LogFormat.timestamp(buf[0..<n]) {
                    from = segments.firstIndex { $0.segment.start > start } ?? segments.count
                }
            }
            Posix.close(old.fd)
            out += readSegments(Array(segments[from...]), upTo: fd >= 0 ? inode : nil)
            if fd < 0 { knownSegments = Set(segments.map(\.inode)) }
        }
    }

    private func segmentInodes() -> [(segment: LogReader.Segment, inode: ino_t)] {
        LogReader.segments(in: directory).map {
            var st = stat()
            return ($0, stat($0.path, &st) == 0 ? st.st_ino : 0)
        }
    }

    /// The records of whole segments, in order, stopping at the one that is `newInode` (read from its fd).
    private func readSegments(_ segments: [(segment: LogReader.Segment, inode: ino_t)], upTo newInode: ino_t?)
        -> [[UInt8]]
    {
        var out: [[UInt8]] = []
        for (segment, ino) in segments {
            if let newInode, ino == newInode { break }
            guard let bytes = Posix.readFile(segment.path, limit: 1 << 30) else { continue }
            var lines = bytes.split(separator: 10, omittingEmptySubsequences: false).map(Array.init)
            if lines.last?.isEmpty == true { lines.removeLast() }
            out += lines
        }
        return out
    }

    private func readNew() -> [[UInt8]] {
        var out: [[UInt8]] = []
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
            guard n > 0 else { break }
            offset += off_t(n)
            var start = 0
            for j in 0..<n where buf[j] == 10 {
                out.append(carry.isEmpty ? Array(buf[start..<j]) : carry + buf[start..<j])
                carry = []
                start = j + 1
            }
            carry += buf[start..<n]
        }
        return out
    }
}

/// The units that have a log under a log directory.
public enum LogDirectoryListing {
    public static func units(in root: String) -> [String] {
        guard let dir = opendir(root) else { return [] }
        defer { closedir(dir) }
        var out: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name.hasPrefix(".") { continue }
            if Posix.isDirectory(root + "/" + name) { out.append(name) }
        }
        return out.sorted()
    }
}
