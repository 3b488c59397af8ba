/// A `.timer` unit's `[Timer]` section (systemd.timer(5)): when it elapses and what it starts.

public struct TimerConfig: Sendable {
    /// What a monotonic timer counts from.
    public enum Base: String, Sendable, CaseIterable {
        case active = "OnActiveSec"
        case boot = "OnBootSec"
        case startup = "OnStartupSec"
        case unitActive = "OnUnitActiveSec"
        case unitInactive = "OnUnitInactiveSec"
    }

    /// `OnActiveSec=` ... `OnUnitInactiveSec=`, in file order; an empty value clears them all (with the calendar
    /// ones), as in systemd.
    public var monotonic: [(base: Base, span: TimeSpan)] = []
    /// `OnCalendar=`: the text as written and the expression.
    public var calendar: [(text: String, spec: CalendarSpec)] = []
    /// `AccuracySec=` (default 1 min): how late an elapse may run, so that nearby ones share one wakeup.
    public var accuracy: TimeSpan = .seconds(60)
    /// `RandomizedDelaySec=`: a random delay up to this, added to each elapse.
    public var randomizedDelay: TimeSpan = .zero
    /// `Persistent=`: the last trigger is kept on disk; a calendar elapse missed while the manager was down runs
    /// as soon as the timer starts.
    public var persistent = false
    /// `Unit=`: what to start (default: the timer's name with `.service`).
    public var unit: String?
    /// `RemainAfterElapse=` (default yes): an elapsed timer with nothing left to wait for stays active.
    public var remainAfterElapse = true

    public init() {}

    /// Whether anything was configured to elapse (systemd refuses a timer without any).
    public var hasTriggers: Bool { !monotonic.isEmpty || !calendar.isEmpty }
}

/// The `[Timer]` rows of the directive table.
let timerDirectives: [Directive] = {
    var t: [Directive] = []
    for base in TimerConfig.Base.allCases {
        t.append(Directive(section: "Timer", name: base.rawValue) { value, config, ctx in
            if value.isEmpty {
                config.timer.monotonic = []
                config.timer.calendar = []
                return
            }
            guard let span = parseTimeSpan(value), !span.isInfinite else {
                return ctx.error("invalid time span \"\(shortened(value))\"")
            }
            config.timer.monotonic.append((base, span))
        })
    }
    t.append(Directive(section: "Timer", name: "OnCalendar") { value, config, ctx in
        if value.isEmpty {
            config.timer.monotonic = []
            config.timer.calendar = []
            return
        }
        // The model sees no files: a last word that could be a zone name is taken as one here, and the engine
        // checks the time zone database when it computes the elapse.
        do {
            let spec = try CalendarSpec.parse(value, isZone: { _ in false })
            config.timer.calendar.append((value, spec))
        } catch {
            if let spec = try? CalendarSpec.parse(value, isZone: { name in
                name.utf8.allSatisfy { $0 != UInt8(ascii: " ") } && name.first.map { $0.isUppercase } == true
            }) {
                config.timer.calendar.append((value, spec))
            } else {
                ctx.error("invalid calendar specification \"\(shortened(value))\": \(error)")
            }
        }
    })
    t.append(Directive(section: "Timer", name: "AccuracySec") { value, config, ctx in
        if value.isEmpty { return config.timer.accuracy = .seconds(60) }
        guard let span = parseTimeSpan(value) else { return ctx.error("invalid time span \"\(shortened(value))\"") }
        config.timer.accuracy = span.usec == 0 ? TimeSpan(usec: 1) : span
    })
    t.append(Directive(section: "Timer", name: "RandomizedDelaySec") { value, config, ctx in
        if value.isEmpty { return config.timer.randomizedDelay = .zero }
        guard let span = parseTimeSpan(value), !span.isInfinite else {
            return ctx.error("invalid time span \"\(shortened(value))\"")
        }
        config.timer.randomizedDelay = span
    })
    for (name, kp) in [("Persistent", \ServiceConfig.timer.persistent), ("RemainAfterElapse", \.timer.remainAfterElapse)] {
        t.append(Directive(section: "Timer", name: name) { value, config, ctx in
            if value.isEmpty { return config[keyPath: kp] = name == "RemainAfterElapse" }
            guard let b = parseBoolean(value) else { return ctx.error("invalid boolean \"\(shortened(value))\"") }
            config[keyPath: kp] = b
        })
    }
    t.append(Directive(section: "Timer", name: "Unit") { value, config, ctx in
        if value.isEmpty { return config.timer.unit = nil }
        guard let v = ctx.expand(value), let name = UnitName(parsing: v), !name.isTemplate, v.contains(".") else {
            return ctx.error("\"\(shortened(value))\" is not a unit name")
        }
        guard name.suffix != "timer" else { return ctx.error("a timer cannot trigger a timer") }
        config.timer.unit = name.description
    })
    return t
}()

/// `[Timer]` directives systemd has that tend accepts and ignores: there is no suspend to wake from, and clock
/// changes are not watched.
let ignoredTimerDirectives = ["WakeSystem", "OnClockChange", "OnTimezoneChange", "FixedRandomDelay"]

/// systemd's check of a timer: it must have something to wait for.
package func validateTimerConfig(_ config: ServiceConfig, file: String) -> [Diagnostic] {
    guard config.name.suffix == "timer", !config.timer.hasTriggers else { return [] }
    return [Diagnostic(severity: .error, location: SourceLocation(file: file, line: 1), directive: nil,
                       message: "Timer unit lacks value setting. Refusing.")]
}
