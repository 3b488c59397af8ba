import Glibc

/// The on-disk record format, one record per line:
///
///     2026-11-22T02:50:01.123456Z out 1234 the text
///     @4000000069203b5d1c2b3a40 err 1234 the text        (LogTimestamp=tai64n)
///
/// a fixed-width timestamp (UTC with microseconds, or a TAI64N label as `multilog t` writes it, which
/// `tai64nlocal` converts), the stream (`out`, `err`, or `tend` for the manager's own messages), the pid of
/// the main process at the time, and the text. Text never contains a newline (a line is a record), so any byte
/// offset can be resynchronised to the next record by skipping to the next newline; timestamps never go
/// backwards within a unit's log, so a file can be searched by time with a binary search.
public enum LogFormat {
    public static let isoWidth = 27
    public static let taiWidth = 25

    /// Appends the timestamp of `us` (µs since the epoch, UTC).
    public static func appendTimestamp(_ us: UInt64, _ format: LogTimestampFormat, to out: inout [UInt8]) {
        switch format {
        case .iso:
            var t = time_t(us / 1_000_000)
            var tm = tm()
            gmtime_r(&t, &tm)
            appendDigits(Int(tm.tm_year) + 1900, 4, &out)
            out.append(UInt8(ascii: "-"))
            appendDigits(Int(tm.tm_mon) + 1, 2, &out)
            out.append(UInt8(ascii: "-"))
            appendDigits(Int(tm.tm_mday), 2, &out)
            out.append(UInt8(ascii: "T"))
            appendDigits(Int(tm.tm_hour), 2, &out)
            out.append(UInt8(ascii: ":"))
            appendDigits(Int(tm.tm_min), 2, &out)
            out.append(UInt8(ascii: ":"))
            appendDigits(Int(tm.tm_sec), 2, &out)
            out.append(UInt8(ascii: "."))
            appendDigits(Int(us % 1_000_000), 6, &out)
            out.append(UInt8(ascii: "Z"))
        case .tai64n:
            out.append(UInt8(ascii: "@"))
            appendHex((1 << 62) + 10 + us / 1_000_000, 16, &out)
            appendHex((us % 1_000_000) * 1000, 8, &out)
        }
    }

    static func appendDigits(_ v: Int, _ width: Int, _ out: inout [UInt8]) {
        var digits = [UInt8](repeating: UInt8(ascii: "0"), count: width)
        var v = v
        var i = width - 1
        while i >= 0 && v > 0 {
            digits[i] = UInt8(ascii: "0") + UInt8(v % 10)
            v /= 10
            i -= 1
        }
        out.append(contentsOf: digits)
    }

    static func appendHex(_ v: UInt64, _ width: Int, _ out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        for i in stride(from: width - 1, through: 0, by: -1) {
            out.append(hex[Int((v >> (UInt64(i) * 4)) & 15)])
        }
    }

    /// The timestamp at the start of a record (either format), in µs since the epoch.
    public static func timestamp(_ line: some Collection<UInt8>) -> UInt64? {
        let b = Array(line.prefix(isoWidth))
        if b.first == UInt8(ascii: "@") {
            guard b.count >= taiWidth else { return nil }
            guard let secs = hexValue(b[1..<17]), let nanos = hexValue(b[17..<25]), secs >= (1 << 62) + 10 else {
                return nil
            }
            return (secs - (1 << 62) - 10) * 1_000_000 + nanos / 1000
        }
        guard b.count == isoWidth, b[4] == UInt8(ascii: "-"), b[10] == UInt8(ascii: "T"), b[26] == UInt8(ascii: "Z")
        else { return nil }
        func num(_ r: Range<Int>) -> Int32? {
            var v: Int32 = 0
            for c in b[r] {
                guard c >= 48 && c <= 57 else { return nil }
                v = v * 10 + Int32(c - 48)
            }
            return v
        }
        guard let year = num(0..<4), let mon = num(5..<7), let day = num(8..<10), let hour = num(11..<13),
            let min = num(14..<16), let sec = num(17..<19), let frac = num(20..<26)
        else { return nil }
        var tm = tm()
        tm.tm_year = year - 1900
        tm.tm_mon = mon - 1
        tm.tm_mday = day
        tm.tm_hour = hour
        tm.tm_min = min
        tm.tm_sec = sec
        let t = timegm(&tm)
        guard t >= 0 else { return nil }
        return UInt64(t) * 1_000_000 + UInt64(frac)
    }

    static func hexValue(_ b: ArraySlice<UInt8>) -> UInt64? {
        var v: UInt64 = 0
        for c in b {
            let d: UInt8
            switch c {
            case 48...57: d = c - 48
            case 97...102: d = c - 87
            case 65...70: d = c - 55
            default: return nil
            }
            v = v << 4 | UInt64(d)
        }
        return v
    }

    /// A record split into its fields.
    public struct Record: Sendable {
        public var timestamp: UInt64
        public var stream: String
        public var pid: Int32
        public var text: String
    }

    public static func parse(_ line: some Collection<UInt8>) -> Record? {
        let bytes = Array(line)
        guard let ts = timestamp(bytes) else { return nil }
        let width = bytes.first == UInt8(ascii: "@") ? taiWidth : isoWidth
        let rest = bytes[width...].dropFirst()  // the space after the timestamp
        let parts = rest.split(separator: 32, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2 else { return nil }
        return Record(
            timestamp: ts, stream: String(decoding: parts[0], as: UTF8.self),
            pid: Int32(String(decoding: parts[1], as: UTF8.self)) ?? 0,
            text: parts.count > 2 ? String(decoding: parts[2], as: UTF8.self) : "")
    }

    /// The name of a rotated segment whose first record is at `us`: `@<TAI64N>.s`, as multilog names them, so
    /// segments sort by time by name.
    public static func segmentName(firstRecord us: UInt64) -> String {
        var out: [UInt8] = []
        appendTimestamp(us, .tai64n, to: &out)
        return String(decoding: out, as: UTF8.self) + ".s"
    }

    /// The start time of a segment from its name, or nil for other files.
    public static func segmentStart(_ name: String) -> UInt64? {
        guard name.hasPrefix("@"), name.hasSuffix(".s"), name.utf8.count == taiWidth + 2 else { return nil }
        return timestamp(Array(name.utf8))
    }
}
