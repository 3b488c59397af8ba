import Glibc
import Testing

@testable import TendModel
@testable import TendSystem
@testable import TendEngine

/// The log query engine against real files in tend's format (segments named as the writer names them, then
/// `current`), without a manager.
@Suite struct LogQueryTests {
    static let t0: UInt64 = 1_795_000_000_000_000

    func rec(_ us: UInt64, _ text: String, stream: String = "out", pid: Int = 42) -> String {
        var out: [UInt8] = []
        LogFormat.appendTimestamp(us, .iso, to: &out)
        return String(decoding: out, as: UTF8.self) + " \(stream) \(pid) \(text)\n"
    }

    func append(_ path: String, _ text: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        precondition(fd >= 0, "open \(path)")
        _ = text.withCString { Glibc.write(fd, $0, strlen($0)) }
        close(fd)
    }

    func mkdir(_ path: String) { try? Posix.mkdirs(path) }

    /// What `current` becomes when the writer rotates: renamed to a segment named by its first record.
    func rotate(_ dir: String) {
        let first = LogReader.firstTimestamp(path: dir + "/current")!
        #expect(rename(dir + "/current", dir + "/" + LogFormat.segmentName(firstRecord: first)) == 0)
    }

    func texts(_ query: LogQuery) throws -> [String] {
        let reader = try LogQueryReader(query)
        var out: [String] = []
        while let e = reader.next() { out.append(e.record!.text) }
        #expect(reader.isFinished, "without follow, nil from next() is the end")
        return out
    }

    /// Pulls records until `count` have come or `seconds` have passed, waiting on the reader's descriptor.
    func pull(_ reader: LogQueryReader, count: Int, seconds: UInt64 = 10) -> [String] {
        var out: [String] = []
        let deadline = Posix.monotonicNow.ns + seconds * 1_000_000_000
        while out.count < count && !reader.isFinished {
            while let e = reader.next() { out.append(e.record!.text) }
            let now = Posix.monotonicNow.ns
            if out.count >= count || reader.isFinished || now >= deadline { break }
            var pfd = pollfd(fd: reader.descriptor, events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, Int32((deadline - now) / 1_000_000) + 1)
        }
        return out
    }

    /// Three units whose records interleave: unit k logs "k i" at t0 + (3i + k) ms (i = 0..<n), except that `c`
    /// logs "c 5" at the time of "a 5" (a tie); `a` has two rotated segments, `b` one. Returns every record,
    /// sorted by time, ties in the order of `tieOrder`.
    @discardableResult
    func threeUnits(_ root: String, n: Int = 30, tieOrder: [String] = ["a", "b", "c"]) -> [(time: UInt64, text: String)] {
        var all: [(UInt64, String, Int)] = []
        for (k, unit) in ["a", "b", "c"].enumerated() {
            let dir = root + "/" + unit + ".service"
            mkdir(dir)
            for i in 0..<n {
                var t = Self.t0 + UInt64(3 * i + k) * 1000
                if unit == "c" && i == 5 { t = Self.t0 + UInt64(3 * i) * 1000 }
                append(dir + "/current", rec(t, "\(unit) \(i)"))
                all.append((t, "\(unit) \(i)", tieOrder.firstIndex(of: unit) ?? 9))
                if (unit == "a" && (i == 9 || i == 19)) || (unit == "b" && i == 14) { rotate(dir) }
            }
        }
        return all.sorted { ($0.0, $0.2) < ($1.0, $1.2) }.map { ($0.0, $0.1) }
    }

    @Test func mergesThreeUnitsInTimeOrder() throws {
        let root = TempDir()
        let expected = threeUnits(root.path)
        #expect(LogReader.segments(in: root.path + "/a.service").count == 2)
        #expect(LogReader.segments(in: root.path + "/b.service").count == 1)
        let all = try texts(LogQuery(logDirectory: root.path))
        #expect(all == expected.map(\.text), "every unit (none named), merged by time, ties in unit order")
        // Named units, in the order named: the tie goes to c.
        let other = TempDir()
        let expectedCA = threeUnits(other.path, tieOrder: ["c", "a"]).filter { !$0.text.hasPrefix("b") }
        let named = try texts(LogQuery(logDirectory: other.path, units: ["c.service", "a.service"]))
        #expect(named == expectedCA.map(\.text))
        #expect(named.firstIndex(of: "c 5")! + 1 == named.firstIndex(of: "a 5")!)
        // The entries carry their unit and the raw bytes.
        let reader = try LogQueryReader(LogQuery(logDirectory: root.path, units: ["b.service"]))
        let first = try #require(reader.next())
        #expect(first.unit == "b.service" && first.timestamp == Self.t0 + 1000)
        #expect(first.line == Array(rec(Self.t0 + 1000, "b 0").utf8.dropLast()))
    }

