/// Calendar event expressions as systemd.time(7) writes them (`OnCalendar=`, `tend analyze calendar`):
/// `Mon..Fri *-*-* 09:00:00`, `*-*-* *:00/15:00`, `*-02~03`, `daily Europe/Berlin`, `@1395716396`, the
/// shorthands. Parsing, the normalized form systemd prints, and the next elapse after an instant, given the
/// zone's rules. Pure: the caller says which zone names exist and what the local zone's abbreviations are.

/// Why an expression was refused, with the error text systemd-analyze prints for it.
public enum CalendarSpecError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalid
    case outOfRange
    case tooManyComponents

    public var description: String {
        switch self {
        case .invalid: "Invalid argument"
        case .outOfRange: "Numerical result out of range"
        case .tooManyComponents: "No buffer space available"
        }
    }
}

/// One element of a field: `start`, `start..stop`, `start/repeat`, `start..stop/repeat`.
public struct CalendarComponent: Equatable, Sendable, Comparable {
    public var start: Int
    /// -1: no end.
    public var stop: Int
    /// 0: no repetition.
    public var repeats: Int

    public init(_ start: Int, stop: Int = -1, repeats: Int = 0) {
        self.start = start
        self.stop = stop
        self.repeats = repeats
    }

    public static func < (a: Self, b: Self) -> Bool {
        (a.start, a.stop, a.repeats) < (b.start, b.stop, b.repeats)
    }
}

public struct CalendarSpec: Equatable, Sendable {
    /// Bit 0 = Monday ... bit 6 = Sunday; nil: every day.
    public var weekdays: Int?
    /// nil: `*` (any).
    public var year: [CalendarComponent]?
    public var month: [CalendarComponent]?
    public var day: [CalendarComponent]?
    public var hour: [CalendarComponent]?
    public var minute: [CalendarComponent]?
    /// Microseconds within the minute; `*` is 0/1 s.
    public var second: [CalendarComponent]?
    /// `~`: days count back from the end of the month.
    public var endOfMonth = false
    /// ` UTC` was given.
    public var utc = false
    /// A zone name from the time zone database (`Europe/Berlin`).
    public var timezone: String?
    /// The local zone's standard (0) or daylight (1) abbreviation was given.
    public var dst: Int?
    /// The abbreviation given for `dst`, for the normalized form.
    public var dstName: String?

    static let usecPerSecond = 1_000_000
    public static let minYear = 1970
    public static let maxYear = 2199
    static let maxComponents = 240

    public init() {}

