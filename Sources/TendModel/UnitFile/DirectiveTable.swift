/// The one table of directives tend understands: section, name and a parser that writes into `ServiceConfig`.
/// `parseUnitText()`, `DirectiveTable.all` (for `tend verify` and docs) and docs/unit-files.md follow it.
///
/// Longer than our usual ~500 lines on purpose: it is one table, one row per directive, and keeping every row in
/// one place is what makes "a new directive is one row" true.

/// What a directive's parser gets besides the value: where it is, specifier resolution, and the diagnostics.
struct DirectiveContext {
    var resolver: SpecifierResolver
    var location: SourceLocation
    var directive: String
    var diagnostics: [Diagnostic] = []

    mutating func error(_ message: String) {
        diagnostics.append(Diagnostic(severity: .error, location: location, directive: directive, message: message))
    }
    mutating func warning(_ message: String) {
        diagnostics.append(Diagnostic(severity: .warning, location: location, directive: directive, message: message))
    }
    /// `s` with specifiers resolved, or nil after reporting the problem.
    mutating func expand(_ s: String) -> String? {
        do {
            return try resolver.expand(s)
        } catch {
            self.error(error.message)
            return nil
        }
    }
    /// The words of `s`, unquoted, unescaped and with specifiers resolved, or nil after reporting the problem.
    mutating func words(_ s: String) -> [String]? {
        let raw: [String]
        do {
            raw = try splitWordStrings(s)
        } catch {
            self.error(error.description)
            return nil
        }
        var out: [String] = []
        out.reserveCapacity(raw.count)
        for w in raw {
            guard let e = expand(w) else { return nil }
            out.append(e)
        }
        return out
    }
    mutating func badValue(_ value: String) {
        error("unknown value \"\(shortened(value))\"")
    }
}

/// A field of `ServiceConfig`; `Sendable` so parsers can capture it.
typealias Field<T> = WritableKeyPath<ServiceConfig, T> & Sendable

typealias DirectiveParser =
    @Sendable (_ value: String, _ config: inout ServiceConfig, _ ctx: inout DirectiveContext)
    -> Void

/// One row of the table.
struct Directive: Sendable {
    var section: String
    var name: String
    var parse: DirectiveParser
}

/// The directives tend understands, and those it knows from systemd but ignores.
public enum DirectiveTable {
    /// Every directive tend understands, as (section, name) in table order.
    public static var all: [(section: String, name: String)] { directives.map { ($0.section, $0.name) } }

    /// systemd directives that tend accepts with a warning and otherwise ignores.
    public static var ignored: [(section: String, name: String)] {
        ignoredUnitDirectives.map { ("Unit", $0) } + ignoredServiceDirectives.map { ("Service", $0) }
            + ignoredInstallDirectives.map { ("Install", $0) } + ignoredTimerDirectives.map { ("Timer", $0) }
    }

    /// The sections a unit of this suffix may have.
    static func sections(forSuffix suffix: String) -> [String] {
        switch suffix {
        case "service": ["Unit", "Service", "Install"]
        case "timer": ["Unit", "Timer", "Install"]  // TimerConfig.swift
        default: ["Unit", "Install"]
        }
    }

    static func lookup(section: String, name: String) -> Directive? {
        index[section + "\u{0}" + name]
    }

    static func isIgnored(section: String, name: String) -> Bool {
        ignoredIndex.contains(section + "\u{0}" + name)
    }

    /// The sections in which `name` is a directive, for "did you mean" hints.
    static func sections(containing name: String) -> [String] {
        var result: [String] = []
        for d in directives where d.name == name && !result.contains(d.section) { result.append(d.section) }
        return result
    }

    private static let index: [String: Directive] = {
        var d: [String: Directive] = [:]
        for entry in directives { d[entry.section + "\u{0}" + entry.name] = entry }
        return d
    }()
    private static let ignoredIndex: Set<String> = Set(ignored.map { $0.section + "\u{0}" + $0.name })
}

// MARK: - Value parsers shared by several directives

/// Resets `keyPath` to its default when the value is empty; returns true if it did.
private func resetIfEmpty<T>(_ value: String, _ config: inout ServiceConfig, _ kp: Field<T>)
    -> Bool
{
    guard value.isEmpty else { return false }
    config[keyPath: kp] = ServiceConfig(name: config.name)[keyPath: kp]
    return true
}

private func string(_ kp: Field<String?>) -> DirectiveParser {
    { value, config, ctx in
        if resetIfEmpty(value, &config, kp) { return }
        if let v = ctx.expand(value) { config[keyPath: kp] = v }
    }
}

