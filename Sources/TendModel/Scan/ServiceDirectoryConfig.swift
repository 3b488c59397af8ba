// A service directory (`DIR/run`, `finish`, `down`, `log/`) as a service configuration for the one engine: the
// settings that make the state machine behave as runsv does, and tend's optional s6-style extras read from
// files of the directory. Pure: the caller reads the files and passes their contents.

/// What a service directory holds, as the caller read it.
public struct ServiceDirectoryFiles: Equatable, Sendable {
    /// `./finish` exists and is executable.
    public var hasFinish = false
    /// The first line of `timeout-kill` (milliseconds), if the file exists.
    public var timeoutKill: String?
    /// The first line of `notification-fd`, if the file exists.
    public var notificationFD: String?
    /// The first line of `max-death-tally`, if the file exists.
    public var maxDeathTally: String?
    /// The first line of `down-signal` (s6), if the file exists.
    public var downSignal: String?
    public init() {}
}

/// The unit of a service directory: which directory, and which of the pair (the service, or its `log/`).
public enum ServiceDirectoryRole: String, Sendable {
    case service
    case log
}

public enum ServiceDirectoryConfig {
    /// The unit name of a scanned directory `NAME`: `NAME.dir`; its logger (`NAME/log`) is `NAME.log.dir`.
    public static func unitName(_ service: String, role: ServiceDirectoryRole) -> UnitName {
        UnitName(prefix: role == .service ? service : service + ".log", suffix: "dir")
    }

    /// The configuration of `directory` (absolute) for the state machine, and the problems found in its extra
    /// files (each one ignored with a message, the service still runs).
    ///
    /// runsv's behaviour, in the engine's terms: `Restart=always` with no delay, a 1 s pause when `run` lived
    /// less than a second (`shortRunPause`), no start limit (runsv has none), `KillMode=process` (runsv signals
    /// the pid it started), TERM then CONT and no escalation to KILL unless `timeout-kill` says when, `finish`
    /// as `ExecStopPost=` (the manager adds runsv's two arguments), the working directory the service directory.
    public static func make(name: UnitName, directory: String, files: ServiceDirectoryFiles)
        -> (config: ServiceConfig, problems: [String])
    {
        var c = ServiceConfig(name: name)
        var problems: [String] = []
        c.description = "Service directory \(directory)"
        c.fragmentPath = directory + "/run"
        c.type = .simple
        var run = ExecCommand(words: [directory + "/run"])
        run.noExpansion = true
        c.execStart = [run]
        if files.hasFinish {
            var finish = ExecCommand(words: [directory + "/finish"])
            finish.noExpansion = true
            finish.ignoreFailure = true  // runsv ignores finish's exit status
            c.execStopPost = [finish]
        }
        c.workingDirectory = directory
        c.restart = .always
        c.restartSec = .zero
        c.shortRunPause = .seconds(1)
        c.startLimitBurst = 0
        c.startLimitInterval = .zero
        c.defaultDependencies = false
        c.killMode = .process
        c.killSignal = 15
        c.sendSIGKILL = false
        c.timeoutStop = .infinity
        // finish may run as long as it likes under runsv; s6 bounds it at 5 s. tend keeps it unbounded too.
        c.timeoutStart = .infinity
        c.standardInput = .null
        c.standardOutput = .journal
        c.standardError = .journal
        func path(_ file: String) -> String { directory + "/" + file }

        if let text = files.timeoutKill {
            if let ms = UInt64(text.trimmedWhitespace), let span = TimeSpan.milliseconds(checked: ms), ms > 0 {
                c.timeoutStop = span
                c.sendSIGKILL = true
            } else if text.trimmedWhitespace != "0" {
                problems.append("\(path("timeout-kill")):1: \"\(text)\" is not a number of milliseconds; ignored")
            }
        }
        if let text = files.notificationFD {
            if let fd = Int32(text.trimmedWhitespace), fd >= 3, fd < 1024 {
                c.readinessFD = fd
                c.type = .notify
            } else {
                problems.append("\(path("notification-fd")):1: \"\(text)\" is not a descriptor number from 3 to 1023; ignored")
            }
        }
        if let text = files.maxDeathTally {
            if let n = Int(text.trimmedWhitespace), n >= 0, n <= 4096 {
                c.processLogLimit = n
            } else {
                problems.append("\(path("max-death-tally")):1: \"\(text)\" is not a number from 0 to 4096; ignored")
            }
        }
        if let text = files.downSignal {
            let word = text.trimmedWhitespace
            if let sig = Signals.number(named: word) {
                c.killSignal = sig
            } else {
                problems.append("\(path("down-signal")):1: \"\(text)\" is not a signal; ignored")
            }
        }
        return (c, problems)
    }

    /// The logger of a pair: `log/run` with the service's output on its standard input, restarted as runsv
    /// restarts any service. Its own output goes to tend's log store.
    public static func makeLogger(name: UnitName, directory: String, files: ServiceDirectoryFiles)
        -> (config: ServiceConfig, problems: [String])
    {
        var (c, problems) = make(name: name, directory: directory, files: files)
        c.description = "Logger of service directory \(directory.dropLastComponent)"
        return (c, problems)
    }
}

extension String {
    /// The path without its last component (`/a/b/log` → `/a/b`).
    fileprivate var dropLastComponent: String {
        guard let slash = lastIndex(of: "/"), slash != startIndex else { return self }
        return String(self[..<slash])
    }
}

extension TimeSpan {
    /// Milliseconds as a span, nil when the microseconds would overflow.
    static func milliseconds(checked ms: UInt64) -> TimeSpan? {
        let (usec, overflow) = ms.multipliedReportingOverflow(by: 1000)
        return overflow ? nil : TimeSpan(usec: usec)
    }
}
