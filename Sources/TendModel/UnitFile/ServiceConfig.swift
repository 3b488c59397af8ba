/// The typed result of loading a unit file: what the parser produces and everything else consumes.
///
/// Field names follow systemd's directive names; defaults are systemd's (systemd.service(5),
/// systemd.unit(5), systemd.exec(5), systemd.kill(5)).

/// A time span as systemd writes it (`90`, `500ms`, `1min 30s`, `infinity`), in microseconds.
public struct TimeSpan: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Microseconds; `UInt64.max` means infinity.
    public var usec: UInt64

    public init(usec: UInt64) { self.usec = usec }
    public static func seconds(_ s: UInt64) -> TimeSpan { TimeSpan(usec: s * 1_000_000) }
    public static func milliseconds(_ ms: UInt64) -> TimeSpan { TimeSpan(usec: ms * 1_000) }
    public static let infinity = TimeSpan(usec: .max)
    public static let zero = TimeSpan(usec: 0)

    public var isInfinite: Bool { usec == .max }
    /// As a `Duration`, or nil for infinity.
    public var duration: Duration? { isInfinite ? nil : .microseconds(Int64(clamping: usec)) }

    public static func < (a: TimeSpan, b: TimeSpan) -> Bool { a.usec < b.usec }

    /// systemd's own rendering: `5s`, `1min 30s`, `500ms`, `infinity`.
    public var description: String {
        if isInfinite { return "infinity" }
        if usec == 0 { return "0" }
        var rest = usec
        var parts: [String] = []
        let units: [(String, UInt64)] = [
            ("d", 86_400_000_000), ("h", 3_600_000_000), ("min", 60_000_000), ("s", 1_000_000), ("ms", 1_000),
            ("us", 1),
        ]
        for (name, size) in units where rest >= size {
            parts.append("\(rest / size)\(name)")
            rest %= size
        }
        return parts.joined(separator: " ")
    }
}

/// `Type=` of a service.
public enum ServiceType: String, Sendable, CaseIterable {
    case simple, exec, forking, oneshot, notify
    case notifyReload = "notify-reload"
    /// `Type=idle` behaves as `simple` here (there is no job queue to wait for).
    case idle
    /// `Type=dbus` is accepted and treated as `simple` (no bus to watch).
    case dbus
}

/// `Restart=`.
public enum RestartPolicy: String, Sendable, CaseIterable {
    case no
    case onSuccess = "on-success"
    case onFailure = "on-failure"
    case onAbnormal = "on-abnormal"
    case onWatchdog = "on-watchdog"
    case onAbort = "on-abort"
    case always
}

/// `KillMode=`.
public enum KillMode: String, Sendable, CaseIterable {
    case controlGroup = "control-group"
    case mixed
    case process
    case none
}

/// `OOMPolicy=`.
public enum OOMPolicy: String, Sendable, CaseIterable {
    case `continue`, stop, kill
}

/// `NotifyAccess=`.
public enum NotifyAccess: String, Sendable, CaseIterable {
    case none, main, exec, all
}

/// How log records are stamped.
public enum LogTimestampFormat: String, Sendable, CaseIterable {
    /// `2026-11-22T02:50:01.123456Z`
    case iso
    /// `@4000000069203b5d1c2b3a40` (TAI64N, as `multilog t` writes it)
    case tai64n
}

/// `StandardInput=`.
public enum StandardInput: Hashable, Sendable {
    case null
    /// `file:PATH`
    case file(String)
}

/// `StandardOutput=` / `StandardError=`.
public enum StandardOutput: Hashable, Sendable {
    /// The same as the stream before it: stdout inherits stdin's target (null), stderr inherits stdout.
    case inherit
    case null
    /// `journal`, `syslog`, `kmsg`, `journal+console`, ...: tend's own log store.
    case journal
    /// `file:PATH`: opened for writing, not truncated (as systemd does).
    case file(String)
    /// `append:PATH`
    case append(String)
    /// `truncate:PATH`
    case truncate(String)
}

/// A set of exit statuses and signals, as `SuccessExitStatus=` and friends list them.
public struct ExitStatusSet: Hashable, Sendable {
    public var statuses: Set<Int32> = []
    /// Signal numbers (`SIGKILL` → 9).
    public var signals: Set<Int32> = []
    public init(statuses: Set<Int32> = [], signals: Set<Int32> = []) {
        self.statuses = statuses
        self.signals = signals
    }
    /// `oom-kill` (a tend extension): the service's result was oom-kill, whatever the exit looked like.
    public var oomKill = false
    public var isEmpty: Bool { statuses.isEmpty && signals.isEmpty && !oomKill }
}

