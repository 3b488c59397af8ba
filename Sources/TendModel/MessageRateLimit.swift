/// A window rate limit for the manager's own messages (journald's for a unit: at most `burst` per `interval`):
/// a crash loop with no start limit must not grow the manager's stderr without bound. Pure: the caller passes
/// the time and arms a deadline for `windowEnd` when something was suppressed, so nothing wakes the manager
/// otherwise.
public struct MessageRateLimit: Sendable {
    public let interval: TimeSpan
    public let burst: Int
    private var windowStart: MonotonicInstant?
    private var count = 0
    /// Messages dropped in the current window.
    public private(set) var suppressed = 0

    public init(interval: TimeSpan = .seconds(30), burst: Int = 10_000) {
        self.interval = interval
        self.burst = burst
    }

    /// When the current window ends (nil before any message).
    public var windowEnd: MonotonicInstant? { windowStart.map { $0 + interval } }

    /// Whether a message at `now` may go out. A window that has ended first hands over its count of
    /// suppressed messages (`ended`), to be reported before this message.
    public mutating func admit(now: MonotonicInstant) -> (allowed: Bool, ended: Int) {
        var ended = 0
        if let start = windowStart, now < start + interval {
            // Same window.
        } else {
            ended = suppressed
            windowStart = now
            count = 0
            suppressed = 0
        }
        guard count < burst else {
            suppressed += 1
            return (false, ended)
        }
        count += 1
        return (true, ended)
    }

    /// At the end of a window: the count to report, and the limit reset.
    public mutating func endWindow() -> Int {
        let n = suppressed
        suppressed = 0
        windowStart = nil
        count = 0
        return n
    }
}
