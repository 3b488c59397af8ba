/// A time zone as rules: the offsets a zone used, when it changed between them, and the POSIX TZ rule
/// (`CET-1CEST,M3.5.0,M10.5.0/3`) for the years after its last listed change. TendSystem reads these from TZif
/// files; the calendar code only asks "what offset at this instant" and "which instants have this local time".

/// Days since 1970-01-01 of a proleptic Gregorian date (any month/day overflow is not handled here: in range only).
public func civilDays(year: Int, month: Int, day: Int) -> Int {
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yearOfEra = y - era * 400
    let monthIndex = (month + 9) % 12  // March = 0
    let dayOfYear = (153 * monthIndex + 2) / 5 + day - 1
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    return era * 146_097 + dayOfEra - 719_468
}

/// The date of a day count since 1970-01-01.
public func civilDate(days: Int) -> (year: Int, month: Int, day: Int) {
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let dayOfEra = z - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let mp = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * mp + 2) / 5 + 1
    let month = mp < 10 ? mp + 3 : mp - 9
    return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
}

public func isLeapYear(_ y: Int) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

public func daysInMonth(year: Int, month: Int) -> Int {
    switch month {
    case 2: return isLeapYear(year) ? 29 : 28
    case 4, 6, 9, 11: return 30
    default: return 31
    }
}

/// Monday = 0 ... Sunday = 6 (1970-01-01 was a Thursday).
public func weekdayMondayFirst(days: Int) -> Int { ((days + 3) % 7 + 7) % 7 }

/// floor division for possibly negative numerators.
@inline(__always) func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : -((-a + b - 1) / b) }

public struct ZoneRules: Sendable, Equatable {
    /// One kind of local time: its offset east of UTC in seconds, whether it is daylight saving time, its
    /// abbreviation (`CET`).
    public struct LocalType: Sendable, Equatable {
        public var offset: Int
        public var isDST: Bool
        public var abbreviation: String
        public init(offset: Int, isDST: Bool, abbreviation: String) {
            self.offset = offset
            self.isDST = isDST
            self.abbreviation = abbreviation
        }
    }

    /// The instants (UTC seconds, ascending) at which the local type changes, and the type from each one on.
    public var transitions: [Int64]
    public var transitionTypes: [Int]
    public var types: [LocalType]
    /// For the instants after the last transition (or all of them when there are none).
    public var rule: PosixTimeZone?

    public init(transitions: [Int64], transitionTypes: [Int], types: [LocalType], rule: PosixTimeZone?) {
        self.transitions = transitions
        self.transitionTypes = transitionTypes
        self.types = types.isEmpty ? [LocalType(offset: 0, isDST: false, abbreviation: "UTC")] : types
        self.rule = rule
    }

    public static let utc = ZoneRules(
        transitions: [], transitionTypes: [], types: [LocalType(offset: 0, isDST: false, abbreviation: "UTC")],
        rule: nil)

    /// The local type in force at `seconds` (UTC, since the epoch).
    public func type(at seconds: Int64) -> LocalType {
        guard let last = transitions.last else { return rule?.type(at: seconds) ?? types[0] }
        if seconds >= last { return rule?.type(at: seconds) ?? types[transitionTypes[transitions.count - 1]] }
        if seconds < transitions[0] { return types[0] }
        // The last transition at or before `seconds`.
        var lo = 0
        var hi = transitions.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if transitions[mid] <= seconds { lo = mid } else { hi = mid - 1 }
        }
        return types[transitionTypes[lo]]
    }

    /// The instants (UTC seconds, ascending) whose local time is `local` (seconds since the epoch, as if local
    /// time were UTC): none in a gap a change skips, two where a change repeats an hour.
    public func instants(local: Int64) -> [Int64] {
        var offsets: [Int] = []
        for probe in [local - 100_000, local, local + 100_000] {
            let o = type(at: probe).offset
            if !offsets.contains(o) { offsets.append(o) }
        }
        var out: [Int64] = []
        for o in offsets {
            let u = local - Int64(o)
            if type(at: u).offset == o, !out.contains(u) { out.append(u) }
        }
        return out.sorted()
    }

    /// The offset of a type with the given daylight saving flag near `local`, for a local time said to be in
    /// standard (`isDST` false) or daylight time whatever the date.
    public func offset(local: Int64, isDST: Bool) -> Int? {
        for probe in [local, local - 100_000, local + 100_000] {
            let t = type(at: probe - Int64(type(at: probe).offset))
            if t.isDST == isDST { return t.offset }
        }
        if let rule {
            if !isDST { return rule.standard.offset }
            if let d = rule.daylight { return d.offset }
        }
        return types.last { $0.isDST == isDST }?.offset
    }
}

