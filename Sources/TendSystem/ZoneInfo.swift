import Glibc
import TendModel

/// The time zone database (TZif files, tzfile(5)) read into the model's `ZoneRules`, and the local zone as the C
/// library sees it ($TZ, else /etc/localtime).
public enum ZoneInfo {
    public static let directory = "/usr/share/zoneinfo"

    /// systemd's test for a zone name in a calendar expression: letters, digits, `-_+`, single inner slashes,
    /// and a regular file under the database that starts with the TZif magic. `UTC` is always one.
    public static func isValidName(_ name: String) -> Bool {
        if name == "UTC" { return true }
        let b = Array(name.utf8)
        guard let first = b.first, first != UInt8(ascii: "/"), b.count < 4096 else { return false }
        var slash = false
        for c in b {
            let ok = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
                || c == UInt8(ascii: "-") || c == UInt8(ascii: "_") || c == UInt8(ascii: "+") || c == UInt8(ascii: "/")
            guard ok else { return false }
            if c == UInt8(ascii: "/") {
                if slash { return false }
                slash = true
            } else {
                slash = false
            }
        }
        if slash { return false }
        var st = stat()
        guard stat(directory + "/" + name, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return false }
        guard let head = Posix.readFile(directory + "/" + name, limit: 4), head.count >= 4 else { return false }
        return head.prefix(4).elementsEqual("TZif".utf8)
    }

    /// The rules of a zone by name (`Europe/Berlin`), or of a file by absolute path; nil if unreadable.
    public static func load(_ name: String) -> ZoneRules? {
        let path = name.hasPrefix("/") ? name : directory + "/" + name
        guard let bytes = Posix.readFile(path, limit: 1 << 20) else { return name == "UTC" ? .utc : nil }
        return parse(bytes)
    }

    /// The local zone: $TZ as the C library reads it (`:NAME`, `NAME`, a path, a POSIX rule; empty: UTC),
    /// else /etc/localtime, else UTC.
    public static func local(environment tz: String? = Posix.environment()["TZ"]) -> ZoneRules {
        guard let tz else { return load("/etc/localtime") ?? .utc }
        if tz.isEmpty { return .utc }
        let name = tz.hasPrefix(":") ? String(tz.dropFirst()) : tz
        if let rules = load(name) { return rules }
        if let rule = PosixTimeZone.parse(name) {
            return ZoneRules(transitions: [], transitionTypes: [], types: [rule.standard], rule: rule)
        }
        return .utc
    }

    /// A zone's standard and daylight abbreviations, as C's `tzname` holds them after `tzset()`: from its rule
    /// when it has one, else from its last standard and daylight types (the standard one twice without DST).
    public static func abbreviations(_ zone: ZoneRules) -> (String, String) {
        if let rule = zone.rule { return (rule.standard.abbreviation, rule.daylight?.abbreviation ?? rule.standard.abbreviation) }
        let std = zone.types.last { !$0.isDST }?.abbreviation ?? zone.types[0].abbreviation
        return (std, zone.types.last { $0.isDST }?.abbreviation ?? std)
    }

    /// True when a zone is UTC all the time (no offset, no daylight saving time), as systemd's
    /// `in_utc_timezone()` asks of the local one.
    public static func isUTC(_ zone: ZoneRules) -> Bool {
        if let rule = zone.rule { return rule.standard.offset == 0 && rule.daylight == nil }
        return zone.types.allSatisfy { $0.offset == 0 && !$0.isDST }
    }

    /// Parses a TZif file (versions 1 to 4): the 64-bit data block and footer rule when present, else the
    /// 32-bit block. Nil when it is not one.
    public static func parse(_ bytes: [UInt8]) -> ZoneRules? {
        var r = ByteReader(bytes: bytes)
        guard let header = r.header() else { return nil }
        var counts = header.counts
        var timeSize = 4
        if header.version >= 2 {
            guard r.skip(counts.dataLength(timeSize: 4)), let second = r.header() else { return nil }
            counts = second.counts
            timeSize = 8
        }
        var transitions: [Int64] = []
        for _ in 0..<counts.time {
            guard let t = timeSize == 8 ? r.int64() : r.int32().map(Int64.init) else { return nil }
            transitions.append(t)
        }
        var indices: [Int] = []
        for _ in 0..<counts.time {
            guard let i = r.byte() else { return nil }
            indices.append(Int(i))
        }
        var raw: [(Int, Bool, Int)] = []
        for _ in 0..<counts.type {
            guard let offset = r.int32(), let dst = r.byte(), let abbr = r.byte() else { return nil }
            raw.append((Int(offset), dst != 0, Int(abbr)))
        }
        guard let charSlice = r.take(counts.char) else { return nil }
        let chars = Array(charSlice)
        guard counts.type > 0, indices.allSatisfy({ $0 < counts.type }) else { return nil }
        let types = raw.map { (offset, dst, a) -> ZoneRules.LocalType in
            let from = min(a, chars.count)
            let name = chars[from...].prefix { $0 != 0 }
            return ZoneRules.LocalType(offset: offset, isDST: dst, abbreviation: String(decoding: name, as: UTF8.self))
        }
        var rule: PosixTimeZone? = nil
        if header.version >= 2, r.skip(counts.leap * 12 + counts.isStd + counts.isUT), r.byte() == 0x0A {
            let rest = r.rest
            if let end = rest.firstIndex(of: 0x0A) {
                rule = PosixTimeZone.parse(String(decoding: rest[..<end], as: UTF8.self))
            }
        }
        return ZoneRules(transitions: transitions, transitionTypes: indices, types: types, rule: rule)
    }

    struct Counts {
        var isUT = 0, isStd = 0, leap = 0, time = 0, type = 0, char = 0
        func dataLength(timeSize: Int) -> Int {
            time * timeSize + time + type * 6 + char + leap * (timeSize + 4) + isStd + isUT
        }
    }

    struct ByteReader {
        let bytes: [UInt8]
        var i = 0
        var rest: ArraySlice<UInt8> { bytes[min(i, bytes.count)...] }
        mutating func take(_ n: Int) -> ArraySlice<UInt8>? {
            guard n >= 0, i + n <= bytes.count else { return nil }
            defer { i += n }
            return bytes[i..<(i + n)]
        }
        mutating func skip(_ n: Int) -> Bool { take(n) != nil }
        mutating func byte() -> UInt8? { take(1)?.first }
        mutating func int32() -> Int32? {
            guard let b = take(4) else { return nil }
            return Int32(bitPattern: b.reduce(0) { $0 << 8 | UInt32($1) })
        }
        mutating func int64() -> Int64? {
            guard let b = take(8) else { return nil }
            return Int64(bitPattern: b.reduce(0) { $0 << 8 | UInt64($1) })
        }
        mutating func header() -> (version: Int, counts: Counts)? {
            guard let magic = take(4), magic.elementsEqual("TZif".utf8), let v = byte(), skip(15) else { return nil }
            var c = Counts()
            var values: [Int] = []
            for _ in 0..<6 {
                guard let n = int32(), n >= 0, n < 1 << 20 else { return nil }
                values.append(Int(n))
            }
            (c.isUT, c.isStd, c.leap, c.time, c.type, c.char) = (values[0], values[1], values[2], values[3], values[4], values[5])
            let version = v == 0 ? 1 : Int(v) - 48
            return (max(1, version), c)
        }
    }
}