/// One `Exec*=` line after prefix handling and word splitting; environment expansion happens at spawn
/// time through `ExecCommand.argv(environment:)` because `EnvironmentFile=` is read only then.
public struct ExecCommand: Hashable, Sendable {
    /// The words as written after unquoting and escape processing, `$VAR` references still in place.
    public var words: [String]
    /// `-` prefix: a failing exit status is recorded but treated as success.
    public var ignoreFailure: Bool = false
    /// `@` prefix: the second word is argv[0], the first is the program to run.
    public var hasArgv0: Bool = false
    /// `:` prefix: no environment variable substitution.
    public var noExpansion: Bool = false
    /// `+` prefix (full privileges): the command runs outside the unit's sandbox (`User=` still applies).
    public var fullPrivileges: Bool = false
    /// `!` / `!!` prefix (ambient capabilities). Accepted; tend runs the command like any other.
    public var ambient: Bool = false
    /// Where it was written, for messages.
    public var location: SourceLocation?

    public init(words: [String]) { self.words = words }

    /// The line as it would be written back, for `tend status` / `show` (`/bin/sh -c "…"`).
    public var commandLine: String { words.joined(separator: " ") }
}

/// Where a directive was written.
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }
    public var description: String { "\(file):\(line)" }
}

/// A problem found while loading a unit.
public struct Diagnostic: Hashable, Sendable, CustomStringConvertible {
    public enum Severity: String, Sendable { case warning, error }
    public var severity: Severity
    public var location: SourceLocation
    /// The directive (`Restart=`), or nil for a syntax problem not tied to one.
    public var directive: String?
    public var message: String
    public init(severity: Severity, location: SourceLocation, directive: String?, message: String) {
        self.severity = severity
        self.location = location
        self.directive = directive
        self.message = message
    }
    /// `web.service:12: Restart=: unknown value "sometimes"`
    public var description: String {
        let prefix = severity == .warning ? "warning: " : ""
        if let directive { return "\(location): \(prefix)\(directive)=: \(message)" }
        return "\(location): \(prefix)\(message)"
    }
}

/// `Limit*=` resources, by their systemd names.
public enum ResourceLimit: String, Sendable, CaseIterable {
    case cpu = "LimitCPU", fsize = "LimitFSIZE", data = "LimitDATA", stack = "LimitSTACK", core = "LimitCORE"
    case rss = "LimitRSS", nofile = "LimitNOFILE", `as` = "LimitAS", nproc = "LimitNPROC"
    case memlock = "LimitMEMLOCK", locks = "LimitLOCKS", sigpending = "LimitSIGPENDING"
    case msgqueue = "LimitMSGQUEUE", nice = "LimitNICE", rtprio = "LimitRTPRIO", rttime = "LimitRTTIME"
}

/// A soft and hard limit; `UInt64.max` is infinity (RLIM_INFINITY).
public struct RLimitValue: Hashable, Sendable {
    public var soft: UInt64
    public var hard: UInt64
    public init(soft: UInt64, hard: UInt64) {
        self.soft = soft
        self.hard = hard
    }
}

/// A unit's name split into its parts: `getty@tty1.service` → prefix `getty`, instance `tty1`,
/// suffix `service`.
public struct UnitName: Hashable, Sendable, CustomStringConvertible, Comparable {
    public var prefix: String
    public var instance: String?
    public var suffix: String

    public init(prefix: String, instance: String? = nil, suffix: String) {
        self.prefix = prefix
        self.instance = instance
        self.suffix = suffix
    }

    /// Parses `NAME.service`, `NAME@INST.service`, `NAME@.service`; a name without a known suffix gets
    /// `.service` (as `systemctl` does). Returns nil for an empty or malformed name.
    public init?(parsing raw: String) {
        var name = raw
        var suffix = "service"
        for s in UnitName.knownSuffixes where name.hasSuffix("." + s) {
            suffix = s
            name = String(name.dropLast(s.count + 1))
            break
        }
        guard !name.isEmpty, !name.contains("/") else { return nil }
        if let at = name.firstIndex(of: "@") {
            prefix = String(name[..<at])
            instance = String(name[name.index(after: at)...])
            guard !prefix.isEmpty else { return nil }
        } else {
            prefix = name
            instance = nil
        }
        self.suffix = suffix
    }

