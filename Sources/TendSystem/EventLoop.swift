import CTend
import Glibc
import TendModel

/// The manager's event loop: one epoll set on one thread, and one timerfd for every deadline. Nothing polls:
/// with no deadline armed and no descriptor ready, `run()` sleeps in epoll_wait(-1) (zero wakeups when idle).
///
/// Not Sendable on purpose: all manager state lives on the thread that runs the loop.
public final class EventLoop: Reactor {
    public typealias Handler = (UInt32) -> Void

    private let epfd: Int32
    private let timerfd: Int32
    private var handlers: [UInt64: Handler] = [:]
    private var fdOfToken: [UInt64: Int32] = [:]
    private var nextToken: UInt64 = 1
    private static let timerToken: UInt64 = 0

    /// Deadlines by owner; the timerfd is armed at the earliest.
    private struct DeadlineKey: Hashable {
        var owner: ObjectIdentifier
        var slot: Int
    }
    private var deadlines: [DeadlineKey: (MonotonicInstant, () -> Void)] = [:]
    private var armedAt: MonotonicInstant?
    private var stopping = false
    /// Work to run once the current batch of events is handled.
    private var deferred: [() -> Void] = []

    public init() throws {
        let ep = ctend_epoll_create()
        guard ep >= 0 else { throw SystemError("create epoll instance", errno: -ep) }
        let t = ctend_timerfd()
        guard t >= 0 else { throw SystemError("create timerfd", errno: -t) }
        epfd = ep
        timerfd = t
        let e = ctend_epoll_ctl(epfd, 1, timerfd, UInt32(CTEND_EPOLLIN), EventLoop.timerToken)
        guard e == 0 else { throw SystemError("watch timerfd", errno: e) }
    }

    deinit {
        Posix.close(epfd)
        Posix.close(timerfd)
    }

    /// Watches `fd` for the given epoll events; returns a token for `unwatch`.
    @discardableResult
    public func watch(_ fd: Int32, events: UInt32, _ handler: @escaping Handler) throws -> UInt64 {
        let token = nextToken
        nextToken += 1
        let e = ctend_epoll_ctl(epfd, 1, fd, events, token)
        guard e == 0 else { throw SystemError("watch descriptor \(fd)", errno: e) }
        handlers[token] = handler
        fdOfToken[token] = fd
        return token
    }

    public func modify(_ token: UInt64, events: UInt32) {
        guard let fd = fdOfToken[token] else { return }
        _ = ctend_epoll_ctl(epfd, 3, fd, events, token)
    }

    /// Stops watching; call before closing the descriptor.
    public func unwatch(_ token: UInt64) {
        guard let fd = fdOfToken.removeValue(forKey: token) else { return }
        handlers[token] = nil
        _ = ctend_epoll_ctl(epfd, 2, fd, 0, token)
    }

    /// Arms (or re-arms) the deadline of `owner`; `action` runs once it has passed.
    /// An owner may hold several deadlines, told apart by `slot`.
    public func setDeadline(_ owner: ObjectIdentifier, slot: Int, at: MonotonicInstant, _ action: @escaping () -> Void) {
        deadlines[DeadlineKey(owner: owner, slot: slot)] = (at, action)
        rearm()
    }

    public func cancelDeadline(_ owner: ObjectIdentifier, slot: Int) {
        if deadlines.removeValue(forKey: DeadlineKey(owner: owner, slot: slot)) != nil { rearm() }
    }

    /// Runs `work` after the events of this iteration, before sleeping again.
    public func afterEvents(_ work: @escaping () -> Void) { deferred.append(work) }

    public func stop() { stopping = true }

    private func rearm() {
        let earliest = deadlines.values.min { $0.0 < $1.0 }?.0
        guard earliest != armedAt else { return }
        armedAt = earliest
        _ = ctend_timerfd_set(timerfd, earliest?.ns ?? 0)
    }

    private func fireDeadlines() {
        var buf: UInt64 = 0
        _ = Glibc.read(timerfd, &buf, 8)
        armedAt = nil
        let now = Posix.monotonicNow
        let due = deadlines.filter { $0.value.0 <= now }
        for (owner, _) in due { deadlines[owner] = nil }
        for (_, entry) in due.sorted(by: { $0.value.0 < $1.value.0 }) { entry.1() }
        rearm()
    }

    /// Runs until `stop()`.
    public func run() {
        var events = [ctend_event](repeating: ctend_event(), count: 64)
        while !stopping {
            runDeferred()
            if stopping { break }
            let n = events.withUnsafeMutableBufferPointer { ctend_epoll_wait(epfd, $0.baseAddress!, 64, -1) }
            if n < 0 { continue }  // EINTR
            for i in 0..<Int(n) {
                let ev = events[i]
                if ev.data == EventLoop.timerToken {
                    fireDeadlines()
                } else if let h = handlers[ev.data] {
                    h(ev.events)
                }
            }
        }
        runDeferred()
    }

    private func runDeferred() {
        while !deferred.isEmpty {
            let work = deferred
            deferred = []
            for w in work { w() }
        }
    }
}
