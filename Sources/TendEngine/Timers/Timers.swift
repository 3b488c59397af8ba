import Glibc
import TendModel
import TendSystem

/// A timer's state (systemd.timer(5)'s sub-states): `dead` when stopped, `waiting` for its next elapse,
/// `running` while the unit it started is up, `elapsed` when nothing is left to wait for.
public enum TimerState: String, Sendable {
    case dead, waiting, running, elapsed
}

/// A `.timer` unit's state: its configuration, its last trigger, its next elapse.
public final class TimerUnit {
    public internal(set) var config: ServiceConfig
    public internal(set) var state: TimerState = .dead
    /// When the timer was started (OnActiveSec='s base).
    var activatedAt: MonotonicInstant?
    var activatedAtRealtime: UInt64 = 0
    /// The last time it elapsed, µs since the epoch (0: never), and as a monotonic instant (nil when it comes
    /// from the stamp of an earlier manager).
    public internal(set) var lastTrigger: UInt64 = 0
    var lastTriggerMonotonic: MonotonicInstant?
    /// The next elapse, µs since the epoch, and when the manager wakes for it.
    public internal(set) var nextElapse: UInt64?
    var nextDeadline: MonotonicInstant?
    /// The latest the elapse may be run (the deadline plus AccuracySec=).
    var latestDeadline: MonotonicInstant?

    init(_ config: ServiceConfig) { self.config = config }

    /// The unit it starts: `Unit=`, or the timer's name with `.service`.
    public var target: String {
        config.timer.unit ?? UnitName(prefix: config.name.prefix, instance: config.name.instance, suffix: "service").description
    }
}

/// Every timer's next elapse behind one reactor deadline: the manager sleeps until the earliest one is due
/// (plus its AccuracySec=, so that elapses close together share a wakeup) and wakes for nothing else.
final class TimerScheduler {
    unowned let manager: Manager
    /// The monotonic instants at which each timer target last became active (left inactive) and inactive.
    private var unitActivated: [String: MonotonicInstant] = [:]
    private var unitDeactivated: [String: MonotonicInstant] = [:]
    private var lastActive: [String: Bool] = [:]
    private let startup: MonotonicInstant
    private var armed: MonotonicInstant?
    /// How many times the deadline fired (for the idle-wakeup tests).
    private(set) var wakeups = 0
    private var rng = SystemRandomNumberGenerator()

    init(manager: Manager) {
        self.manager = manager
        startup = manager.system.monotonicNow
    }

    var stampDirectory: String { manager.options.stateDir + "/timers" }

    private func timers() -> [(Unit, TimerUnit)] {
        manager.units.values.compactMap { u in u.timer.map { (u, $0) } }
    }

    /// A unit's state changed: a timer started or stopped, or a timer's target came up or went down.
    func stateChanged(_ unit: Unit) {
        if let t = unit.timer {
            let now = manager.system.monotonicNow
            if unit.activeState == .active && t.activatedAt == nil {
                t.activatedAt = now
                t.activatedAtRealtime = manager.system.realtimeMicroseconds
                t.state = .waiting
                if t.config.timer.persistent, let stamp = readStamp(unit.name.description) { t.lastTrigger = stamp }
            } else if unit.activeState == .inactive && t.activatedAt != nil {
                t.activatedAt = nil
                t.nextElapse = nil
                t.nextDeadline = nil
            }
            rearm()
            return
        }
        let name = unit.name.description
        let active = unit.activeState != .inactive && unit.activeState != .failed
        guard timers().contains(where: { $0.1.target == name }) else { return }
        let was = lastActive[name] ?? false
        guard was != active else { return }
        lastActive[name] = active
        let now = manager.system.monotonicNow
        if active { unitActivated[name] = now } else { unitDeactivated[name] = now }
        for (_, t) in timers() where t.target == name && t.activatedAt != nil {
            if !active && t.state == .running { t.state = .waiting }
        }
        rearm()
    }

    /// Computes every active timer's next elapse and sets the one deadline at the earliest.
    func rearm() {
        let now = manager.system.monotonicNow
        let realNow = manager.system.realtimeMicroseconds
        var earliest: MonotonicInstant?
        for (unit, t) in timers() where t.activatedAt != nil {
            computeNext(unit, t, now: now, realNow: realNow)
            if let latest = t.latestDeadline, earliest.map({ latest < $0 }) ?? true { earliest = latest }
        }
        guard let earliest else {
            if armed != nil { manager.loop.cancelDeadline(ObjectIdentifier(self)) }
            armed = nil
            return
        }
        if armed == earliest { return }
        armed = earliest
        manager.loop.setDeadline(ObjectIdentifier(self), at: earliest) { [unowned self] in self.fire() }
    }