    /// Parses `text`. `isZone` says whether a name is in the time zone database; `localAbbreviations` are the
    /// local zone's standard and daylight abbreviations (C's `tzname`), matched at the end of the text.
    public static func parse(
        _ text: String, isZone: (String) -> Bool = { _ in false }, localAbbreviations: (String, String) = ("", "")
    ) throws(CalendarSpecError) -> CalendarSpec {
        var spec = CalendarSpec()
        var bytes = Array(text.utf8)
        func lower(_ b: [UInt8]) -> [UInt8] { b.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 } }
        func hasSuffixNoCase(_ suffix: String) -> Bool {
            let s = lower(Array(suffix.utf8))
            return bytes.count >= s.count && lower(Array(bytes.suffix(s.count))) == s
        }
        if hasSuffixNoCase(" UTC") {
            spec.utc = true
            bytes.removeLast(4)
        } else {
            var matched = false
            for (j, name) in [localAbbreviations.0, localAbbreviations.1].enumerated() where !name.isEmpty {
                let n = name.utf8.count
                if bytes.count > n, hasSuffixNoCase(name), bytes[bytes.count - n - 1] == UInt8(ascii: " ") {
                    bytes.removeLast(n + 1)
                    spec.dst = j
                    spec.dstName = name
                    matched = true
                    break
                }
            }
            if !matched, let space = bytes.lastIndex(of: UInt8(ascii: " ")) {
                let name = String(decoding: bytes[(space + 1)...], as: UTF8.self)
                if isZone(name) {
                    spec.timezone = name
                    bytes.removeSubrange(space...)
                }
            }
        }
        if bytes.isEmpty { throw .invalid }
        let midnight = [CalendarComponent(0)]
        switch String(decoding: lower(bytes), as: UTF8.self) {
        case "minutely":
            spec.second = midnight
        case "hourly":
            (spec.minute, spec.second) = (midnight, midnight)
        case "daily":
            (spec.hour, spec.minute, spec.second) = (midnight, midnight, midnight)
        case "monthly":
            (spec.day, spec.hour, spec.minute, spec.second) = ([CalendarComponent(1)], midnight, midnight, midnight)
        case "annually", "yearly", "anually":
            (spec.month, spec.day) = ([CalendarComponent(1)], [CalendarComponent(1)])
            (spec.hour, spec.minute, spec.second) = (midnight, midnight, midnight)
        case "weekly":
            spec.weekdays = 1
            (spec.hour, spec.minute, spec.second) = (midnight, midnight, midnight)
        case "quarterly":
            spec.month = [1, 4, 7, 10].map { CalendarComponent($0) }
            spec.day = [CalendarComponent(1)]
            (spec.hour, spec.minute, spec.second) = (midnight, midnight, midnight)
        case "biannually", "bi-annually", "semiannually", "semi-annually":
            spec.month = [1, 7].map { CalendarComponent($0) }
            spec.day = [CalendarComponent(1)]
            (spec.hour, spec.minute, spec.second) = (midnight, midnight, midnight)
        default:
            var p = CalendarParser(bytes: bytes)
            try p.weekdays(&spec)
            if try !p.date(&spec) { try p.time(&spec) }
            if !p.atEnd { throw .invalid }
        }
        spec.normalize()
        guard spec.isValid else { throw .invalid }
        return spec
    }

    mutating func normalize() {
        if timezone == "UTC" {
            utc = true
            timezone = nil
        }
        if let w = weekdays, w <= 0 || w >= 127 { weekdays = nil }
        if endOfMonth && day == nil { endOfMonth = false }
        if let y = year {
            year = y.map { c in
                func fix(_ v: Int) -> Int { v >= 0 && v < 70 ? v + 2000 : v >= 70 && v < 100 ? v + 1900 : v }
                return CalendarComponent(fix(c.start), stop: c.stop < 0 ? c.stop : fix(c.stop), repeats: c.repeats)
            }
        }
        func chain(_ c: [CalendarComponent]?) -> [CalendarComponent]? {
            guard let c else { return nil }
            var out: [CalendarComponent] = []
            for var x in c {
                if x.stop > x.start && x.repeats > 0 { x.stop -= (x.stop - x.start) % x.repeats }
                out.append(x)
            }
            out.sort()
            var unique: [CalendarComponent] = []
            for x in out where unique.last != x { unique.append(x) }
            return unique
        }
        year = chain(year)
        month = chain(month)
        day = chain(day)
        hour = chain(hour)
        minute = chain(minute)
        second = chain(second)
    }

    var isValid: Bool {
        func valid(_ chain: [CalendarComponent]?, _ from: Int, _ to: Int, endOfMonth: Bool = false) -> Bool {
            guard let chain else { return true }
            let to = endOfMonth ? to - 3 : to
            for c in chain {
                if c.start < from || c.start > to { return false }
                if c.repeats > to - from { return false }
                if c.stop >= 0 {
                    if c.stop < from || c.stop > to { return false }
                    if c.start + c.repeats > c.stop { return false }
                } else {
                    if endOfMonth && c.start - c.repeats < from { return false }
                    if !endOfMonth && c.start + c.repeats > to { return false }
                }
            }
            return true
        }
        return valid(year, Self.minYear, Self.maxYear) && valid(month, 1, 12)
            && valid(day, 1, 31, endOfMonth: endOfMonth) && valid(hour, 0, 23) && valid(minute, 0, 59)
            && valid(second, 0, 60 * Self.usecPerSecond - 1)
    }

    /// The normalized form, as systemd prints it: `Mon..Fri *-*-* 09:00:00 Europe/Berlin`.
    public var normalized: String {
        var out = ""
        if let w = weekdays {
            out += Self.formatWeekdays(w) + " "
        }
        out += Self.format(year, width: 4) + "-" + Self.format(month, width: 2) + (endOfMonth ? "~" : "-")
        out += Self.format(day, width: 2) + " " + Self.format(hour, width: 2) + ":" + Self.format(minute, width: 2)
        out += ":" + Self.format(second, width: 2, usec: true)
        if utc {
            out += " UTC"
        } else if let timezone {
            out += " " + timezone
        } else if let dstName {
            out += " " + dstName
        }
        return out
    }

    static func formatWeekdays(_ bits: Int) -> String {
        let names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        var parts: [String] = []
        var x = 0
        while x < 7 {
            guard bits & (1 << x) != 0 else {
                x += 1
                continue
            }
            var end = x
            while end + 1 < 7 && bits & (1 << (end + 1)) != 0 { end += 1 }
            switch end - x {
            case 0: parts.append(names[x])
            case 1: parts.append(names[x] + "," + names[end])
            default: parts.append(names[x] + ".." + names[end])
            }
            x = end + 1
        }
        return parts.joined(separator: ",")
    }

    static func format(_ chain: [CalendarComponent]?, width: Int, usec: Bool = false) -> String {
        guard let chain else { return "*" }
        let d = usec ? usecPerSecond : 1
        if usec && chain.count == 1 && chain[0].start == 0 && chain[0].repeats == usecPerSecond && chain[0].stop < 0 {
            return "*"
        }
        func padded(_ v: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        func fraction(_ v: Int) -> String {
            let s = String(v % d)
            return "." + String(repeating: "0", count: 6 - s.count) + s
        }
        return chain.map { c in
            var s = padded(c.start / d)
            if c.start % d > 0 { s += fraction(c.start) }
            if c.stop > 0 { s += ".." + padded(c.stop / d) }
            if c.stop > 0 && c.stop % d > 0 { s += fraction(c.stop) }
            if c.repeats > 0 && !(c.stop > 0 && c.repeats == d) { s += "/" + String(c.repeats / d) }
            if c.repeats % d > 0 { s += fraction(c.repeats) }
            return s
        }.joined(separator: ",")
    }
}

