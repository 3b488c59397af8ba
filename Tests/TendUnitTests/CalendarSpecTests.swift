import Testing
import TendModel

/// Calendar expressions (systemd.time(7)) in the model: normalized forms, refusals with systemd's errors, next
/// elapses in UTC and in a zone with daylight saving time (a POSIX rule, no files). The comparison with the real
/// systemd-analyze is CalendarAnalyzeTests.
@Suite struct CalendarSpecTests {
    func normalized(_ s: String) -> String? { try? CalendarSpec.parse(s).normalized }

    /// µs since the epoch of a UTC date and time.
    func utc(_ y: Int, _ mo: Int, _ d: Int, _ h: Int = 0, _ mi: Int = 0, _ s: Int = 0) -> Int64 {
        (Int64(civilDays(year: y, month: mo, day: d)) * 86400 + Int64(h * 3600 + mi * 60 + s)) * 1_000_000
    }

    @Test func shorthandsAndNormalForms() throws {
        let table: [(String, String)] = [
            ("minutely", "*-*-* *:*:00"), ("hourly", "*-*-* *:00:00"), ("daily", "*-*-* 00:00:00"),
            ("weekly", "Mon *-*-* 00:00:00"), ("monthly", "*-*-01 00:00:00"), ("yearly", "*-01-01 00:00:00"),
            ("quarterly", "*-01,04,07,10-01 00:00:00"), ("semiannually", "*-01,07-01 00:00:00"),
            ("Mon..Fri 09:00", "Mon..Fri *-*-* 09:00:00"), ("*-*-* *:00/15:00", "*-*-* *:00/15:00"),
            ("*-02~03", "*-02~03 00:00:00"), ("Monday..Tuesday", "Mon,Tue *-*-* 00:00:00"),
            ("mon-wed", "Mon..Wed *-*-* 00:00:00"), ("Sat,Mon..Tue *-*-* 1,2:3", "Mon,Tue,Sat *-*-* 01,02:03:00"),
            ("monday..sunday", "*-*-* 00:00:00"), ("00:00:00.5", "*-*-* 00:00:00.500000"),
            ("*-*-* *:*:1.5/0.25", "*-*-* *:*:01.500000/0.250000"), ("00:00:00.1234567", "*-*-* 00:00:00.123457"),
            ("*-*-* 0..23/3:0", "*-*-* 00..21/3:00:00"), ("*:0..59/15", "*-*-* *:00..45/15:00"),
            ("12-10-15", "2012-10-15 00:00:00"), ("70-01-01", "1970-01-01 00:00:00"), ("*-*-* 1,1,1:00", "*-*-* 01:00:00"),
            ("@1395716396", "2014-03-25 02:59:56 UTC"), ("daily utc", "*-*-* 00:00:00 UTC"),
            ("*-*-* *:*:*", "*-*-* *:*:*"), ("2020..2030/3-01-01", "2020..2029/3-01-01 00:00:00"),
        ]
        for (input, expected) in table { #expect(normalized(input) == expected, "\(input)") }
        #expect(try CalendarSpec.parse("hourly Europe/Berlin", isZone: { $0 == "Europe/Berlin" }).normalized
            == "*-*-* *:00:00 Europe/Berlin")
        #expect(try CalendarSpec.parse("daily CEST", localAbbreviations: ("CET", "CEST")).normalized
            == "*-*-* 00:00:00 CEST")
    }

    @Test func refusals() {
        let invalid = ["", "bad", "  daily ", "daily ", "*:*/10", "12:00:01.", "*:0/60", "*-*-* 00:00:90", "2200-01-01",
                       "1..5/2", "Mon..", "Mon..Wed..Fri", "Fri..Mon", "Mond", "*-*-* 24:00", "*-*-32", "*-13-01",
                       "1969-01-01", "*~29", "*-*~1-2", "daily Foo/Bar", "@"]
        for s in invalid {
            #expect(throws: CalendarSpecError.invalid, "\(s)") { try CalendarSpec.parse(s) }
        }
        for s in ["4294967296:00", "2147483648-01-01", "*:*:2147483648", "99999999999999999999:00", "*:0/0"] {
            #expect(throws: CalendarSpecError.outOfRange, "\(s)") { try CalendarSpec.parse(s) }
        }
        let many = (0...241).map { String($0 % 24) }.joined(separator: ",") + ":00"
        #expect(throws: CalendarSpecError.tooManyComponents) { try CalendarSpec.parse(many) }
        #expect(CalendarSpecError.invalid.description == "Invalid argument")
    }

    @Test func nextElapseInUTC() throws {
        func next(_ s: String, _ from: Int64, _ n: Int = 1) throws -> [Int64] {
            let spec = try CalendarSpec.parse(s)
            var out: [Int64] = []
            var t = from
            for _ in 0..<n {
                guard let u = spec.next(after: t, zone: .utc) else { break }
                out.append(u)
                t = u
            }
            return out
        }
        let base = utc(2026, 12, 2, 18)  // a Wednesday
        #expect(try next("daily", base, 2) == [utc(2026, 12, 3), utc(2026, 12, 4)])
        #expect(try next("Mon..Fri 09:00", base, 3) == [utc(2026, 12, 3, 9), utc(2026, 12, 4, 9), utc(2026, 12, 7, 9)])
        #expect(try next("*-*-* *:00/15:00", base, 2) == [utc(2026, 12, 2, 18, 15), utc(2026, 12, 2, 18, 30)])
        #expect(try next("*-02~03", base, 2) == [utc(2027, 2, 26), utc(2028, 2, 27)])
        #expect(try next("*-*-1/30", utc(2027, 2, 2, 10), 2) == [utc(2027, 3, 1), utc(2027, 3, 31)])
        #expect(try next("*-02-29", base) == [utc(2028, 2, 29)])
        #expect(try next("*-*-* *:*:00/5", base + 1, 2) == [utc(2026, 12, 2, 18, 0, 5), utc(2026, 12, 2, 18, 0, 10)])
        #expect(try next("*:*:00.5", base) == [utc(2026, 12, 2, 18) + 500_000])
        #expect(try next("2020-01-01", base).isEmpty, "never again")
        #expect(try next("*-02-30", base).isEmpty, "never")
        #expect(try next("2199-12-31 23:59:59", base) == [utc(2199, 12, 31, 23, 59, 59)])
        // Strictly after: an expression matching the base instant gives the next one.
        #expect(try next("18:00", base) == [utc(2026, 12, 3, 18)])
    }

    @Test func nextElapseAcrossDaylightSavingTime() throws {
        let rule = try #require(PosixTimeZone.parse("CET-1CEST,M3.5.0,M10.5.0/3"))
        let berlin = ZoneRules(transitions: [], transitionTypes: [], types: [rule.standard], rule: rule)
        #expect(berlin.type(at: utc(2027, 7, 1) / 1_000_000).abbreviation == "CEST")
        #expect(berlin.type(at: utc(2027, 1, 1) / 1_000_000).offset == 3600)
        // 2027-03-28: 02:00 CET becomes 03:00 CEST; 02:30 doesn't exist that day.
        let spec = try CalendarSpec.parse("*-*-* 02:30")
        let first = try #require(spec.next(after: utc(2027, 3, 27, 12), zone: berlin))
        #expect(first == utc(2027, 3, 29, 0, 30), "the 29th at 02:30 CEST")
        // 2027-10-31: 03:00 CEST becomes 02:00 CET; 02:30 happens twice. As systemd, the search is in local
        // time: the first one, then the next day's (not the repeat).
        let a = try #require(spec.next(after: utc(2027, 10, 30, 12), zone: berlin))
        #expect(a == utc(2027, 10, 31, 0, 30))
        #expect(berlin.timestamp(a) == "Sun 2027-10-31 02:30:00 CEST")
        let b = try #require(spec.next(after: a, zone: berlin))
        #expect(berlin.timestamp(b) == "Mon 2027-11-01 02:30:00 CET")
        // From inside the repeated hour (its second pass, 02:10 CET), its 02:30 is still ahead.
        let c = try #require(spec.next(after: utc(2027, 10, 31, 1, 10), zone: berlin))
        #expect(c == utc(2027, 10, 31, 1, 30))
        #expect(ZoneRules.utc.timestamp(utc(2026, 12, 3)) == "Thu 2026-12-03 00:00:00 UTC")
    }

    @Test func posixRules() throws {
        let sydney = try #require(PosixTimeZone.parse("AEST-10AEDT,M10.1.0,M4.1.0/3"))
        #expect(sydney.type(at: utc(2027, 1, 15) / 1_000_000).abbreviation == "AEDT")
        #expect(sydney.type(at: utc(2027, 6, 15) / 1_000_000).abbreviation == "AEST")
        let quoted = try #require(PosixTimeZone.parse("<+0330>-3:30"))
        #expect(quoted.standard.offset == 12600 && quoted.daylight == nil)
        for bad in ["", "C", "CET", "CET-1CEST,M13.5.0,M10.5.0", "CET-1CEST,M3.5.0"] {
            #expect(PosixTimeZone.parse(bad) == nil, "\(bad)")
        }
    }

    @Test func relativeTimes() {
        let s: Int64 = 1_000_000
        #expect(relativeTimeText(5 * 3600 * s + 46 * 60 * s, now: 0) == "5h 46min left")
        #expect(relativeTimeText(14 * 3600 * s, now: 0) == "14h left")
        #expect(relativeTimeText(29 * 3600 * s, now: 0) == "1 day 5h left")
        #expect(relativeTimeText(60 * s, now: 0) == "1min 0s left")
        #expect(relativeTimeText(0, now: 3 * s) == "3s ago")
        #expect(relativeTimeText(86 * 86400 * s, now: 0) == "2 months 25 days left")
        #expect(relativeTimeText(0, now: 0) == "now")
    }
}