    @Test func sinceAndUntilAreInclusiveAndExact() throws {
        let root = TempDir()
        let expected = threeUnits(root.path)
        // Across segment boundaries of a and b: records 10..<50 of the merged answer.
        let lo = expected[10].time
        let hi = expected[49].time
        let range = try texts(LogQuery(logDirectory: root.path, since: lo, until: hi))
        #expect(range == expected.filter { $0.time >= lo && $0.time <= hi }.map(\.text))
        #expect(range.first == expected[10].text && range.last == expected[49].text)
        let open = try texts(LogQuery(logDirectory: root.path, since: lo + 1, until: hi - 1))
        #expect(open == expected.filter { $0.time > lo && $0.time < hi }.map(\.text))
        #expect(open.count == range.count - 2)
        #expect(try texts(LogQuery(logDirectory: root.path, since: expected.last!.time + 1)) == [])
        #expect(try texts(LogQuery(logDirectory: root.path, until: Self.t0 - 1)) == [])
        // One unit, a bound exactly on a segment's first record (a's second segment starts at i = 10).
        let a10 = Self.t0 + 30 * 1000
        #expect(try texts(LogQuery(logDirectory: root.path, units: ["a.service"], since: a10)).first == "a 10")
        #expect(try texts(LogQuery(logDirectory: root.path, units: ["a.service"], until: a10)).last == "a 10")
    }

