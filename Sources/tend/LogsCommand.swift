import ArgumentParser
import SDNotify
import Glibc
import TendControl
import TendModel
import TendSystem
import TendEngine
import TendFormat

struct Logs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print units' captured output, like journalctl -u.",
        discussion: """
            Reads the log files (LOG_DIR/UNIT/current and its rotated @….s segments) directly, so it works \
            with or without a running manager. The log directory is --log-dir, else the running manager's, \
            else the default. Several units are merged in time order. Exit status: 0, or 1 on an error.
            """)
    @Argument(help: "Units (all when none is named; 'tend' is the manager's own log).", completion: .logUnitNames)
    var units: [String] = []
    @Option(name: [.customShort("u"), .customLong("unit")], help: "A unit, as journalctl spells it (repeatable).",
            completion: .logUnitNames)
    var unitOptions: [String] = []
    @Flag(name: [.customShort("e"), .customLong("pager-end")], help: "The end of the log: the last 1000 records unless -n says otherwise (journalctl's -e).")
    var pagerEnd = false
    @Flag(name: .shortAndLong, help: "Keep printing new records as they are written (across restarts and rotation).")
    var follow = false
    @Option(name: [.customShort("n"), .customLong("lines")], help: "Only the last N records (default: all; 10 with -f).")
    var lines: Int?
    @Option(name: [.customShort("S"), .customLong("since")], help: "From this time: '2026-11-20 10:00:00', '-5min', 'today', 'yesterday', '@UNIX'.")
    var since: String?
    @Option(name: [.customShort("U"), .customLong("until")], help: "Up to this time (same forms).")
    var until: String?
    @Option(name: [.customShort("g"), .customLong("grep")], help: "Only records whose text matches this regular expression.")
    var grep: String?
    @Option(name: .customLong("stream"), help: "Only stdout, stderr or tend (the manager's messages).")
    var stream: StreamFilter?
    @Option(name: [.customShort("o"), .customLong("output")], help: "short, short-iso, short-precise, json or cat.")
    var format: LogOutputFormat = .short
    @Flag(name: [.customShort("r"), .customLong("reverse")], help: "Newest first.") var reverse = false
    @Option(name: .customLong("log-dir"), help: "Read this log directory (works without a manager).")
    var logDir: String?
    @Option(name: .customLong("state-dir"), help: "The manager's state directory (to ask it for its log directory).")
    var stateDir: String?

    enum StreamFilter: String, ExpressibleByArgument {
        case stdout, stderr, tend
        var stream: LogStream { self == .stdout ? .stdout : self == .stderr ? .stderr : .manager }
    }

    func validate() throws {
        if let lines, lines < 0 { throw ValidationError("--lines takes a number of records, 0 or more.") }
        if follow && reverse { throw ValidationError("--follow and --reverse don't go together.") }
    }

    func run() throws {
        try guarded {
            let reader: LogQueryReader
            let q = try query()
            // Which store is read, when it is not a running manager's (its own, or the one --log-dir names).
            if logDir == nil && managerLogDirectory == nil {
                printError("tend logs: no manager answers at \(stateDir ?? Defaults.stateDir); reading \(q.logDirectory).")
            }
            do {
                reader = try LogQueryReader(q)
            } catch let e as LogQueryError {
                throw CLIError(e.description)
            }
            // journalctl pages what it prints to a terminal, except when following (`-e` starts at the end:
            // with less, `+G`).
            if !follow {
                if pagerEnd && Posix.environment()["TEND_PAGER"] == nil && Posix.environment()["PAGER"] == nil {
                    setenv("SYSTEMD_PAGER", "less +G", 0)
                }
                Terminal.startPager()
            }
            var printed = false
            // The first lines go out at once, then in blocks; when following, every batch of new records is
            // written through as soon as it is read, also into a pipe or a file (no block buffering).
            var text = ""
            var block = 4096
            while true {
                while let entry = reader.next() {
                    printed = true
                    text += LogText.render(entry.line, unit: entry.unit, format)
                    if text.utf8.count >= block {
                        out(text)
                        text = ""
                        block = 1 << 16
                    }
                }
                if !text.isEmpty { out(text) }
                text = ""
                if reader.isFinished {
                    // journalctl's words for an empty answer (not for JSON or cat, whose readers parse records).
                    if !printed && format != .json && format != .cat { out("-- No entries --\n") }
                    return
                }
                reader.wait(timeoutMilliseconds: -1)
            }
        }
    }

    /// The arguments as a log query.
    func query() throws -> LogQuery {
        let now = Posix.realtimeMicroseconds
        var sinceUS: UInt64?
        var untilUS: UInt64?
        if let since {
            guard let t = TimeParsing.parse(since, now: now) else { throw CLIError("Failed to parse --since \"\(since)\".") }
            sinceUS = t
        }
        if let until {
            guard let t = TimeParsing.parse(until, now: now) else { throw CLIError("Failed to parse --until \"\(until)\".") }
            untilUS = t
        }
        let directory = logDir ?? managerLogDirectory ?? Defaults.logDir
        let names = try (units + unitOptions).map { raw in
            if raw == "tend" { return "tend" }
            // A service directory's unit answers to NAME (NAME.dir) and NAME/log (NAME.log.dir) when no
            // NAME.service has a log.
            if raw.hasSuffix("/log"), Posix.isDirectory(directory + "/" + raw.dropLast(4) + ".log.dir") {
                return raw.dropLast(4) + ".log.dir"
            }
            guard let name = UnitName(parsing: raw) else { throw CLIError("Invalid unit name \"\(raw)\".") }
            if name.suffix == "service", !raw.hasSuffix(".service"), !Posix.isDirectory(directory + "/" + name.description),
                Posix.isDirectory(directory + "/" + raw + ".dir") {
                return raw + ".dir"
            }
            return name.description
        }
        var matching: (@Sendable (String) -> Bool)?
        if let grep {
            let regex: Regex<AnyRegexOutput>
            do { regex = try Regex(grep) } catch { throw CLIError("Invalid --grep expression \"\(grep)\": \(error)") }
            // Regex is not Sendable; the query runs on this thread only.
            nonisolated(unsafe) let r = regex
            matching = { (try? r.firstMatch(in: $0)) != nil }
        }
        return LogQuery(
            logDirectory: directory, units: names, since: sinceUS, until: untilUS,
            last: lines ?? (follow ? 10 : pagerEnd ? 1000 : nil), streams: stream.map { [$0.stream] }, matching: matching, reverse: reverse,
            follow: follow)
    }

    /// The running manager's log directory, if one answers (asked once).
    var managerLogDirectory: String? { Self.cachedManagerLogDir.get { managerLogDir() } }
    private static let cachedManagerLogDir = Once<String?>()

    /// The running manager's log directory, if one answers.
    func managerLogDir() -> String? {
        guard logDir == nil else { return logDir }
        let dir = stateDir ?? Defaults.stateDir
        guard access(dir + "/control.sock", F_OK) == 0 else { return nil }
        return (try? ControlClient(stateDir: dir).request(.object([("cmd", .string("ping"))])))?["logDir"]?.string
    }
}

extension LogOutputFormat: ExpressibleByArgument {}

/// A value computed at most once (a CLI process asks the manager for its log directory once).
final class Once<T>: @unchecked Sendable {
    private var value: T?
    private var done = false
    func get(_ make: () -> T) -> T {
        if !done { value = make(); done = true }
        return value!
    }
}
