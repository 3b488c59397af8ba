/// Parsing of systemd's value syntaxes that are not specific to one directive: time spans (systemd.time(7)) and
/// booleans (systemd.syntax(7)).

/// Parses a time span as systemd.time(7) writes it: `90` (seconds), `500ms`, `1min 30s`, `55s500ms`, `1.5s`,
/// `5 min`, `infinity`. Returns nil for anything else, including negative values and overflow.
public func parseTimeSpan(_ s: String) -> TimeSpan? {
    parseTimeSpan(s, defaultUnit: 1_000_000)
}

/// The units of systemd.time(7), longest spelling first where one is a prefix of another, in microseconds.
private let timeUnits: [(String, UInt64)] = [
    ("seconds", 1_000_000), ("second", 1_000_000), ("sec", 1_000_000), ("s", 1_000_000),
    ("minutes", 60_000_000), ("minute", 60_000_000), ("min", 60_000_000),
    ("months", 2_629_800_000_000), ("month", 2_629_800_000_000), ("msec", 1_000), ("ms", 1_000),
    ("m", 60_000_000), ("M", 2_629_800_000_000),
    ("hours", 3_600_000_000), ("hour", 3_600_000_000), ("hr", 3_600_000_000), ("h", 3_600_000_000),
    ("days", 86_400_000_000), ("day", 86_400_000_000), ("d", 86_400_000_000),
    ("weeks", 604_800_000_000), ("week", 604_800_000_000), ("w", 604_800_000_000),
    ("years", 31_557_600_000_000), ("year", 31_557_600_000_000), ("y", 31_557_600_000_000),
    ("usec", 1), ("us", 1), ("μs", 1), ("µs", 1),
]

/// A time span whose unitless numbers are in `defaultUnit` microseconds (1 for `LimitRTTIME=`).
func parseTimeSpan(_ s: String, defaultUnit: UInt64) -> TimeSpan? {
    let t = s.trimmedWhitespace
    if t.isEmpty { return nil }
    if t == "infinity" { return .infinity }
    let b = Array(t.utf8)
    let n = b.count
    var i = 0
    var total: UInt64 = 0
    var sawComponent = false
    func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
    while true {
        while i < n && isSpaceByte(b[i]) { i += 1 }
        if i >= n { break }
        // The number: digits, optionally a fraction.
        var whole: UInt64 = 0
        var digits = 0
        while i < n && isDigit(b[i]) {
            let (m, o1) = whole.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(b[i] - UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            whole = a
            digits += 1
            i += 1
        }
        var fraction: UInt64 = 0
        var fractionScale: UInt64 = 1
        var fractionDigits = 0
        if i < n && b[i] == UInt8(ascii: ".") {
            i += 1
            while i < n && isDigit(b[i]) {
                // Digits beyond nanoseconds of a year don't change the result; drop them instead of overflowing.
                if fractionDigits < 15 {
                    fraction = fraction * 10 + UInt64(b[i] - UInt8(ascii: "0"))
                    fractionScale *= 10
                }
                fractionDigits += 1
                i += 1
            }
        }
        if digits == 0 && fractionDigits == 0 { return nil }
        if i < n && b[i] == UInt8(ascii: ".") { return nil }
        while i < n && isSpaceByte(b[i]) { i += 1 }
        // The unit: the longest letters run that names one.
        var j = i
        while j < n && !isDigit(b[j]) && !isSpaceByte(b[j]) && b[j] != UInt8(ascii: ".") { j += 1 }
        var multiplier = defaultUnit
        if j > i {
            let word = decodeUTF8(b[i..<j])
            guard let unit = timeUnits.first(where: { $0.0 == word }) else { return nil }
            multiplier = unit.1
            i = j
        }
        let (wholeUsec, o1) = whole.multipliedReportingOverflow(by: multiplier)
        if o1 { return nil }
        var part = wholeUsec
        if fraction > 0 {
            let product = fraction.multipliedFullWidth(by: multiplier)
            let (q, _) = fractionScale.dividingFullWidth(product)
            let (p, o) = part.addingReportingOverflow(q)
            if o { return nil }
            part = p
        }
        let (sum, o2) = total.addingReportingOverflow(part)
        if o2 || sum == .max { return nil }
        total = sum
        sawComponent = true
    }
    return sawComponent ? TimeSpan(usec: total) : nil
}

/// Parses a boolean as systemd does: `1`, `yes`, `y`, `true`, `t`, `on` and `0`, `no`, `n`, `false`, `f`,
/// `off`, in any case.
public func parseBoolean(_ s: String) -> Bool? {
    switch s.trimmedWhitespace.lowercased() {
    case "1", "yes", "y", "true", "t", "on": return true
    case "0", "no", "n", "false", "f", "off": return false
    default: return nil
    }
}