/// A space-separated list; an empty value empties it.
private func list(_ kp: Field<[String]>) -> DirectiveParser {
    { value, config, ctx in
        if value.isEmpty {
            config[keyPath: kp] = []
            return
        }
        if let words = ctx.words(value) { config[keyPath: kp].append(contentsOf: words) }
    }
}

/// The unit types systemd knows; dependency names must end in one of them.
private let unitTypes: Set<String> = [
    "service", "socket", "target", "device", "mount", "automount", "swap", "path", "timer", "slice", "scope",
]

/// Whether `name` is a valid unit name (`foo.service`, `getty@tty1.service`, `foo@.service`).
package func isValidUnitName(_ name: String) -> Bool {
    guard let dot = name.lastIndex(of: "."), unitTypes.contains(String(name[name.index(after: dot)...])) else {
        return false
    }
    let stem = name[..<dot]
    guard !stem.isEmpty, stem.utf8.count < 256, !stem.hasPrefix("@") else { return false }
    return stem.utf8.allSatisfy { c in
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
            || ":-_.\\@".utf8.contains(c)
    } && stem.utf8.filter({ $0 == UInt8(ascii: "@") }).count <= 1
}

/// A list of unit names.
private func unitList(_ kp: Field<[String]>) -> DirectiveParser {
    { value, config, ctx in
        if value.isEmpty {
            config[keyPath: kp] = []
            return
        }
        guard let words = ctx.words(value) else { return }
        for w in words {
            if isValidUnitName(w) {
                config[keyPath: kp].append(w)
            } else {
                ctx.error("invalid unit name \"\(shortened(w))\"")
            }
        }
    }
}

private func boolean(_ kp: Field<Bool>) -> DirectiveParser {
    { value, config, ctx in
        if resetIfEmpty(value, &config, kp) { return }
        guard let b = parseBoolean(value) else { return ctx.error("invalid boolean \"\(shortened(value))\"") }
        config[keyPath: kp] = b
    }
}

/// A time span. With `zeroIsInfinity`, `0` means "no timeout" as for `TimeoutStartSec=`.
private func timeSpan(_ kps: [Field<TimeSpan>], zeroIsInfinity: Bool = false)
    -> DirectiveParser
{
    { value, config, ctx in
        if value.isEmpty {
            for kp in kps { _ = resetIfEmpty(value, &config, kp) }
            return
        }
        guard var t = parseTimeSpan(value) else { return ctx.error("invalid time span \"\(shortened(value))\"") }
        if zeroIsInfinity && t == .zero { t = .infinity }
        for kp in kps { config[keyPath: kp] = t }
    }
}

/// `TimeoutStartSec=` / `TimeoutSec=`: a time span, and a note that the start timeout was set explicitly.
private func startTimeout(_ kps: [Field<TimeSpan>]) -> DirectiveParser {
    let parse = timeSpan(kps, zeroIsInfinity: true)
    return { value, config, ctx in
        let problems = ctx.diagnostics.count
        parse(value, &config, &ctx)
        if ctx.diagnostics.count == problems { config.timeoutStartDefined = !value.isEmpty }
    }
}

private func enumeration<E: RawRepresentable & CaseIterable & Sendable>(_ kp: Field<E>)
    -> DirectiveParser where E.RawValue == String
{
    { value, config, ctx in
        if resetIfEmpty(value, &config, kp) { return }
        guard let e = E(rawValue: value) else { return ctx.badValue(value) }
        config[keyPath: kp] = e
    }
}

private func optionalBytes(_ kp: Field<UInt64?>, min: UInt64, max: UInt64 = .max) -> DirectiveParser {
    { value, config, ctx in
        if value.isEmpty {
            config[keyPath: kp] = nil
            return
        }
        guard let n = parseByteSize(value), n >= min, n <= max else {
            let range = max == .max ? "at least \(min) bytes" : "\(min) bytes to \(max >> 20)M"
            return ctx.error("invalid size \"\(shortened(value))\" (\(range); K, M, G suffixes)")
        }
        config[keyPath: kp] = n
    }
}

/// The longest line a log keeps whole (`LineMax=`): a line that never ends is buffered up to this much.
let lineMaxLimit: UInt64 = 16 << 20

private func optionalInt(_ kp: Field<Int?>, max: Int) -> DirectiveParser {
    { value, config, ctx in
        if value.isEmpty {
            config[keyPath: kp] = nil
            return
        }
        guard let n = Int(value), n >= 0, n <= max else {
            return ctx.error("invalid number \"\(shortened(value))\" (expected 0…\(max))")
        }
        config[keyPath: kp] = n
    }
}

