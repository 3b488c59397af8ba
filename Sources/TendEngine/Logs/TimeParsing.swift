import Glibc
import TendModel
import TendSystem

/// Times for `tend logs --since/--until`, as journalctl reads them (systemd.time(7)), in local time:
/// `2026-11-20 10:00:00`, `2026-11-20 10:00`, `2026-11-20`, `10:00[:00]` (today), `today`, `yesterday`,
/// `tomorrow`, `now`, relative `-5min` / `+1h` / `5min ago`, `@UNIXSECONDS`.
public enum TimeParsing {
    /// µs since the epoch, or nil when the text is not a time.
    public static func parse(_ text: String, now: UInt64) -> UInt64? {
        let s = text.trimmingCharacters(in: " \t")
        switch s {
        case "now": return now
        case "today": return startOfDay(now, offsetDays: 0)
        case "yesterday": return startOfDay(now, offsetDays: -1)
        case "tomorrow": return startOfDay(now, offsetDays: 1)
        default: break
        }
        if s.hasPrefix("@"), let secs = Double(s.dropFirst()), secs >= 0 {
            // `@1e300`, `@inf`: past anything a log can hold; refused rather than trapping the conversion.
            let us = secs * 1_000_000
            guard us.isFinite, us < Double(UInt64.max) else { return nil }
            return UInt64(us)
        }
        if s.hasSuffix(" ago"), let span = parseTimeSpan(String(s.dropLast(4))), !span.isInfinite {
            return now >= span.usec ? now - span.usec : 0
        }
        if s.hasPrefix("-"), let span = parseTimeSpan(String(s.dropFirst())), !span.isInfinite {
            return now >= span.usec ? now - span.usec : 0
        }
        if s.hasPrefix("+"), let span = parseTimeSpan(String(s.dropFirst())), !span.isInfinite {
            let (sum, overflow) = now.addingReportingOverflow(span.usec)
            return overflow ? nil : sum
        }
        return absolute(s, now: now)
    }

    private static func startOfDay(_ now: UInt64, offsetDays: Int32) -> UInt64? {
        var t = time_t(now / 1_000_000)
        var tm = tm()
        localtime_r(&t, &tm)
        tm.tm_hour = 0
        tm.tm_min = 0
        tm.tm_sec = 0
        tm.tm_mday += offsetDays
        tm.tm_isdst = -1
        let r = mktime(&tm)
        guard r >= 0 else { return nil }
        let (us, overflow) = UInt64(r).multipliedReportingOverflow(by: 1_000_000)
        return overflow ? nil : us
    }

    /// `YYYY-MM-DD[ HH:MM[:SS[.ffffff]]]` or `HH:MM[:SS]` (today), local time; a `T` may separate date and time,
    /// and a trailing `Z` or ` UTC` means UTC.
    private static func absolute(_ text: String, now: UInt64) -> UInt64? {
        var s = text
        var utc = false
        if s.hasSuffix(" UTC") {
            utc = true
            s = String(s.dropLast(4))
        } else if s.hasSuffix("Z") {
            utc = true
            s = String(s.dropLast())
        }
        let parts = s.split(whereSeparator: { $0 == " " || $0 == "T" }).map(String.init)
        guard !parts.isEmpty, parts.count <= 2 else { return nil }
        var t = time_t(now / 1_000_000)
        var tm = tm()
        if utc { gmtime_r(&t, &tm) } else { localtime_r(&t, &tm) }
        var timePart: String?
        if parts[0].contains("-") {
            let d = parts[0].split(separator: "-").map { Int32($0) }
            guard d.count == 3, let y = d[0], let m = d[1], let day = d[2], (1...12).contains(m), (1...31).contains(day)
            else { return nil }
            tm.tm_year = y - 1900
            tm.tm_mon = m - 1
            tm.tm_mday = day
            tm.tm_hour = 0
            tm.tm_min = 0
            tm.tm_sec = 0
            timePart = parts.count == 2 ? parts[1] : nil
        } else {
            guard parts.count == 1 else { return nil }
            timePart = parts[0]
        }
        var micros: UInt64 = 0
        if let tp = timePart {
            var clock = tp
            if let dot = clock.firstIndex(of: ".") {
                let frac = String(clock[clock.index(after: dot)...].prefix(6))
                guard let f = UInt64(frac) else { return nil }
                micros = f * UInt64(pow10(6 - frac.count))
                clock = String(clock[..<dot])
            }
            let c = clock.split(separator: ":").map { Int32($0) }
            guard c.count == 2 || c.count == 3, let h = c[0], let mi = c[1], (0...23).contains(h), (0...59).contains(mi)
            else { return nil }
            let sec = c.count == 3 ? c[2] : 0
            guard let sec, (0...60).contains(sec) else { return nil }
            tm.tm_hour = h
            tm.tm_min = mi
            tm.tm_sec = sec
        }
        tm.tm_isdst = -1
        let r = utc ? timegm(&tm) : mktime(&tm)
        guard r >= 0 else { return nil }
        let (us, overflow) = UInt64(r).multipliedReportingOverflow(by: 1_000_000)
        return overflow ? nil : us + micros
    }

    private static func pow10(_ n: Int) -> Int { (0..<n).reduce(1) { acc, _ in acc * 10 } }
}

