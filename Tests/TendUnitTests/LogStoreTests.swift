import Glibc
import Testing

@testable import TendModel
@testable import TendSystem
@testable import TendEngine

/// A temporary directory for file-level tests, removed at the end.
final class TempDir {
    let path: String
    init() {
        var template = Array("/tmp/tend-logtest-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }
    deinit { _ = system("rm -rf '\(path)'") }

    func write(_ name: String, _ text: String) {
        let fd = open(path + "/" + name, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = text.withCString { Glibc.write(fd, $0, strlen($0)) }
        close(fd)
    }
}

func record(_ us: UInt64, _ text: String, _ format: LogTimestampFormat = .iso) -> String {
    var out: [UInt8] = []
    LogFormat.appendTimestamp(us, format, to: &out)
    return String(decoding: out, as: UTF8.self) + " out 42 " + text + "\n"
}

@Suite struct LogFormatTests {
    @Test func isoTimestampsRoundTrip() {
        let us: UInt64 = 1_795_000_000_123_456
        let r = record(us, "hello")
        #expect(r.hasPrefix("2026-11-18T"))
        #expect(r.utf8.count == LogFormat.isoWidth + " out 42 hello\n".utf8.count)
        #expect(LogFormat.timestamp(Array(r.utf8)) == us)
        let parsed = LogFormat.parse(Array(r.utf8.dropLast()))
        #expect(parsed?.stream == "out" && parsed?.pid == 42 && parsed?.text == "hello")
    }

    @Test func tai64nLabelsAsMultilogWritesThem() {
        // 2^62 + 10 + seconds, then nanoseconds: multilog's label for 1970-01-01 00:00:01.5 UTC.
        var out: [UInt8] = []
        LogFormat.appendTimestamp(1_500_000, .tai64n, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "@400000000000000b1dcd6500")
        #expect(LogFormat.timestamp(out) == 1_500_000)
        let us: UInt64 = 1_795_000_000_123_456
        let r = record(us, "x", .tai64n)
        #expect(LogFormat.timestamp(Array(r.utf8)) == us)
        #expect(LogFormat.parse(Array(r.utf8.dropLast()))?.text == "x")
    }

    @Test func segmentNamesSortByTime() {
        let a = LogFormat.segmentName(firstRecord: 1_000_000_000_000_000)
        let b = LogFormat.segmentName(firstRecord: 1_000_000_000_000_001)
        #expect(a < b)
        #expect(LogFormat.segmentStart(a) == 1_000_000_000_000_000)
        #expect(LogFormat.segmentStart("current") == nil)
    }

    @Test func junkIsNotARecord() {
        #expect(LogFormat.timestamp(Array("hello world, not a record".utf8)) == nil)
        #expect(LogFormat.parse([0xff, 0xfe]) == nil)
        #expect(LogFormat.timestamp(Array("2026-13-45T99:99:99.000000Z".utf8)) != 1)
    }

    @Test func theStreamFieldMayCarryAnIdentifier() {
        let r = LogFormat.parse(Array("2026-11-22T02:50:01.123456Z err:web-eu 1234 a: b".utf8))
        #expect(r?.stream == "err" && r?.identifier == "web-eu" && r?.pid == 1234 && r?.text == "a: b")
        #expect(LogFormat.parse(Array("2026-11-22T02:50:01.123456Z out 7 x".utf8))?.identifier == nil)
        #expect(LogFormat.sanitizedIdentifier("a b:c\u{7}") == "a_b_c_")
        #expect(LogFormat.sanitizedIdentifier(String(repeating: "x", count: 100)).utf8.count == 64)
    }
}

@Suite struct TimeParsingTests {
    let now: UInt64 = 1_795_000_000_000_000  // 2026-11-18 11:06:40 UTC

    @Test func relativeTimes() {
        #expect(TimeParsing.parse("-5min", now: now) == now - 300_000_000)
        #expect(TimeParsing.parse("5min ago", now: now) == now - 300_000_000)
        #expect(TimeParsing.parse("+1h", now: now) == now + 3_600_000_000)
        #expect(TimeParsing.parse("now", now: now) == now)
        #expect(TimeParsing.parse("@1700000000", now: now) == 1_700_000_000_000_000)
    }

    @Test func absoluteTimesInUTCAndLocal() {
        #expect(TimeParsing.parse("2026-11-18 11:06:40 UTC", now: now) == now)
        #expect(TimeParsing.parse("2026-11-18T11:06:40.5Z", now: now) == now + 500_000)
        setenv("TZ", "UTC", 1)
        tzset()
        #expect(TimeParsing.parse("2026-11-18 11:06:40", now: now) == now)
        #expect(TimeParsing.parse("2026-11-18 11:06", now: now) == now - 40_000_000)
        #expect(TimeParsing.parse("2026-11-18", now: now) == now - (11 * 3600 + 6 * 60 + 40) * 1_000_000)
        #expect(TimeParsing.parse("today", now: now) == TimeParsing.parse("2026-11-18", now: now))
        #expect(TimeParsing.parse("yesterday", now: now) == TimeParsing.parse("2026-11-17", now: now))
        #expect(TimeParsing.parse("11:06:40", now: now) == now)
    }

    @Test(arguments: ["", "soon", "2026-13-01", "25:00", "2026-11-18 10", "--5min", "abc ago"])
    func nonsenseIsRefused(_ s: String) {
        #expect(TimeParsing.parse(s, now: now) == nil)
    }
}

@Suite struct LogReaderTests {
    /// A file of records at 1 s steps (some seconds repeated), with a few long lines.
    func makeLog(_ dir: TempDir, count: Int) -> [UInt64] {
        var text = ""
        var times: [UInt64] = []
        var t: UInt64 = 1_795_000_000_000_000
        for i in 0..<count {
            if i % 7 != 0 { t += 1_000_000 }
            times.append(t)
            text += record(t, i % 50 == 0 ? String(repeating: "x", count: 20_000) : "line \(i)")
        }
        dir.write("current", text)
        return times
    }

    @Test func binarySearchFindsTheFirstRecordAtOrAfterATime() throws {
        let dir = TempDir()
        let times = makeLog(dir, count: 3000)
        let fd = open(dir.path + "/current", O_RDONLY)
        defer { close(fd) }
        var st = stat()
        fstat(fd, &st)
        for probe in [times[0] - 1, times[0], times[1], times[1500], times[1500] + 1, times[2999], times[2999] + 1] {
            let off = LogReader.offset(ofFirstRecordAtOrAfter: probe, fd: fd, size: Int(st.st_size))
            var expected = 0
            var found = false
            var pos = 0
            for (i, t) in times.enumerated() {
                if t >= probe {
                    expected = pos
                    found = true
                    break
                }
                pos += record(t, i % 50 == 0 ? String(repeating: "x", count: 20_000) : "line \(i)").utf8.count
            }
            #expect(off == (found ? expected : Int(st.st_size)), "probe \(probe)")
        }
    }

    @Test func scanIsExactAtBoundariesAndTailReadsBackwards() {
        let dir = TempDir()
        let times = makeLog(dir, count: 500)
        var got: [String] = []
        LogReader.scan(directory: dir.path, since: times[100], until: times[200]) { line in
            got.append(LogFormat.parse(line)!.text)
            return true
        }
        let expected = (0..<500).filter { times[$0] >= times[100] && times[$0] <= times[200] }
        #expect(got.count == expected.count)
        #expect(got.first == (expected.first! % 50 == 0 ? String(repeating: "x", count: 20_000) : "line \(expected.first!)"))
        let tail = LogReader.tail(directory: dir.path, count: 3).map { LogFormat.parse($0)!.text }
        #expect(tail == ["line 497", "line 498", "line 499"])
    }

    @Test func writerRotatesPrunesAndKeepsEveryRecordWhole() throws {
        let dir = TempDir()
        let writer = try LogWriter()
        let settings = LogSettings(directory: dir.path + "/unit", maxSize: 8192, maxFiles: 3, maxUse: 1 << 20,
                                   timestamp: .iso)
        let index = writer.register(settings)
        var t: UInt64 = 1_795_000_000_000_000
        for i in 0..<2000 {
            t += 1000
            #expect(writer.submit(index, Array(record(t, "record \(i)").utf8), lines: 1, first: t))
        }
        writer.stop()
        let segments = LogReader.segments(in: dir.path + "/unit")
        #expect(segments.count == 3, "LogMaxFiles=3 keeps three segments")
        for s in segments { #expect(s.size <= 8192) }
        // What is kept is a contiguous, whole run ending with the last record.
        var numbers: [Int] = []
        LogReader.scan(directory: dir.path + "/unit", since: nil, until: nil) { line in
            let r = LogFormat.parse(line)
            #expect(r != nil, "torn record: \(String(decoding: line, as: UTF8.self))")
            numbers.append(Int(r!.text.split(separator: " ").last!)!)
            return true
        }
        #expect(numbers.last == 1999)
        #expect(numbers == Array((numbers.first!)...1999))
        #expect(numbers.count > 400)
    }

    /// LogMaxUse= bounds the whole store, `current` included, at every moment; and a LogMaxUse= below
    /// LogMaxSize= still keeps history (the segment size shrinks to half of it).
    @Test(arguments: [(UInt64(64 << 10), UInt64(256 << 10)), (UInt64(1 << 20), UInt64(64 << 10))])
    func maxUseCountsCurrentAndKeepsHistory(maxSize: UInt64, maxUse: UInt64) throws {
        let dir = TempDir()
        let writer = try LogWriter()
        let settings = LogSettings(directory: dir.path, maxSize: maxSize, maxFiles: 1000, maxUse: maxUse, timestamp: .iso)
        let index = writer.register(settings)
        var t: UInt64 = 1_795_000_000_000_000
        var largest: UInt64 = 0
        for i in 0..<20_000 {
            t += 1
            _ = writer.submit(index, Array(record(t, "line \(i) " + String(repeating: "y", count: 40)).utf8), lines: 1, first: t)
            if i % 500 == 499 {
                while !writer.isIdle { usleep(200) }
                let used = LogReader.files(in: dir.path).reduce(UInt64(0)) { total, path in
                    var st = stat()
                    return stat(path, &st) == 0 ? total + UInt64(st.st_size) : total
                }
                largest = max(largest, used)
            }
        }
        writer.stop()
        #expect(largest <= maxUse, "the store used \(largest) bytes with LogMaxUse=\(maxUse)")
        #expect(largest > maxUse / 2, "the store keeps close to LogMaxUse= of history, not much less")
        #expect(!LogReader.segments(in: dir.path).isEmpty, "rotation keeps at least one segment of history")
        #expect(settings.segmentSize <= maxUse / 2)
    }

    @Test func followerReadsAcrossRotation() throws {
        let dir = TempDir()
        let writer = try LogWriter()
        let index = writer.register(LogSettings(directory: dir.path, maxSize: 4096, maxFiles: 100, maxUse: 1 << 20,
                                                timestamp: .iso))
        var t: UInt64 = 1_795_000_000_000_000
        func put(_ i: Int) {
            t += 1
            _ = writer.submit(index, Array(record(t, "n \(i)").utf8), lines: 1, first: t)
        }
        put(0)
        while !writer.isIdle { usleep(1000) }
        let follower = LogFollower(directory: dir.path)
        var seen: [String] = []
        for i in 1...1000 {
            put(i)
            if i % 37 == 0 {
                while !writer.isIdle { usleep(1000) }
                seen += follower.poll().map { LogFormat.parse($0)!.text }
            }
        }
        writer.stop()
        seen += follower.poll().map { LogFormat.parse($0)!.text }
        #expect(LogReader.segments(in: dir.path).count > 3)
        #expect(seen == (1...1000).map { "n \($0)" })
    }
}

@Suite struct LogSinkRecentTests {
    @Test func statusTailComesFromMemoryWhenComplete() throws {
        let dir = TempDir()
        let loop = try EventLoop()
        let writer = try LogWriter()
        defer { writer.stop() }
        let sink = LogSink(
            unit: "x.service",
            settings: LogSettings(directory: dir.path, maxSize: 1 << 20, maxFiles: 2, maxUse: 1 << 22, timestamp: .iso),
            capture: CaptureSettings(lineMax: 49152, rateInterval: 0, rateBurst: 0, timestamp: .iso),
            writer: writer, loop: loop, scratch: ScratchBuffer(size: 4096))
        #expect(sink.recent(1) == [], "a new log is empty, and the ring knows it")
        sink.note("message 1")
        #expect(sink.recent(10)?.count == 1, "the whole log, though shorter than asked")
        for i in 2...12 { sink.note("message \(i)") }
        let recent = try #require(sink.recent(10))
        #expect(recent.map { LogFormat.parse($0)!.text } == (3...12).map { "message \($0)" })
        #expect(sink.recent(11) == nil, "older records were evicted: read the files")
        sink.note(String(repeating: "y", count: 3000))
        #expect(sink.recent(1) == nil, "a record too long to keep in memory sends the reader to the files")
        #expect(sink.recent(2) == nil)
        sink.note("short again")
        #expect(sink.recent(1).map { $0.map { LogFormat.parse($0)!.text } } == ["short again"])
    }
}

extension LogSinkRecentTests {
    @Test func aLogFromAnEarlierRunIsReadFromTheFiles() throws {
        let dir = TempDir()
        dir.write("current", record(1_795_000_000_000_000, "from before"))
        let loop = try EventLoop()
        let writer = try LogWriter()
        defer { writer.stop() }
        let sink = LogSink(
            unit: "x.service",
            settings: LogSettings(directory: dir.path, maxSize: 1 << 20, maxFiles: 2, maxUse: 1 << 22, timestamp: .iso),
            capture: CaptureSettings(lineMax: 49152, rateInterval: 0, rateBurst: 0, timestamp: .iso),
            writer: writer, loop: loop, scratch: ScratchBuffer(size: 4096))
        sink.note("new")
        #expect(sink.recent(1)?.count == 1)
        #expect(sink.recent(2) == nil)
    }
}