private func optionalTimeSpan(_ kp: Field<TimeSpan?>) -> DirectiveParser {
    { value, config, ctx in
        if value.isEmpty {
            config[keyPath: kp] = nil
            return
        }
        guard let t = parseTimeSpan(value) else { return ctx.error("invalid time span \"\(shortened(value))\"") }
        config[keyPath: kp] = t
    }
}

private func optionalEnumeration<E: RawRepresentable & CaseIterable & Sendable>(_ kp: Field<E?>)
    -> DirectiveParser where E.RawValue == String
{
    { value, config, ctx in
        if value.isEmpty {
            config[keyPath: kp] = nil
            return
        }
        guard let e = E(rawValue: value) else { return ctx.badValue(value) }
        config[keyPath: kp] = e
    }
}

private func signal(_ kp: Field<Int32>) -> DirectiveParser {
    { value, config, ctx in
        if resetIfEmpty(value, &config, kp) { return }
        guard let s = Signals.number(named: value) else {
            return ctx.error("invalid signal \"\(shortened(value))\"")
        }
        config[keyPath: kp] = s
    }
}

private func unsigned(_ kp: Field<Int>, max: Int = Int(UInt32.max)) -> DirectiveParser {
    { value, config, ctx in
        if resetIfEmpty(value, &config, kp) { return }
        guard let n = Int(value), n >= 0, n <= max else {
            return ctx.error("invalid number \"\(shortened(value))\" (expected 0…\(max))")
        }
        config[keyPath: kp] = n
    }
}

/// `SuccessExitStatus=` and friends: exit statuses 0…255, exit status names and signal names.
private func exitStatusSet(_ kp: Field<ExitStatusSet>) -> DirectiveParser {
    { value, config, ctx in
        if value.isEmpty {
            config[keyPath: kp] = ExitStatusSet()
            return
        }
        guard let words = ctx.words(value) else { return }
        for w in words {
            if let n = Int32(w) {
                if (0...255).contains(n) {
                    config[keyPath: kp].statuses.insert(n)
                } else {
                    ctx.error("exit status \(w) is out of range 0…255")
                }
            } else if let hit = ExitStatusNames.table.first(where: { $0.0 == w.uppercased() }) {
                config[keyPath: kp].statuses.insert(hit.1)
            } else if let s = Signals.number(named: w) {
                config[keyPath: kp].signals.insert(s)
            } else if w == "oom-kill" {
                config[keyPath: kp].oomKill = true
            } else {
                ctx.error("invalid exit status or signal \"\(shortened(w))\"")
            }
        }
    }
}

private func exec(_ kp: Field<[ExecCommand]>) -> DirectiveParser {
    { value, config, ctx in
        if value.isEmpty {
            config[keyPath: kp] = []
            return
        }
        do throws(ValueError) {
            let commands = try parseExecLine(value, resolver: ctx.resolver, location: ctx.location)
            config[keyPath: kp].append(contentsOf: commands)
        } catch {
            ctx.error(error.message)
        }
    }
}

/// A user or group: a name or a numeric id.
func isValidUserOrGroupName(_ s: String) -> Bool {
    if s.isEmpty || s.utf8.count > 256 { return false }
    if s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) { return UInt32(s).map { $0 != UInt32.max } ?? false }
    if s.hasPrefix("-") || s == "." || s == ".." { return false }
    return s.utf8.allSatisfy { c in c > 0x20 && c != 0x7F && c != UInt8(ascii: ":") && c != UInt8(ascii: "/") }
}

private func userOrGroup(_ kp: Field<String?>) -> DirectiveParser {
    { value, config, ctx in
        if resetIfEmpty(value, &config, kp) { return }
        guard let v = ctx.expand(value) else { return }
        guard isValidUserOrGroupName(v) else { return ctx.error("invalid user or group name \"\(shortened(v))\"") }
        config[keyPath: kp] = v
    }
}

private func condition(_ name: String) -> DirectiveParser {
    { value, config, ctx in
        if value.isEmpty {
            // An empty Condition…= resets all conditions; an empty Assert…= all assertions.
            let kind = name.hasPrefix("Assert") ? "Assert" : "Condition"
            config.conditions.removeAll { $0.directive.hasPrefix(kind) }
            return
        }
        guard let v = ctx.expand(value) else { return }
        config.conditions.append((directive: name, value: v))
    }
}