// MARK: - Parsing

struct CalendarParser {
    let bytes: [UInt8]
    var i = 0
    init(bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { i >= bytes.count }
    func at(_ k: Int) -> UInt8 { k < bytes.count ? bytes[k] : 0 }
    var c: UInt8 { at(i) }
    static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
    mutating func skipSpaces() { while c == UInt8(ascii: " ") { i += 1 } }

    static let dayNames: [(String, Int)] = [
        ("monday", 0), ("mon", 0), ("tuesday", 1), ("tue", 1), ("wednesday", 2), ("wed", 2), ("thursday", 3),
        ("thu", 3), ("friday", 4), ("fri", 4), ("saturday", 5), ("sat", 5), ("sunday", 6), ("sun", 6),
    ].map { (String($0.0), $0.1) }

    func dayName(at k: Int) -> (length: Int, number: Int)? {
        for (name, number) in Self.dayNames {
            let n = Array(name.utf8)
            guard k + n.count <= bytes.count else { continue }
            if zip(bytes[k..<(k + n.count)], n).allSatisfy({ ($0.0 >= 65 && $0.0 <= 90 ? $0.0 | 0x20 : $0.0) == $0.1 }) {
                return (n.count, number)
            }
        }
        return nil
    }

    /// `Mon..Fri,Sun `: a list of weekdays and ranges (`-` is an old spelling of `..`), or nothing.
    mutating func weekdays(_ spec: inout CalendarSpec) throws(CalendarSpecError) {
        var rangeStart: Int? = nil
        var first = true
        var bits = spec.weekdays ?? 0
        defer { spec.weekdays = bits == 0 ? spec.weekdays : bits }
        while true {
            guard let (length, number) = dayName(at: i) else {
                if first { return }
                throw .invalid
            }
            let next = at(i + length)
            guard [0, UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: ","), UInt8(ascii: " ")].contains(next) else {
                throw .invalid
            }
            bits |= 1 << number
            if let l = rangeStart {
                if l > number { throw .invalid }
                if l + 1 < number { for j in (l + 1)..<number { bits |= 1 << j } }
            }
            i += length
            if atEnd { return }
            if c == UInt8(ascii: " ") {
                skipSpaces()
                return
            }
            if c == UInt8(ascii: ".") {
                if rangeStart != nil || at(i + 1) != UInt8(ascii: ".") { throw .invalid }
                rangeStart = number
                i += 2
            } else if c == UInt8(ascii: "-") {
                if rangeStart != nil { throw .invalid }
                rangeStart = number
                i += 1
            } else if c == UInt8(ascii: ",") {
                rangeStart = nil
                i += 1
            }
            if atEnd || c == UInt8(ascii: " ") {
                skipSpaces()
                if rangeStart != nil { throw .invalid }
                return
            }
            first = false
        }
    }