/// A POSIX TZ rule (`std offset [dst [offset] [,start[/time],end[/time]]]`), as the footer of TZif files and $TZ
/// write it.
public struct PosixTimeZone: Sendable, Equatable {
    public enum Day: Sendable, Equatable {
        /// `Jn`: day 1...365, February 29 never counted.
        case julian(Int)
        /// `n`: day 0...365 of the year, counting February 29.
        case zeroBased(Int)
        /// `Mm.w.d`: weekday d (0 = Sunday) of week w (5 = the last) of month m.
        case monthWeek(month: Int, week: Int, weekday: Int)
    }

    public var standard: ZoneRules.LocalType
    public var daylight: ZoneRules.LocalType?
    /// When daylight time starts (local standard time) and ends (local daylight time): the day and the seconds
    /// into it (may be negative or past 24 h).
    public var start: (Day, Int)?
    public var end: (Day, Int)?

    public static func == (a: PosixTimeZone, b: PosixTimeZone) -> Bool {
        a.standard == b.standard && a.daylight == b.daylight && a.start?.0 == b.start?.0 && a.start?.1 == b.start?.1
            && a.end?.0 == b.end?.0 && a.end?.1 == b.end?.1
    }

    /// Parses the rule; nil for anything that is not one.
    public static func parse(_ text: String) -> PosixTimeZone? {
        var p = PosixParser(bytes: Array(text.utf8))
        guard let stdName = p.name(), let stdOffset = p.offset() else { return nil }
        let standard = ZoneRules.LocalType(offset: -stdOffset, isDST: false, abbreviation: stdName)
        if p.atEnd { return PosixTimeZone(standard: standard, daylight: nil, start: nil, end: nil) }
        guard let dstName = p.name() else { return nil }
        var dstOffset = stdOffset - 3600
        if !p.atEnd && p.peek != UInt8(ascii: ",") {
            guard let o = p.offset() else { return nil }
            dstOffset = o
        }
        let daylight = ZoneRules.LocalType(offset: -dstOffset, isDST: true, abbreviation: dstName)
        var start: (Day, Int) = (.monthWeek(month: 3, week: 2, weekday: 0), 7200)
        var end: (Day, Int) = (.monthWeek(month: 11, week: 1, weekday: 0), 7200)
        if !p.atEnd {
            guard p.take(UInt8(ascii: ",")), let s = p.ruleDay() else { return nil }
            start = s
            guard p.take(UInt8(ascii: ",")), let e = p.ruleDay() else { return nil }
            end = e
        }
        guard p.atEnd else { return nil }
        return PosixTimeZone(standard: standard, daylight: daylight, start: start, end: end)
    }

    /// Seconds since the epoch (local, as if UTC) of the start of `day` in `year`.
    static func dayStart(_ day: Day, year: Int) -> Int64 {
        let jan1 = civilDays(year: year, month: 1, day: 1)
        var d: Int
        switch day {
        case .julian(let n): d = jan1 + n - 1 + (isLeapYear(year) && n >= 60 ? 1 : 0)
        case .zeroBased(let n): d = jan1 + n
        case .monthWeek(let m, let w, let wd):
            let first = civilDays(year: year, month: m, day: 1)
            let firstSunday0 = (weekdayMondayFirst(days: first) + 1) % 7  // 0 = Sunday
            var dom = 1 + (wd - firstSunday0 + 7) % 7 + (w - 1) * 7
            let dim = daysInMonth(year: year, month: m)
            while dom > dim { dom -= 7 }
            d = first + dom - 1
        }
        return Int64(d) * 86400
    }