/// Parses one side of a `Limit*=` value.
private func parseRLimitPart(_ s: String, _ resource: ResourceLimit) -> UInt64? {
    if s == "infinity" { return .max }
    switch resource {
    case .cpu:
        // Seconds by default, rounded up to whole seconds as setrlimit(RLIMIT_CPU) counts them.
        guard let t = parseTimeSpan(s) else { return nil }
        return t.isInfinite ? .max : (t.usec / 1_000_000 + (t.usec % 1_000_000 > 0 ? 1 : 0))
    case .rttime:
        guard let t = parseTimeSpan(s, defaultUnit: 1) else { return nil }
        return t.usec
    case .fsize, .data, .stack, .core, .rss, .as, .memlock, .msgqueue:
        return parseByteSize(s)
    case .nice:
        // `+N`/`-N` is a nice level (-20…19), stored as the kernel's 40…1; a plain number is the raw limit.
        if s.hasPrefix("+") || s.hasPrefix("-") {
            guard let n = Int(s.hasPrefix("+") ? String(s.dropFirst()) : s), (-20...19).contains(n) else {
                return nil
            }
            return UInt64(20 - n)
        }
        guard let n = UInt64(s), n <= 40 else { return nil }
        return n
    case .rtprio, .nofile, .nproc, .locks, .sigpending:
        return UInt64(s)
    }
}

/// A byte count as systemd's `parse_size()` reads it with base 1024: digits, an optional fraction, and an optional
/// suffix `B`, `K`, `M`, `G`, `T`, `P` or `E` (`64K`, `1.5G`).
func parseByteSize(_ s: String) -> UInt64? {
    var digits = s.trimmedWhitespace
    var shift: UInt64 = 0
    if let last = digits.last, !last.isNumber {
        switch last {
        case "B": shift = 0
        case "K": shift = 10
        case "M": shift = 20
        case "G": shift = 30
        case "T": shift = 40
        case "P": shift = 50
        case "E": shift = 60
        default: return nil
        }
        digits = String(digits.dropLast()).trimmedWhitespace
    }
    let parts = digits.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
    func allDigits(_ x: Substring) -> Bool { x.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }
    guard let wholeText = parts.first, !wholeText.isEmpty, allDigits(wholeText), let whole = UInt64(wholeText) else {
        return nil
    }
    let multiplier: UInt64 = 1 << shift
    let (r, o) = whole.multipliedReportingOverflow(by: multiplier)
    if o { return nil }
    guard parts.count == 2 else { return r }
    // A fraction only makes sense with a suffix; "1.5" bytes is refused as systemd refuses it.
    let fractionText = parts[1].prefix(15)
    guard shift > 0, !fractionText.isEmpty, allDigits(parts[1]), let fraction = UInt64(fractionText) else { return nil }
    var scale: UInt64 = 1
    for _ in 0..<fractionText.count { scale *= 10 }
    let (q, _) = scale.dividingFullWidth(fraction.multipliedFullWidth(by: multiplier))
    let (sum, o2) = r.addingReportingOverflow(q)
    return o2 ? nil : sum
}

private func rlimit(_ resource: ResourceLimit) -> DirectiveParser {
    { value, config, ctx in
        if value.isEmpty {
            config.limits[resource] = nil
            return
        }
        let parts = value.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map {
            String($0).trimmedWhitespace
        }
        guard let soft = parseRLimitPart(parts[0], resource),
            let hard = parts.count == 2 ? parseRLimitPart(parts[1], resource) : soft
        else { return ctx.error("invalid resource limit \"\(shortened(value))\"") }
        guard soft <= hard else { return ctx.error("soft limit is above the hard limit in \"\(shortened(value))\"") }
        config.limits[resource] = RLimitValue(soft: soft, hard: hard)
    }
}

/// `StandardOutput=` / `StandardError=` values.
private func standardOutput(_ kp: Field<StandardOutput>) -> DirectiveParser {
    { value, config, ctx in
        if resetIfEmpty(value, &config, kp) { return }
        switch value {
        case "inherit": config[keyPath: kp] = .inherit
        case "null": config[keyPath: kp] = .null
        case "journal", "syslog", "kmsg", "journal+console", "syslog+console", "kmsg+console":
            config[keyPath: kp] = .journal
        case "tty", "socket":
            ctx.error("\"\(value)\" is not supported by tend")
        default:
            for (prefix, make) in [
                ("file:", StandardOutput.file), ("append:", StandardOutput.append),
                ("truncate:", StandardOutput.truncate),
            ] where value.hasPrefix(prefix) {
                guard let path = ctx.expand(String(value.dropFirst(prefix.count))) else { return }
                guard path.hasPrefix("/") else { return ctx.error("path \"\(shortened(path))\" is not absolute") }
                config[keyPath: kp] = make(path)
                return
            }
            if value.hasPrefix("fd:") { return ctx.error("\"\(shortened(value))\" is not supported by tend") }
            ctx.badValue(value)
        }
    }
}

