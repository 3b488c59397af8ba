
/// The on-disk record format, one record per line:
///
///     2026-11-22T02:50:01.123456Z out 1234 the text
///     @4000000069203b5d1c2b3a40 err 1234 the text        (LogTimestamp=tai64n)
///     2026-11-22T02:50:01.123456Z out:web 1234 the text  (SyslogIdentifier=web)
///
/// a fixed-width timestamp (UTC with microseconds, or a TAI64N label as `multilog t` writes it, which
/// `tai64nlocal` converts), the stream (`out`, `err`, or `tend` for the manager's own messages, with `:IDENT` when the unit sets
/// `SyslogIdentifier=`), the pid of
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
            let seconds = us / 1_000_000
            let (year, month, day) = civilDate(daysSinceEpoch: Int64(seconds / 86_400))
            let secondOfDay = Int(seconds % 86_400)
            appendDigits(Int(year), 4, &out)
            out.append(UInt8(ascii: "-"))
            appendDigits(month, 2, &out)
            out.append(UInt8(ascii: "-"))
            appendDigits(day, 2, &out)
            out.append(UInt8(ascii: "T"))
            appendDigits(secondOfDay / 3600, 2, &out)
            out.append(UInt8(ascii: ":"))
            appendDigits(secondOfDay / 60 % 60, 2, &out)
            out.append(UInt8(ascii: ":"))
            appendDigits(secondOfDay % 60, 2, &out)
            out.append(UInt8(ascii: "."))
            appendDigits(Int(us % 1_000_000), 6, &out)
            out.append(UInt8(ascii: "Z"))
        case .tai64n:
            out.append(UInt8(ascii: "@"))
            appendHex((1 << 62) + 10 + us / 1_000_000, 16, &out)
            appendHex((us % 1_000_000) * 1000, 8, &out)
        }
    }

    /// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`): what
    /// `gmtime_r` computes, without a call into the C library.
    static func civilDate(daysSinceEpoch: Int64) -> (year: Int64, month: Int, day: Int) {
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = Int(doy - (153 * mp + 2) / 5 + 1)
        let month = Int(mp < 10 ? mp + 3 : mp - 9)
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// The inverse of `civilDate` (`days_from_civil`), as `timegm` counts: days past the month's end carry over.
    static func daysSinceEpoch(year: Int64, month: Int, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
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

    /// The timestamp at the start of a record (either format), in µs since the epoch. The concrete overloads
    /// are what other modules call: a generic function is not specialized across a module boundary, and the
    /// log readers call this for every record they look at.
    public static func timestamp(_ line: [UInt8]) -> UInt64? { timestamp(of: line) }
    public static func timestamp(_ line: ArraySlice<UInt8>) -> UInt64? { timestamp(of: line) }
    public static func timestamp(_ line: some Collection<UInt8>) -> UInt64? { timestamp(of: line) }

    static func timestamp(of line: some Collection<UInt8>) -> UInt64? {
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
        guard (1...12).contains(mon) else { return nil }
        let t = daysSinceEpoch(year: Int64(year), month: Int(mon), day: Int64(day)) * 86_400
            + Int64(hour) * 3600 + Int64(min) * 60 + Int64(sec)
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
        /// `out`, `err` or `tend`.
        public var stream: String
        /// The `SyslogIdentifier=` the record was written with (the stream field's `:IDENT` part), if any.
        public var identifier: String?
        public var pid: Int32
        public var text: String
    }

    /// An identifier as it can stand in the stream field: no spaces, colons or control characters (each
    /// becomes `_`), at most 64 bytes.
    public static func sanitizedIdentifier(_ s: String) -> String {
        var out = ""
        for scalar in s.unicodeScalars {
            if out.utf8.count >= 64 { break }
            out.unicodeScalars.append(scalar.value <= 32 || scalar.value == 127 || scalar == ":" ? "_" : scalar)
        }
        return out
    }

    /// One record's fields (concrete overloads for callers in other modules, as `timestamp`).
    public static func parse(_ line: [UInt8]) -> Record? { parse(record: line) }
    public static func parse(_ line: ArraySlice<UInt8>) -> Record? { parse(record: line) }
    public static func parse(_ line: some Collection<UInt8>) -> Record? { parse(record: line) }

    static func parse(record line: some Collection<UInt8>) -> Record? {
        let bytes = Array(line)
        guard let ts = timestamp(bytes) else { return nil }
        let width = bytes.first == UInt8(ascii: "@") ? taiWidth : isoWidth
        let rest = bytes[width...].dropFirst()  // the space after the timestamp
        let parts = rest.split(separator: 32, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2 else { return nil }
        // `STREAM` or `STREAM:IDENT` (a record written with `SyslogIdentifier=`).
        let field = parts[0]
        var stream = String(decoding: field, as: UTF8.self)
        var identifier: String?
        if let colon = field.firstIndex(of: UInt8(ascii: ":")) {
            stream = String(decoding: field[..<colon], as: UTF8.self)
            identifier = String(decoding: field[field.index(after: colon)...], as: UTF8.self)
        }
        return Record(
            timestamp: ts, stream: stream, identifier: identifier,
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