    public static let knownSuffixes = ["service", "target", "socket", "timer", "mount", "path", "slice", "scope", "dir"]

    /// `NAME@INST.service`, or `NAME@.service` for a template.
    public var description: String {
        if let instance { return "\(prefix)@\(instance).\(suffix)" }
        return "\(prefix).\(suffix)"
    }
    /// A template name without instance (`getty@.service`).
    public var isTemplate: Bool { instance == "" }
    /// The template this instance comes from (`getty@.service`), or nil.
    public var template: UnitName? {
        guard let instance, !instance.isEmpty else { return nil }
        return UnitName(prefix: prefix, instance: "", suffix: suffix)
    }
    public static func < (a: UnitName, b: UnitName) -> Bool { a.description < b.description }
}

/// Everything a `.service` (or `.target`) unit says, typed.
public struct ServiceConfig: Sendable {
    public var name: UnitName
    /// The main file it was loaded from, and the drop-ins applied on top, in order.
    public var fragmentPath: String?
    public var dropInPaths: [String] = []

    // [Unit]
    public var description: String?
    public var documentation: [String] = []
    public var requires: [String] = []
    public var requisite: [String] = []
    public var wants: [String] = []
    public var bindsTo: [String] = []
    public var partOf: [String] = []
    public var upholds: [String] = []
    public var conflicts: [String] = []
    public var after: [String] = []
    public var before: [String] = []
    public var onFailure: [String] = []
    // SuccessAction=, FailureAction=, StartLimitAction= and their exit statuses (EmergencyAction.swift).
    public var successAction: EmergencyAction = .none
    public var failureAction: EmergencyAction = .none
    public var startLimitAction: EmergencyAction = .none
    public var successActionExitStatus: UInt8?
    public var failureActionExitStatus: UInt8?
    /// `StartLimitIntervalSec=` (also `StartLimitInterval=` in `[Service]`). Zero disables the limit.
    public var startLimitInterval: TimeSpan = .seconds(10)
    /// `StartLimitBurst=`
    public var startLimitBurst: Int = 5
    /// `DefaultDependencies=`
    public var defaultDependencies: Bool = true
    /// `Condition*=` / `Assert*=` lines, raw, for the dependency issue: (directive, value, negate?).
    public var conditions: [(directive: String, value: String)] = []

    // [Timer] of a .timer unit (TimerConfig.swift)
    public var timer = TimerConfig()

    // [Service]
    public var type: ServiceType = .simple
    /// Whether `Type=` was set; without it and without `ExecStart=` the type is `oneshot` (systemd.service(5)).
    var typeDefined: Bool = false
    public var execCondition: [ExecCommand] = []
    public var execStartPre: [ExecCommand] = []
    public var execStart: [ExecCommand] = []
    public var execStartPost: [ExecCommand] = []
    public var execReload: [ExecCommand] = []
    public var execStop: [ExecCommand] = []
    public var execStopPost: [ExecCommand] = []
    public var restart: RestartPolicy = .no
    /// `RestartSec=`, default 100ms.
    public var restartSec: TimeSpan = .milliseconds(100)
    /// `RestartSteps=`: 0 means no exponential backoff.
    public var restartSteps: Int = 0
    /// `RestartMaxDelaySec=`: infinity means not set.
    public var restartMaxDelay: TimeSpan = .infinity
    /// runsv's rule for service directories: when the main process lived less than a second, the next
    /// automatic start waits this long (zero: no such pause; unit files can't set it).
    public var shortRunPause: TimeSpan = .zero
    /// s6's `notification-fd`: the descriptor number the service writes a line to when it is ready (a pipe the
    /// manager reads); nil for none. Service directories only.
    public var readinessFD: Int32?
    /// How many ended processes `tend status` remembers (s6's `max-death-tally` for service directories).
    public var processLogLimit: Int = 16
    public var timeoutStart: TimeSpan = .seconds(90)
    /// Whether `TimeoutStartSec=` or `TimeoutSec=` was set; without it a `Type=oneshot` service gets no start
    /// timeout (systemd.service(5)). The loader applies that once all files are read.
    var timeoutStartDefined: Bool = false
    public var timeoutStop: TimeSpan = .seconds(90)
    /// `TimeoutAbortSec=`, nil means "same as TimeoutStopSec=".
    public var timeoutAbort: TimeSpan?
    /// `RuntimeMaxSec=`
    public var runtimeMax: TimeSpan = .infinity
    /// `FileDescriptorStoreMax=`: how many fds the service may keep in the manager (FDSTORE=1); 0 disables.
    public var fileDescriptorStoreMax: Int = 0
    /// `WatchdogSec=`, zero means off.
    public var watchdog: TimeSpan = .zero
    public var remainAfterExit: Bool = false
    public var guessMainPID: Bool = true
    public var pidFile: String?
    public var successExitStatus = ExitStatusSet()
    public var restartPreventExitStatus = ExitStatusSet()
    public var restartForceExitStatus = ExitStatusSet()
    /// `NotifyAccess=`, nil means the default (main for notify types or with WatchdogSec=, else none).
    public var notifyAccess: NotifyAccess?
    public var killMode: KillMode = .controlGroup
    /// `OOMPolicy=`: what an OOM kill inside the service's cgroup leads to (systemd's default, stop).
    public var oomPolicy: OOMPolicy = .stop
    /// Signal numbers.
    public var killSignal: Int32 = 15
    /// `RestartKillSignal=`, nil means `KillSignal=`.
    public var restartKillSignal: Int32?
    public var finalKillSignal: Int32 = 9
    public var watchdogSignal: Int32 = 6
    public var reloadSignal: Int32 = 1
    public var sendSIGKILL: Bool = true
    public var sendSIGHUP: Bool = false