    private func computeNext(_ unit: Unit, _ t: TimerUnit, now: MonotonicInstant, realNow: UInt64) {
        let c = t.config.timer
        var best: MonotonicInstant?
        func consider(_ m: MonotonicInstant) { if best.map({ m < $0 }) ?? true { best = m } }
        for (base, span) in c.monotonic {
            var from: MonotonicInstant?
            switch base {
            case .active: from = t.activatedAt
            case .boot: from = MonotonicInstant(ns: 0)
            case .startup: from = startup
            case .unitActive: from = maxInstant(unitActivated[t.target], t.lastTriggerMonotonic)
            case .unitInactive: from = maxInstant(unitDeactivated[t.target], t.lastTriggerMonotonic)
            }
            guard let from else { continue }
            let next = from + span
            // OnActiveSec=, OnBootSec=, OnStartupSec= elapse once: not again after a trigger at or past them.
            if [.active, .boot, .startup].contains(base), let last = t.lastTriggerMonotonic, !(last < next) { continue }
            consider(next)
        }
        for (_, spec) in c.calendar {
            let after = t.lastTrigger > 0 ? t.lastTrigger : t.activatedAtRealtime
            let zone: ZoneRules
            if let name = spec.timezone {
                guard let z = ZoneInfo.load(name) else { continue }
                zone = z
            } else {
                zone = manager.localZone
            }
            guard let real = spec.next(after: Int64(after), zone: zone) else { continue }
            let ahead = real > Int64(realNow) ? UInt64(real - Int64(realNow)) : 0
            consider(now + TimeSpan(usec: ahead))
        }
        guard var next = best else {
            t.nextElapse = nil
            t.nextDeadline = nil
            t.latestDeadline = nil
            if t.state != .running { t.state = .elapsed }
            return
        }
        if c.randomizedDelay.usec > 0 {
            next = next + TimeSpan(usec: UInt64.random(in: 0...c.randomizedDelay.usec, using: &rng))
        }
        t.nextDeadline = next
        t.latestDeadline = next + c.accuracy
        t.nextElapse = realNow &+ next.usec(since: now)
        if t.state == .elapsed { t.state = .waiting }
    }

    private func maxInstant(_ a: MonotonicInstant?, _ b: MonotonicInstant?) -> MonotonicInstant? {
        guard let a else { return b }
        guard let b else { return a }
        return a < b ? b : a
    }

    /// The deadline passed: every timer whose elapse is due starts its unit.
    private func fire() {
        armed = nil
        wakeups += 1
        let now = manager.system.monotonicNow
        let realNow = manager.system.realtimeMicroseconds
        for (unit, t) in timers() where t.activatedAt != nil {
            guard let due = t.nextDeadline, !(now < due) else { continue }
            t.lastTrigger = realNow
            t.lastTriggerMonotonic = now
            t.state = .running
            if t.config.timer.persistent { writeStamp(unit.name.description, realNow) }
            manager.note(unit, .info, "Triggering \(t.target).")
            manager.submit(.start, unit: t.target, wait: false) { [weak manager] failure in
                if let failure { manager?.report(.warning, "\(unit.name): Failed to start \(t.target): \(failure.message)") }
            }
        }
        rearm()
    }

    // MARK: Persistent=

    private func stampPath(_ name: String) -> String { stampDirectory + "/stamp-" + name }

    private func readStamp(_ name: String) -> UInt64? {
        guard let bytes = manager.system.readFile(stampPath(name), limit: 64) else { return nil }
        return UInt64(String(decoding: bytes.filter { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }, as: UTF8.self))
    }

    private func writeStamp(_ name: String, _ usec: UInt64) {
        do {
            try manager.system.makeDirectories(stampDirectory, mode: 0o755)
            let target = stampPath(name)
            let bytes = Array("\(usec)\n".utf8)
            let fd = try Posix.open(target + ".new", O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
            defer { Posix.close(fd) }
            if try Posix.write(fd, bytes) != bytes.count { throw SystemError("write \(target).new", errno: EIO) }
            if Glibc.rename(target + ".new", target) != 0 { throw SystemError("rename \(target).new", errno: Glibc.errno) }
        } catch {
            manager.report(.warning, "\(name): could not write its timer stamp: \(error)")
        }
    }
}