// MARK: - The table

let directives: [Directive] = {
    var t: [Directive] = []
    func add(_ section: String, _ name: String, _ parse: @escaping DirectiveParser) {
        t.append(Directive(section: section, name: name, parse: parse))
    }

    // [Unit] (systemd.unit(5))
    add("Unit", "Description", string(\.description))
    // SuccessAction=, FailureAction=, StartLimitAction=, …ExitStatus= (EmergencyAction.swift). A service with
    // SuccessAction= may have no command at all (systemd's service_verify()).
    t += emergencyActionDirectives()
    add("Unit", "Documentation") { value, config, ctx in
        if value.isEmpty {
            config.documentation = []
            return
        }
        guard let words = ctx.words(value) else { return }
        for w in words {
            if ["http://", "https://", "file:", "info:", "man:"].contains(where: { w.hasPrefix($0) }) {
                config.documentation.append(w)
            } else {
                ctx.warning("\"\(shortened(w))\" is not a http(s)://, file:, info: or man: URI, ignoring")
            }
        }
    }
    add("Unit", "Requires", unitList(\.requires))
    add("Unit", "Requisite", unitList(\.requisite))
    add("Unit", "Wants", unitList(\.wants))
    add("Unit", "BindsTo", unitList(\.bindsTo))
    add("Unit", "PartOf", unitList(\.partOf))
    add("Unit", "Upholds", unitList(\.upholds))
    add("Unit", "Conflicts", unitList(\.conflicts))
    add("Unit", "After", unitList(\.after))
    add("Unit", "Before", unitList(\.before))
    add("Unit", "OnFailure", unitList(\.onFailure))
    add("Unit", "StartLimitIntervalSec", timeSpan([\.startLimitInterval]))
    add("Unit", "StartLimitInterval", timeSpan([\.startLimitInterval]))
    add("Unit", "StartLimitBurst", unsigned(\.startLimitBurst))
    add("Unit", "DefaultDependencies", boolean(\.defaultDependencies))
    for name in conditionNames {
        add("Unit", "Condition" + name, condition("Condition" + name))
        add("Unit", "Assert" + name, condition("Assert" + name))
    }

    // [Service] (systemd.service(5))
    add("Service", "Type") { value, config, ctx in
        if value.isEmpty {
            config.type = .simple
            config.typeDefined = false
            return
        }
        guard let type = ServiceType(rawValue: value) else { return ctx.badValue(value) }
        config.type = type
        config.typeDefined = true
    }
    add("Service", "ExecCondition", exec(\.execCondition))
    add("Service", "ExecStartPre", exec(\.execStartPre))
    add("Service", "ExecStart", exec(\.execStart))
    add("Service", "ExecStartPost", exec(\.execStartPost))
    add("Service", "ExecReload", exec(\.execReload))
    add("Service", "ExecStop", exec(\.execStop))
    add("Service", "ExecStopPost", exec(\.execStopPost))
    add("Service", "Restart", enumeration(\.restart))
    add("Service", "RestartSec", timeSpan([\.restartSec]))
    add("Service", "RestartSteps", unsigned(\.restartSteps))
    add("Service", "FileDescriptorStoreMax", unsigned(\.fileDescriptorStoreMax))
    add("Service", "RestartMaxDelaySec", timeSpan([\.restartMaxDelay]))
    add("Service", "TimeoutStartSec", startTimeout([\.timeoutStart]))
    add("Service", "TimeoutStopSec", timeSpan([\.timeoutStop], zeroIsInfinity: true))
    add("Service", "TimeoutSec", startTimeout([\.timeoutStart, \.timeoutStop]))
    add("Service", "TimeoutAbortSec") { value, config, ctx in
        if value.isEmpty {
            config.timeoutAbort = nil
            return
        }
        // Unlike the other timeouts, 0 is not "infinity" here: systemd parses it with plain parse_sec().
        guard let t = parseTimeSpan(value) else { return ctx.error("invalid time span \"\(shortened(value))\"") }
        config.timeoutAbort = t
    }
    add("Service", "RuntimeMaxSec", timeSpan([\.runtimeMax]))
    add("Service", "WatchdogSec", timeSpan([\.watchdog]))
    add("Service", "RemainAfterExit", boolean(\.remainAfterExit))
    add("Service", "GuessMainPID", boolean(\.guessMainPID))
    add("Service", "PIDFile") { value, config, ctx in
        if value.isEmpty {
            config.pidFile = nil
            return
        }
        guard let v = ctx.expand(value) else { return }
        // A relative path is taken relative to the runtime directory, as systemd does with /run.
        config.pidFile = v.hasPrefix("/") ? v : ctx.resolver.context.runtimeDir + "/" + v
    }
    add("Service", "SuccessExitStatus", exitStatusSet(\.successExitStatus))
    add("Service", "RestartPreventExitStatus", exitStatusSet(\.restartPreventExitStatus))
    add("Service", "RestartForceExitStatus", exitStatusSet(\.restartForceExitStatus))
    add("Service", "NotifyAccess") { value, config, ctx in
        if value.isEmpty {
            config.notifyAccess = nil
            return
        }
        guard let v = NotifyAccess(rawValue: value) else { return ctx.badValue(value) }
        config.notifyAccess = v
    }
    // Kept in [Service] by systemd for compatibility.
    add("Service", "StartLimitInterval", timeSpan([\.startLimitInterval]))
    add("Service", "StartLimitBurst", unsigned(\.startLimitBurst))

    // systemd.kill(5)
    add("Service", "KillMode", enumeration(\.killMode))
    add("Service", "KillSignal", signal(\.killSignal))
    add("Service", "RestartKillSignal") { value, config, ctx in
        if value.isEmpty {
            config.restartKillSignal = nil
            return
        }
        guard let s = Signals.number(named: value) else {
            return ctx.error("invalid signal \"\(shortened(value))\"")
        }
        config.restartKillSignal = s
    }
    add("Service", "FinalKillSignal", signal(\.finalKillSignal))
    add("Service", "WatchdogSignal", signal(\.watchdogSignal))
    add("Service", "ReloadSignal", signal(\.reloadSignal))
    add("Service", "SendSIGKILL", boolean(\.sendSIGKILL))
    add("Service", "SendSIGHUP", boolean(\.sendSIGHUP))

    // systemd.exec(5)
    add("Service", "User", userOrGroup(\.user))
    add("Service", "Group", userOrGroup(\.group))
    add("Service", "SupplementaryGroups") { value, config, ctx in
        if value.isEmpty {
            config.supplementaryGroups = []
            return
        }
        guard let words = ctx.words(value) else { return }
        for w in words {
            if isValidUserOrGroupName(w) {
                config.supplementaryGroups.append(w)
            } else {
                ctx.error("invalid group name \"\(shortened(w))\"")
            }
        }
    }
    add("Service", "WorkingDirectory") { value, config, ctx in
        if value.isEmpty {
            config.workingDirectory = nil
            config.workingDirectoryOptional = false
            return
        }
        var v = value
        let optional = v.hasPrefix("-")
        if optional { v.removeFirst() }
        guard let path = ctx.expand(v) else { return }
        guard path == "~" || path.hasPrefix("/") else {
            return ctx.error("\"\(shortened(path))\" is neither an absolute path nor ~")
        }
        config.workingDirectory = path
        config.workingDirectoryOptional = optional
    }
    add("Service", "Environment") { value, config, ctx in
        if value.isEmpty {
            config.environment = []
            return
        }
        guard let words = ctx.words(value) else { return }
        for w in words {
            guard let eq = w.firstIndex(of: "="), isValidEnvironmentName(String(w[..<eq])) else {
                ctx.error("invalid environment assignment \"\(shortened(w))\"")
                continue
            }
            config.environment.append((key: String(w[..<eq]), value: String(w[w.index(after: eq)...])))
        }
    }
    add("Service", "EnvironmentFile") { value, config, ctx in
        if value.isEmpty {
            config.environmentFiles = []
            return
        }
        var v = value
        let optional = v.hasPrefix("-")
        if optional { v.removeFirst() }
        guard let path = ctx.expand(v) else { return }
        guard path.hasPrefix("/") else { return ctx.error("path \"\(shortened(path))\" is not absolute") }
        config.environmentFiles.append((path: path, optional: optional))
    }
    add("Service", "PassEnvironment") { value, config, ctx in
        if value.isEmpty {
            config.passEnvironment = []
            return
        }
        guard let words = ctx.words(value) else { return }
        for w in words {
            if isValidEnvironmentName(w) {
                config.passEnvironment.append(w)
            } else {
                ctx.error("invalid environment variable name \"\(shortened(w))\"")
            }
        }
    }
    add("Service", "UnsetEnvironment") { value, config, ctx in
        if value.isEmpty {
            config.unsetEnvironment = []
            return
        }
        guard let words = ctx.words(value) else { return }
        for w in words {
            // A name unsets the variable; NAME=VALUE unsets only that exact assignment.
            let name = w.firstIndex(of: "=").map { String(w[..<$0]) } ?? w
            if isValidEnvironmentName(name) {
                config.unsetEnvironment.append(w)
            } else {
                ctx.error("invalid environment variable name \"\(shortened(w))\"")
            }
        }
    }
    add("Service", "UMask") { value, config, ctx in
        if resetIfEmpty(value, &config, \.umask) { return }
        guard let m = UInt32(value, radix: 8), m <= 0o7777 else {
            return ctx.error("invalid umask \"\(shortened(value))\" (expected octal 0000…7777)")
        }
        config.umask = m
    }
    add("Service", "Nice") { value, config, ctx in
        if value.isEmpty {
            config.nice = nil
            return
        }
        guard let n = Int32(value), (-20...19).contains(n) else {
            return ctx.error("invalid nice level \"\(shortened(value))\" (expected -20…19)")
        }
        config.nice = n
    }
    for resource in ResourceLimit.allCases {
        add("Service", resource.rawValue, rlimit(resource))
    }
    add("Service", "StandardInput") { value, config, ctx in
        if resetIfEmpty(value, &config, \.standardInput) { return }
        if value == "null" {
            config.standardInput = .null
        } else if value.hasPrefix("file:") {
            guard let path = ctx.expand(String(value.dropFirst(5))) else { return }
            guard path.hasPrefix("/") else { return ctx.error("path \"\(shortened(path))\" is not absolute") }
            config.standardInput = .file(path)
        } else if ["tty", "tty-force", "tty-fail", "data", "socket"].contains(value) || value.hasPrefix("fd:") {
            ctx.error("\"\(shortened(value))\" is not supported by tend")
        } else {
            ctx.badValue(value)
        }
    }
    add("Service", "StandardOutput", standardOutput(\.standardOutput))
    add("Service", "StandardError", standardOutput(\.standardError))
    add("Service", "SyslogIdentifier", string(\.syslogIdentifier))
    add("Service", "LogMaxSize", optionalBytes(\.logMaxSize, min: 4096))
    add("Service", "LogMaxFiles", optionalInt(\.logMaxFiles, max: 100_000))
    add("Service", "LogMaxUse", optionalBytes(\.logMaxUse, min: 4096))
    add("Service", "LogRateLimitIntervalSec", optionalTimeSpan(\.logRateLimitInterval))
    add("Service", "LogRateLimitBurst", optionalInt(\.logRateLimitBurst, max: Int(UInt32.max)))
    add("Service", "LineMax", optionalBytes(\.lineMax, min: 79, max: lineMaxLimit))
    add("Service", "LogTimestamp", optionalEnumeration(\.logTimestamp))

    // [Install]
    add("Install", "WantedBy", unitList(\.wantedBy))
    add("Install", "RequiredBy", unitList(\.requiredBy))
    add("Install", "Alias", unitList(\.alias))
    add("Install", "Also", unitList(\.also))
    add("Install", "DefaultInstance", string(\.defaultInstance))
    // Execution directories and sandboxing: DirectiveTable+Sandbox.swift
    t += sandboxDirectives
    t += timerDirectives  // [Timer]: TimerConfig.swift
    return t
}()