    /// A decimal number at `k` (and, for seconds, a fraction: one `.` is a decimal point, `..` a range), as an
    /// Int32-sized value (microseconds for seconds).
    func decimal(at k: Int, usec: Bool) throws(CalendarSpecError) -> (value: Int, end: Int) {
        var j = k
        guard Self.isDigit(at(j)) else { throw .invalid }
        var value: UInt64 = 0
        while Self.isDigit(at(j)) {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(at(j) - UInt8(ascii: "0")))
            if o1 || o2 { throw .outOfRange }
            value = a
            j += 1
        }
        if usec {
            let (m, o) = value.multipliedReportingOverflow(by: UInt64(CalendarSpec.usecPerSecond))
            if o { throw .outOfRange }
            value = m
            if at(j) == UInt8(ascii: ".") && at(j + 1) != UInt8(ascii: ".") {
                j += 1
                guard Self.isDigit(at(j)) else { throw .invalid }
                var add: UInt64 = 0
                for _ in 0..<6 {
                    add *= 10
                    if Self.isDigit(at(j)) {
                        add += UInt64(at(j) - UInt8(ascii: "0"))
                        j += 1
                    }
                }
                // A seventh digit rounds; the rest are dropped.
                if at(j) >= UInt8(ascii: "5") && at(j) <= UInt8(ascii: "9") { add += 1 }
                while Self.isDigit(at(j)) { j += 1 }
                let (s, o2) = value.addingReportingOverflow(add)
                if o2 { throw .outOfRange }
                value = s
            }
        }
        if value > UInt64(Int32.max) { throw .outOfRange }
        return (Int(value), j)
    }

    /// `*` (nil, or 0/1 s for seconds) or a comma-separated list of components.
    mutating func chain(usec: Bool) throws(CalendarSpecError) -> [CalendarComponent]? {
        if c == UInt8(ascii: "*") {
            i += 1
            return usec ? [CalendarComponent(0, repeats: CalendarSpec.usecPerSecond)] : nil
        }
        var out: [CalendarComponent] = []
        while true {
            if out.count > CalendarSpec.maxComponents { throw .tooManyComponents }
            let (start, afterStart) = try decimal(at: i, usec: usec)
            var j = afterStart
            var stop = -1
            var repeats = 0
            if at(j) == UInt8(ascii: ".") && at(j + 1) == UInt8(ascii: ".") {
                (stop, j) = try decimal(at: j + 2, usec: usec)
                repeats = usec ? CalendarSpec.usecPerSecond : 1
            }
            if at(j) == UInt8(ascii: "/") {
                (repeats, j) = try decimal(at: j + 1, usec: usec)
                if repeats == 0 { throw .outOfRange }
            }
            guard [0, UInt8(ascii: " "), UInt8(ascii: ","), UInt8(ascii: "-"), UInt8(ascii: "~"), UInt8(ascii: ":")]
                .contains(at(j))
            else { throw .invalid }
            out.append(CalendarComponent(start, stop: stop, repeats: repeats))
            i = j
            if c == UInt8(ascii: ",") {
                i += 1
                continue
            }
            return out
        }
    }

    /// The date: `@SECONDS` (true: nothing follows), `Y-M-D`, `M-D` (a `~` instead of the last `-`: days from
    /// the end of the month), or nothing (a time follows, or the end).
    mutating func date(_ spec: inout CalendarSpec) throws(CalendarSpecError) -> Bool {
        if atEnd { return false }
        if c == UInt8(ascii: "@") {
            var j = i + 1
            guard Self.isDigit(at(j)) else { throw .invalid }
            var value: Int64 = 0
            while Self.isDigit(at(j)) {
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(Int64(at(j) - UInt8(ascii: "0")))
                if o1 || o2 { throw .outOfRange }
                value = a
                j += 1
            }
            guard value / 86400 < Int64(Int32.max) else { throw .outOfRange }
            let days = Int(value / 86400)
            let rest = Int(value % 86400)
            let (y, m, d) = civilDate(days: days)
            spec.year = [CalendarComponent(y)]
            spec.month = [CalendarComponent(m)]
            spec.day = [CalendarComponent(d)]
            spec.hour = [CalendarComponent(rest / 3600)]
            spec.minute = [CalendarComponent(rest / 60 % 60)]
            spec.second = [CalendarComponent(rest % 60 * CalendarSpec.usecPerSecond)]
            spec.utc = true
            i = j
            return true
        }
        let begin = i
        let first = try chain(usec: false)
        if atEnd || c == UInt8(ascii: ":") {
            i = begin  // a time, not a date
            return false
        }
        if c == UInt8(ascii: "~") {
            spec.endOfMonth = true
        } else if c != UInt8(ascii: "-") {
            throw .invalid
        }
        i += 1
        let second = try chain(usec: false)
        if atEnd || c == UInt8(ascii: " ") {
            skipSpaces()
            spec.month = first
            spec.day = second
            return false
        }
        if spec.endOfMonth { throw .invalid }
        if c == UInt8(ascii: "~") {
            spec.endOfMonth = true
        } else if c != UInt8(ascii: "-") {
            throw .invalid
        }
        i += 1
        let third = try chain(usec: false)
        guard atEnd || c == UInt8(ascii: " ") else { throw .invalid }
        skipSpaces()
        spec.year = first
        spec.month = second
        spec.day = third
        return false
    }

    /// `H:M[:S]`, or nothing: 00:00:00.
    mutating func time(_ spec: inout CalendarSpec) throws(CalendarSpecError) {
        let zero = [CalendarComponent(0)]
        if atEnd {
            (spec.hour, spec.minute, spec.second) = (zero, zero, zero)
            return
        }
        let h = try chain(usec: false)
        guard c == UInt8(ascii: ":") else { throw .invalid }
        i += 1
        let m = try chain(usec: false)
        var s: [CalendarComponent]? = zero
        if !atEnd {
            guard c == UInt8(ascii: ":") else { throw .invalid }
            i += 1
            s = try chain(usec: true)
            guard atEnd else { throw .invalid }
        }
        (spec.hour, spec.minute, spec.second) = (h, m, s)
    }
}

