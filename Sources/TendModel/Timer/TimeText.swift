/// Instants as systemctl and systemd-analyze print them, given the zone's rules: `Thu 2026-12-03 00:00:00 UTC`,
/// and the distance to now, `5h 46min left` / `2 months 24 days left` / `3s ago`.

extension ZoneRules {
    /// `Thu 2026-12-03 00:00:00 CET`: the instant (µs since the epoch) in this zone, with its abbreviation.
    public func timestamp(_ usec: Int64) -> String {
        let seconds = floorDiv(usec, 1_000_000)
        let t = type(at: seconds)
        let local = seconds + Int64(t.offset)
        let days = Int(floorDiv(local, 86400))
        let rest = Int(local - Int64(days) * 86400)
        let (y, m, d) = civilDate(days: days)
        let names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let date = "\(y)-\(two(m))-\(two(d))"
        let time = "\(two(rest / 3600)):\(two(rest / 60 % 60)):\(two(rest % 60))"
        return "\(names[weekdayMondayFirst(days: days)]) \(date) \(time) \(t.abbreviation)"
    }
}

/// systemd's relative timestamp: the distance from `now` to `t` (µs) in its two largest units, `left` or `ago`.
public func relativeTimeText(_ t: Int64, now: Int64) -> String {
    let (d, suffix) = now > t ? (UInt64(now - t), " ago") : (UInt64(t - now), " left")
    let sec: UInt64 = 1_000_000
    let minute = 60 * sec, hour = 60 * minute, day = 24 * hour, week = 7 * day
    let month: UInt64 = 2_629_800 * sec, year: UInt64 = 31_557_600 * sec
    func plural(_ n: UInt64, _ one: String, _ many: String) -> String { "\(n) \(n == 1 ? one : many)" }
    if d >= year {
        return plural(d / year, "year", "years") + " " + plural(d % year / month, "month", "months") + suffix
    }
    if d >= month {
        return plural(d / month, "month", "months") + " " + plural(d % month / day, "day", "days") + suffix
    }
    if d >= week { return plural(d / week, "week", "weeks") + " " + plural(d % week / day, "day", "days") + suffix }
    if d >= 2 * day { return "\(d / day) days" + suffix }
    if d >= 25 * hour { return "1 day \((d - day) / hour)h" + suffix }
    if d >= 6 * hour { return "\(d / hour)h" + suffix }
    if d >= hour { return "\(d / hour)h \(d % hour / minute)min" + suffix }
    if d >= 5 * minute { return "\(d / minute)min" + suffix }
    if d >= minute { return "\(d / minute)min \(d % minute / sec)s" + suffix }
    if d >= sec { return "\(d / sec)s" + suffix }
    if d >= 1000 { return "\(d / 1000)ms" + suffix }
    if d > 0 { return "\(d)us" + suffix }
    return "now"
}