/// The names after `Condition` / `Assert` (systemd.unit(5), "Conditions and Asserts").
let conditionNames = [
    "Architecture", "Firmware", "Virtualization", "Host", "KernelCommandLine", "KernelVersion", "Credential",
    "Environment", "Security", "Capability", "ACPower", "NeedsUpdate", "FirstBoot", "PathExists",
    "PathExistsGlob", "PathIsDirectory", "PathIsSymbolicLink", "PathIsMountPoint", "PathIsReadWrite",
    "PathIsEncrypted", "DirectoryNotEmpty", "FileNotEmpty", "FileIsExecutable", "User", "Group",
    "ControlGroupController", "Memory", "CPUs", "CPUFeature", "OSRelease", "MemoryPressure", "CPUPressure",
    "IOPressure",
]

/// systemd.unit(5) [Unit] directives tend knows but does not implement.
let ignoredUnitDirectives = [
    "JoinsNamespaceOf", "RequiresMountsFor", "WantsMountsFor", "OnSuccess", "OnFailureJobMode",
    "OnSuccessJobMode", "IgnoreOnIsolate", "StopWhenUnneeded", "RefuseManualStart", "RefuseManualStop",
    "AllowIsolate", "JobTimeoutSec", "JobRunningTimeoutSec", "JobTimeoutAction", "JobTimeoutRebootArgument",
    "RebootArgument", "SourcePath", "CollectMode", "PropagatesReloadTo", "ReloadPropagatedFrom",
    "PropagatesStopTo", "StopPropagatedFrom", "SurviveFinalKillSignal",
]