// MARK: - The next elapse

extension CalendarSpec {
    /// The first instant strictly after `after` (microseconds since the epoch) that the expression matches, in
    /// `zone` (the rules of its time zone: UTC, the named zone, or the local one, as the caller chose); nil when
    /// it never elapses again (before the end of 2199).
    public func next(after: Int64, zone: ZoneRules) -> Int64? {
        let zone = utc ? ZoneRules.utc : zone
        let t = after + 1
        let seconds = floorDiv(t, 1_000_000)
        var civil = Civil(local: seconds + Int64(zone.type(at: seconds).offset), usec: Int(t - seconds * 1_000_000))
        // Each turn either returns or moves `civil` forward past a local time that doesn't exist or that was
        // already behind `after`; the year bound ends it.
        while let match = nextMatch(from: civil) {
            let local = match.localSeconds
            var candidates: [Int64]
            if let dst, let o = zone.offset(local: local, isDST: dst == 1) {
                candidates = [local - Int64(o)]
            } else {
                candidates = zone.instants(local: local)
            }
            let usec = Int64(match.usec % 1_000_000)
            if let u = candidates.map({ $0 * 1_000_000 + usec }).first(where: { $0 >= t }) { return u }
            civil = match
            civil.usec += 1
            if civil.usec >= 60_000_000 { civil.carry(.minute) }
        }
        return nil
    }

    struct Civil {
        var year, month, day, hour, minute: Int
        /// Microseconds into the minute.
        var usec: Int