    public func type(at seconds: Int64) -> ZoneRules.LocalType {
        guard let daylight, let start, let end else { return standard }
        let year = civilDate(days: Int(floorDiv(seconds + Int64(standard.offset), 86400))).year
        func isDST(_ y: Int) -> Bool {
            let s = Self.dayStart(start.0, year: y) + Int64(start.1) - Int64(standard.offset)
            let e = Self.dayStart(end.0, year: y) + Int64(end.1) - Int64(daylight.offset)
            if s < e { return seconds >= s && seconds < e }
            return !(seconds >= e && seconds < s)
        }
        return isDST(year) ? daylight : standard
    }
}

struct PosixParser {
    let bytes: [UInt8]
    var i = 0
    init(bytes: [UInt8]) { self.bytes = bytes }
    var atEnd: Bool { i >= bytes.count }
    var peek: UInt8? { i < bytes.count ? bytes[i] : nil }
    mutating func take(_ c: UInt8) -> Bool {
        if peek == c { i += 1; return true }
        return false
    }
    static func isAlpha(_ c: UInt8) -> Bool { (c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z") }
    static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    /// `CET` or `<+03>`.
    mutating func name() -> String? {
        let begin = i
        if take(UInt8(ascii: "<")) {
            while let c = peek, c != UInt8(ascii: ">") { i += 1 }
            guard take(UInt8(ascii: ">")) else { return nil }
            let n = bytes[(begin + 1)..<(i - 1)]
            return n.count >= 3 ? String(decoding: n, as: UTF8.self) : nil
        }
        while let c = peek, Self.isAlpha(c) { i += 1 }
        return i - begin >= 3 ? String(decoding: bytes[begin..<i], as: UTF8.self) : nil
    }

    mutating func number(max: Int) -> Int? {
        var v = 0
        var n = 0
        while let c = peek, Self.isDigit(c), n < 4 {
            v = v * 10 + Int(c - UInt8(ascii: "0"))
            i += 1
            n += 1
        }
        return n > 0 && v <= max ? v : nil
    }

    /// `[+-]hh[:mm[:ss]]` in seconds (hours up to 167, as TZif v3 allows for times).
    mutating func offset() -> Int? {
        var sign = 1
        if take(UInt8(ascii: "-")) { sign = -1 } else { _ = take(UInt8(ascii: "+")) }
        guard let h = number(max: 167) else { return nil }
        var total = h * 3600
        if take(UInt8(ascii: ":")) {
            guard let m = number(max: 59) else { return nil }
            total += m * 60
            if take(UInt8(ascii: ":")) {
                guard let s = number(max: 59) else { return nil }
                total += s
            }
        }
        return sign * total
    }

    mutating func ruleDay() -> (PosixTimeZone.Day, Int)? {
        var day: PosixTimeZone.Day
        if take(UInt8(ascii: "J")) {
            guard let n = number(max: 365), n >= 1 else { return nil }
            day = .julian(n)
        } else if take(UInt8(ascii: "M")) {
            guard let m = number(max: 12), m >= 1, take(UInt8(ascii: ".")), let w = number(max: 5), w >= 1,
                take(UInt8(ascii: ".")), let d = number(max: 6)
            else { return nil }
            day = .monthWeek(month: m, week: w, weekday: d)
        } else {
            guard let n = number(max: 365) else { return nil }
            day = .zeroBased(n)
        }
        var time = 7200
        if take(UInt8(ascii: "/")) {
            guard let t = offset() else { return nil }
            time = t
        }
        return (day, time)
    }
}