/// systemd.service(5), systemd.exec(5), systemd.kill(5) and systemd.resource-control(5) directives tend knows
/// but does not implement.
let ignoredServiceDirectives = [
    // systemd.service(5)
    "BusName", "ExitType", "FileDescriptorStorePreserve", "USBFunctionDescriptors",
    "USBFunctionStrings", "OpenFile", "Sockets", "NonBlocking", "TimeoutStartFailureMode",
    "TimeoutStopFailureMode", "RuntimeRandomizedExtraSec", "PermissionsStartOnly", "RootDirectoryStartOnly",
    "RebootArgument", "RestartMode", "TimeoutCleanSec",
    // systemd.exec(5): sandboxing, credentials, namespaces, scheduling, logging details
    "PrivateUsers", "PrivateIPC", "PrivatePIDs", "PrivateMounts", "SecureBits", "ExecPaths",
    "NoExecPaths", "BindPaths", "BindReadOnlyPaths", "TemporaryFileSystem", "MountFlags", "MountAPIVFS",
    "DynamicUser", "RootDirectory", "RootImage",
    "ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs", "ProtectControlGroups", "ProtectClock",
    "ProtectHostname", "ProtectProc", "ProcSubset", "RestrictAddressFamilies",
    "RestrictRealtime", "RestrictSUIDSGID", "RestrictFileSystems", "LockPersonality", "MemoryDenyWriteExecute",
    "SystemCallFilter", "SystemCallArchitectures", "SystemCallErrorNumber", "SystemCallLog", "SELinuxContext",
    "AppArmorProfile", "SmackProcessLabel", "IOSchedulingClass", "IOSchedulingPriority", "CPUSchedulingPolicy",
    "CPUSchedulingPriority", "CPUSchedulingResetOnFork", "CPUAffinity", "NUMAPolicy", "NUMAMask",
    "TimerSlackNSec", "Personality", "IgnoreSIGPIPE", "TTYPath", "TTYReset", "TTYVHangup",
    "TTYVTDisallocate", "TTYRows", "TTYColumns", "UtmpIdentifier", "UtmpMode", "SyslogFacility", "SyslogLevel",
    "SyslogLevelPrefix", "LogLevelMax", "LogExtraFields", 
    "LogFilterPatterns", "LogNamespace", "StandardInputText", "StandardInputData", "KeyringMode", "PAMName",
    "LoadCredential", "LoadCredentialEncrypted", "SetCredential", "SetCredentialEncrypted", "ImportCredential",
    "RemoveIPC", "NetworkNamespacePath", "IPCNamespacePath", "CoredumpFilter",
    // systemd.resource-control(5)
    "Slice", "Delegate", "CPUAccounting", "StartupCPUWeight", "CPUQuotaPeriodSec",
    "AllowedCPUs", "StartupAllowedCPUs", "AllowedMemoryNodes", "MemoryAccounting", "MemoryMin", "MemoryLow",
    "MemoryZSwapMax", "TasksAccounting", "IOAccounting", "StartupIOWeight", "IODeviceWeight", "IOReadBandwidthMax", "IOWriteBandwidthMax",
    "IOReadIOPSMax", "IOWriteIOPSMax", "IODeviceLatencyTargetSec", "IPAccounting", "IPAddressAllow",
    "IPAddressDeny", "DeviceAllow", "DevicePolicy", "ManagedOOMSwap", "ManagedOOMMemoryPressure",
    "ManagedOOMMemoryPressureLimit", "ManagedOOMPreference", "CPUShares", "StartupCPUShares", "MemoryLimit",
    "BlockIOAccounting", "BlockIOWeight", "BlockIODeviceWeight", "BlockIOReadBandwidth", "BlockIOWriteBandwidth",
]

/// [Install] directives tend knows but does not implement.
let ignoredInstallDirectives = ["UpheldBy"]