    @Test func lastRecordsAcrossUnits() throws {
        let root = TempDir()
        let expected = threeUnits(root.path)
        #expect(try texts(LogQuery(logDirectory: root.path, last: 7)) == expected.suffix(7).map(\.text))
        // More than the newest segment holds, in one unit: the tail reads back into the segments.
        #expect(try texts(LogQuery(logDirectory: root.path, units: ["a.service"], last: 15))
            == (15..<30).map { "a \($0)" })
        #expect(try texts(LogQuery(logDirectory: root.path, last: 0)) == [])
        #expect(try texts(LogQuery(logDirectory: root.path, last: 1000)) == expected.map(\.text))
        // With a range, the last N of the range.
        let hi = expected[40].time
        #expect(try texts(LogQuery(logDirectory: root.path, until: hi, last: 4)) == expected[37...40].map(\.text))
    }

    func mixedStreams(_ root: String) {
        let dir = root + "/m.service"
        mkdir(dir)
        for i in 0..<40 {
            let stream = ["out", "err", "tend", "out"][i % 4]
            append(dir + "/current", rec(Self.t0 + UInt64(i) * 1000, "\(stream) \(i)", stream: stream))
        }
    }

    @Test func streamFilter() throws {
        let root = TempDir()
        mixedStreams(root.path)
        let errors = try texts(LogQuery(logDirectory: root.path, streams: [.stderr]))
        #expect(errors == stride(from: 1, to: 40, by: 4).map { "err \($0)" })
        let outAndTend = try texts(LogQuery(logDirectory: root.path, streams: [.stdout, .manager]))
        #expect(outAndTend.count == 30 && !outAndTend.contains { $0.hasPrefix("err") })
        // The last N count matching records only.
        #expect(try texts(LogQuery(logDirectory: root.path, last: 2, streams: [.manager])) == ["tend 34", "tend 38"])
        let oneDigit: @Sendable (String) -> Bool = { $0.hasPrefix("err ") && $0.count == 5 && $0.last!.isNumber }
        #expect(try texts(LogQuery(logDirectory: root.path, streams: [.stderr], matching: oneDigit)) == ["err 1", "err 5", "err 9"])
    }

    @Test func reverse() throws {
        let root = TempDir()
        let expected = threeUnits(root.path)
        #expect(try texts(LogQuery(logDirectory: root.path, reverse: true)) == expected.reversed().map(\.text))
        #expect(try texts(LogQuery(logDirectory: root.path, last: 3, reverse: true))
            == expected.suffix(3).reversed().map(\.text))
        let lo = expected[20].time
        #expect(try texts(LogQuery(logDirectory: root.path, since: lo, last: 2, reverse: true))
            == expected.suffix(2).reversed().map(\.text))
        #expect(throws: LogQueryError.self) {
            try LogQueryReader(LogQuery(logDirectory: root.path, reverse: true, follow: true))
        }
    }

    @Test func followDeliversAppendsAndRotationWithoutLossOrRepeat() throws {
        let root = TempDir()
        let dir = root.path + "/f.service"
        mkdir(dir)
        var t = Self.t0
        func put(_ i: Int) {
            t += 1000
            append(dir + "/current", rec(t, "n \(i)"))
        }
        for i in 0..<20 { put(i) }
        let reader = try LogQueryReader(LogQuery(logDirectory: root.path, units: ["f.service"], last: 3, follow: true))
        #expect(reader.descriptor >= 0)
        // Written after the history was read, before anything was pulled: still delivered, once.
        put(20)
        #expect(pull(reader, count: 4) == ["n 17", "n 18", "n 19", "n 20"])
        #expect(reader.next() == nil && !reader.isFinished, "nothing new yet, still following")
        #expect(!reader.wait(timeoutMilliseconds: 50), "a bounded wait with nothing written times out")
        for i in 21..<25 { put(i) }
        #expect(reader.wait(timeoutMilliseconds: 5000))
        #expect(pull(reader, count: 4) == (21..<25).map { "n \($0)" })
        // Rotation: more records into current, current renamed to a segment, a new current.
        for i in 25..<30 { put(i) }
        rotate(dir)
        for i in 30..<35 { put(i) }
        // And again, with nothing pulled in between.
        rotate(dir)
        for i in 35..<40 { put(i) }
        #expect(pull(reader, count: 15) == (25..<40).map { "n \($0)" })
        #expect(LogReader.segments(in: dir).count == 2)
        #expect(reader.next() == nil)
        reader.close()
        #expect(reader.descriptor == -1 && reader.isFinished)
    }

    @Test func followMergesUnitsAndStopsAfterUntil() throws {
        let root = TempDir()
        threeUnits(root.path, n: 3)
        // A unit with no log yet gets a directory, so it is followed from its first record.
        let query = LogQuery(logDirectory: root.path, units: ["a.service", "b.service", "new.service"],
                             until: Self.t0 + 100_000, last: 2, follow: true)
        let reader = try LogQueryReader(query)
        #expect(Posix.isDirectory(root.path + "/new.service"))
        #expect(pull(reader, count: 2) == ["a 2", "b 2"], "the last two of the merged history")
        append(root.path + "/new.service/current", rec(Self.t0 + 50_000, "new 0"))
        append(root.path + "/b.service/current", rec(Self.t0 + 40_000, "b 3"))
        #expect(pull(reader, count: 2) == ["b 3", "new 0"], "one batch, merged by time")
        append(root.path + "/a.service/current", rec(Self.t0 + 100_000, "a at until") + rec(Self.t0 + 100_001, "a after"))
        #expect(pull(reader, count: 2) == ["a at until"])
        #expect(reader.isFinished, "a record past --until ends the follow")
        // Following nothing ends at once.
        let empty = TempDir()
        let none = try LogQueryReader(LogQuery(logDirectory: empty.path, follow: true))
        #expect(none.next() == nil && none.isFinished)
    }

    @Test func followWithAFilterCountsMatchingHistory() throws {
        let root = TempDir()
        mixedStreams(root.path)
        let reader = try LogQueryReader(LogQuery(logDirectory: root.path, units: ["m.service"], last: 2,
                                                 streams: [.stderr], follow: true))
        #expect(pull(reader, count: 2) == ["err 33", "err 37"])
        let dir = root.path + "/m.service"
        append(dir + "/current", rec(Self.t0 + 50_000, "x", stream: "out") + rec(Self.t0 + 50_001, "y", stream: "err"))
        #expect(pull(reader, count: 1) == ["y"])
    }

    @Test func followTheWritersOwnRotation() throws {
        let root = TempDir()
        let dir = root.path + "/w.service"
        let writer = try LogWriter()
        defer { writer.stop() }
        let index = writer.register(LogSettings(directory: dir, maxSize: 4096, maxFiles: 1000, maxUse: 1 << 24,
                                                timestamp: .iso))
        var t = Self.t0
        func put(_ i: Int) {
            t += 1
            _ = writer.submit(index, Array(rec(t, "n \(i)").utf8), lines: 1, first: t)
        }
        for i in 0..<100 { put(i) }
        let reader = try LogQueryReader(LogQuery(logDirectory: root.path, units: ["w.service"], since: Self.t0 + 51,
                                                 follow: true))
        var seen: [String] = []
        for i in 100..<1000 {
            put(i)
            if i % 97 == 0 { while let e = reader.next() { seen.append(e.record!.text) } }
        }
        seen += pull(reader, count: 950 - seen.count, seconds: 20)
        #expect(seen == (50..<1000).map { "n \($0)" }, "from --since, through many rotations, each record once")
        #expect(LogReader.segments(in: dir).count > 5)
    }

    @Test func segmentsSharingAStartTimeKeepTheOrderTheyWereMade() throws {
        let root = TempDir()
        let dir = root.path + "/s.service"
        mkdir(dir)
        let name = LogFormat.segmentName(firstRecord: Self.t0)
        // The writer names a second segment beginning at the same time `@X.1.s`, a third `@X.2.s`.
        append(dir + "/" + name, rec(Self.t0, "first"))
        append(dir + "/" + String(name.dropLast(2)) + ".1.s", rec(Self.t0, "second"))
        append(dir + "/" + String(name.dropLast(2)) + ".2.s", rec(Self.t0, "third"))
        append(dir + "/current", rec(Self.t0 + 1, "fourth"))
        #expect(LogReader.segments(in: dir).map(\.suffix) == [0, 1, 2])
        #expect(try texts(LogQuery(logDirectory: root.path)) == ["first", "second", "third", "fourth"])
    }
}