        init(local seconds: Int64, usec: Int) {
            let days = Int(floorDiv(seconds, 86400))
            let rest = Int(seconds - Int64(days) * 86400)
            (year, month, day) = civilDate(days: days)
            hour = rest / 3600
            minute = rest / 60 % 60
            self.usec = rest % 60 * 1_000_000 + usec
        }

        var localSeconds: Int64 {
            Int64(civilDays(year: year, month: month, day: day)) * 86400 + Int64(hour * 3600 + minute * 60 + usec / 1_000_000)
        }

        enum Field { case year, month, day, hour, minute }

        /// The next value of `field` (carrying into the larger ones), the smaller ones at their first value.
        mutating func carry(_ field: Field) {
            switch field {
            case .minute:
                minute += 1
                usec = 0
                if minute > 59 { carry(.hour) }
            case .hour:
                hour += 1
                (minute, usec) = (0, 0)
                if hour > 23 { carry(.day) }
            case .day:
                day += 1
                (hour, minute, usec) = (0, 0, 0)
                if day > daysInMonth(year: year, month: month) { carry(.month) }
            case .month:
                month += 1
                (day, hour, minute, usec) = (1, 0, 0, 0)
                if month > 12 { carry(.year) }
            case .year:
                year += 1
                (month, day, hour, minute, usec) = (1, 1, 0, 0, 0)
            }
        }
    }

    /// The smallest value ≥ `value` of `chain` (any value when nil), or nil when none is ≤ `max`.
    static func match(_ chain: [CalendarComponent]?, _ value: Int, max: Int) -> Int? {
        guard let chain else { return value <= max ? value : nil }
        var best: Int? = nil
        for c in chain {
            var k: Int? = nil
            if c.start >= value {
                k = c.start
            } else if c.repeats > 0 {
                let n = c.start + c.repeats * ((value - c.start + c.repeats - 1) / c.repeats)
                if c.stop < 0 || n <= c.stop { k = n }
            }
            if let k, k <= max, best.map({ k < $0 }) ?? true { best = k }
        }
        return best
    }

    /// The day chain of a month: with `~`, counted back from its last day.
    func days(year: Int, month: Int) -> [CalendarComponent]? {
        guard endOfMonth, let day else { return day }
        let last = daysInMonth(year: year, month: month)
        return day.map { c in
            var start = last + 1 - c.start
            var stop = c.stop >= 0 ? last + 1 - c.stop : -1
            if stop > 0 { swap(&start, &stop) }
            return CalendarComponent(start, stop: stop, repeats: c.repeats)
        }
    }

    /// The first local date and time at or after `from` that every field matches.
    func nextMatch(from: Civil) -> Civil? {
        var c = from
        while c.year <= Self.maxYear {
            guard let y = Self.match(year, c.year, max: Self.maxYear) else { return nil }
            if y != c.year { (c.year, c.month, c.day, c.hour, c.minute, c.usec) = (y, 1, 1, 0, 0, 0) }
            guard let m = Self.match(month, c.month, max: 12) else {
                c.carry(.year)
                continue
            }
            if m != c.month { (c.month, c.day, c.hour, c.minute, c.usec) = (m, 1, 0, 0, 0) }
            let last = daysInMonth(year: c.year, month: c.month)
            guard let d = Self.match(days(year: c.year, month: c.month), c.day, max: last) else {
                c.carry(.month)
                continue
            }
            if d != c.day { (c.day, c.hour, c.minute, c.usec) = (d, 0, 0, 0) }
            if let w = weekdays,
                w & (1 << weekdayMondayFirst(days: civilDays(year: c.year, month: c.month, day: c.day))) == 0
            {
                c.carry(.day)
                continue
            }
            guard let h = Self.match(hour, c.hour, max: 23) else {
                c.carry(.day)
                continue
            }
            if h != c.hour { (c.hour, c.minute, c.usec) = (h, 0, 0) }
            guard let mi = Self.match(minute, c.minute, max: 59) else {
                c.carry(.hour)
                continue
            }
            if mi != c.minute { (c.minute, c.usec) = (mi, 0) }
            guard let s = Self.match(second, c.usec, max: 60 * Self.usecPerSecond - 1) else {
                c.carry(.minute)
                continue
            }
            c.usec = s
            return c
        }
        return nil
    }
}