    // Execution environment (systemd.exec(5))
    public var user: String?
    public var group: String?
    public var supplementaryGroups: [String] = []
    /// `WorkingDirectory=`: the path (`~` kept as is for the runtime to resolve to the user's home).
    public var workingDirectory: String?
    /// `WorkingDirectory=-PATH`: a missing directory is not an error.
    public var workingDirectoryOptional: Bool = false
    /// `Environment=` assignments in order (later ones win).
    public var environment: [(key: String, value: String)] = []
    /// `EnvironmentFile=`: (path, optional) in order; read at each start.
    public var environmentFiles: [(path: String, optional: Bool)] = []
    public var passEnvironment: [String] = []
    public var unsetEnvironment: [String] = []
    public var umask: UInt32 = 0o022
    public var nice: Int32?
    public var limits: [ResourceLimit: RLimitValue] = [:]
    public var standardInput: StandardInput = .null
    public var standardOutput: StandardOutput = .journal
    public var standardError: StandardOutput = .inherit
    public var syslogIdentifier: String?
    /// Execution directories and sandboxing (`RuntimeDirectory=`, `PrivateTmp=`, ...): Sandbox.swift.
    public var sandbox = SandboxConfig()

    // Logs (tend's own directives; nil means the manager's default from tend.conf)
    /// `LogMaxSize=`: rotate `current` once it grows past this many bytes.
    public var logMaxSize: UInt64?
    /// `LogMaxFiles=`: rotated segments to keep.
    public var logMaxFiles: Int?
    /// `LogMaxUse=`: bytes all of the unit's log files may use together.
    public var logMaxUse: UInt64?
    /// `LogRateLimitIntervalSec=` / `LogRateLimitBurst=`: at most Burst lines per interval (journald's rule).
    public var logRateLimitInterval: TimeSpan?
    public var logRateLimitBurst: Int?
    /// `LineMax=`: longer lines are split.
    public var lineMax: UInt64?
    /// `LogTimestamp=`: `iso` (default) or `tai64n` (multilog's `@…` labels, for tai64nlocal).
    public var logTimestamp: LogTimestampFormat?

    // [Install]
    public var wantedBy: [String] = []
    public var requiredBy: [String] = []
    public var alias: [String] = []
    public var also: [String] = []
    public var defaultInstance: String?

    public init(name: UnitName) { self.name = name }

    /// `NotifyAccess=` in force.
    public var effectiveNotifyAccess: NotifyAccess {
        if let notifyAccess { return notifyAccess }
        if type == .notify || type == .notifyReload || watchdog.usec > 0 { return .main }
        return .none
    }
    /// `TimeoutAbortSec=` in force.
    public var effectiveTimeoutAbort: TimeSpan { timeoutAbort ?? timeoutStop }
}
