import Testing
import TendModel
import TendEngine
import TendTestSupport

@Suite struct MessageRateLimitTests {
    @Test func burstThenSuppressedThenCountedWhenTheNextWindowBegins() {
        var limit = MessageRateLimit(interval: .seconds(30), burst: 3)
        let t0 = MonotonicInstant(ns: 1_000_000_000)
        let first = (0..<5).map { limit.admit(now: t0 + .milliseconds(UInt64($0))) }
        #expect(first.map(\.allowed) == [true, true, true, false, false])
        #expect(first.allSatisfy { $0.ended == 0 })
        #expect(limit.suppressed == 2)
        #expect(limit.windowEnd == t0 + .seconds(30))
        let next = limit.admit(now: t0 + .seconds(30))
        #expect(next.allowed && next.ended == 2, "a new window hands over what the last one suppressed")
        #expect(limit.suppressed == 0)
    }

    /// A crash loop's messages: the manager's stderr and its own log get at most the burst per window, and the
    /// number left out is said when the window ends, with nothing more to say then (a deadline, not a poll).
    @Test func theManagersMessagesAreLimitedAndTheGapIsReported() throws {
        let fake = try FakeManager(units: [:])
        var seen: [String] = []
        fake.manager.logHandler = { _, text in seen.append(text) }
        fake.manager.messageLimit = MessageRateLimit(interval: .seconds(30), burst: 100)
        for i in 0..<250 { fake.manager.report(.info, "message \(i)") }
        #expect(seen.count == 100)
        #expect(seen.last == "message 99")
        #expect(fake.reactor.armedDeadlines >= 1)
        fake.reactor.advance(by: .seconds(31))
        #expect(seen.count == 101)
        #expect(seen.last?.hasPrefix("Suppressed 150 messages of the manager") == true)
        fake.manager.report(.info, "after")
        #expect(seen.last == "after")
    }
}
