import Testing

@testable import TendModel
@testable import TendSystem
@testable import TendEngine

@Suite struct TimeSpanParsingTests {
    @Test(arguments: [
        ("90", 90_000_000 as UInt64), ("0", 0), ("500ms", 500_000), ("1min 30s", 90_000_000), ("2h", 7_200_000_000),
        ("1.5s", 1_500_000), ("5 min", 300_000_000), ("55s500ms", 55_500_000), ("300ms20s 5day", 432_020_300_000),
        ("2 h", 7_200_000_000), ("2hours", 7_200_000_000), ("48hr", 172_800_000_000), ("1w", 604_800_000_000),
        ("1y 12month", 63_115_200_000_000), ("1M", 2_629_800_000_000), ("1m", 60_000_000), ("10us", 10),
        ("10usec", 10), ("10µs", 10), ("3 msec", 3_000), ("1 2", 3_000_000), (" 7s ", 7_000_000), (".5s", 500_000),
        ("1.25min", 75_000_000), ("4days", 345_600_000_000), ("1sec", 1_000_000), ("2 seconds", 2_000_000),
    ])
    func validTimeSpans(input: String, usec: UInt64) {
        #expect(parseTimeSpan(input) == TimeSpan(usec: usec))
    }

    @Test func infinity() {
        #expect(parseTimeSpan("infinity") == .infinity)
        #expect(parseTimeSpan("infinity")?.description == "infinity")
    }

    @Test(arguments: [
        "", "   ", "soon", "5 parsecs", "-5", "1..5s", "s", "5s s", "infinityx", "99999999999999999999",
        "600000y", "1,5s",
    ])
    func invalidTimeSpans(input: String) {
        #expect(parseTimeSpan(input) == nil)
    }

    @Test func descriptionRoundTrips() {
        for s in ["5s", "1min 30s", "500ms", "1d 2h 3min 4s 5ms 6us"] {
            #expect(parseTimeSpan(s)?.description == s)
        }
    }

    @Test func defaultUnitForRTTime() {
        #expect(parseTimeSpan("500", defaultUnit: 1) == TimeSpan(usec: 500))
        #expect(parseTimeSpan("1s", defaultUnit: 1) == .seconds(1))
    }
}

@Suite struct BooleanParsingTests {
    @Test func booleans() {
        for s in ["yes", "YES", "true", "True", "on", "1", "y", "t"] { #expect(parseBoolean(s) == true) }
        for s in ["no", "No", "false", "FALSE", "off", "0", "n", "f"] { #expect(parseBoolean(s) == false) }
        for s in ["", "2", "yess", "enable", "nope"] { #expect(parseBoolean(s) == nil) }
    }
}

@Suite struct SignalsTests {
    @Test func namesWithAndWithoutSIGAndNumbers() {
        #expect(Signals.number(named: "SIGKILL") == 9)
        #expect(Signals.number(named: "KILL") == 9)
        #expect(Signals.number(named: "sigterm") == 15)
        #expect(Signals.number(named: "9") == 9)
        #expect(Signals.number(named: "SIGIOT") == 6)
        #expect(Signals.number(named: "RTMIN") == 34)
        #expect(Signals.number(named: "SIGRTMIN+3") == 37)
        #expect(Signals.number(named: "RTMAX-1") == 63)
        #expect(Signals.number(named: "RTMAX") == 64)
        for bad in ["", "SIG", "NOPE", "0", "65", "-1", "RTMIN+31", "RTMAX-31", "RTMIN+x"] {
            #expect(Signals.number(named: bad) == nil)
        }
    }

    @Test func roundTripForEverySignal() {
        for n in Int32(1)...64 {
            guard n != 32 && n != 33 else {
                #expect(Signals.name(n) == nil)
                continue
            }
            let name = Signals.name(n)
            #expect(name != nil)
            if let name {
                #expect(!name.hasPrefix("SIG"))
                #expect(Signals.number(named: name) == n)
                #expect(Signals.number(named: "SIG" + name) == n)
            }
        }
        #expect(Signals.name(9) == "KILL")
        #expect(Signals.name(15) == "TERM")
        #expect(Signals.name(36) == "RTMIN+2")
        #expect(Signals.name(0) == nil)
        #expect(Signals.name(65) == nil)
    }
}
