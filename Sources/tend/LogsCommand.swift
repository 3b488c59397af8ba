import ArgumentParser
import CTend
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
    @Argument(help: "Units (all when none is named; 'tend' is the manager's own log).") var units: [String] = []
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
        var code: String { self == .stdout ? "out" : self == .stderr ? "err" : "tend" }
    }

    func validate() throws {
        if let lines, lines < 0 { throw ValidationError("--lines takes a number of records, 0 or more.") }
        if follow && reverse { throw ValidationError("--follow and --reverse don't go together.") }
    }

    func run() throws {
        try guarded {
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
            var regex: Regex<AnyRegexOutput>?
            if let grep {
                do { regex = try Regex(grep) } catch { throw CLIError("Invalid --grep expression \"\(grep)\": \(error)") }
            }
            let root = logDir ?? managerLogDir() ?? Defaults.logDir
            let dirs = try unitDirectories(root)
            let filter = { (line: [UInt8]) -> Bool in
                guard stream != nil || regex != nil else { return true }
                guard let r = LogFormat.parse(line) else { return false }
                if let stream, r.stream != stream.code { return false }
                if let regex, (try? regex.firstMatch(in: r.text)) == nil { return false }
                return true
            }
            let limit = lines ?? (follow ? 10 : nil)
            if follow {
                // The followers read the history themselves: nothing is lost or repeated between the two.
                try followLogs(dirs, filter: filter, since: sinceUS, until: untilUS, limit: limit)
                return
            }
            if limit == nil && !reverse {
                // Streamed: each unit's records come from a cursor, merged by time as they are read, so the
                // first line is out after one binary search, however large the store.
                try streamMerged(dirs, since: sinceUS, until: untilUS, filter: filter)
            } else {
                var records: [(time: UInt64, unit: String, line: [UInt8])] = []
                for (unit, dir) in dirs {
                    if sinceUS == nil && untilUS == nil && stream == nil && regex == nil, let limit {
                        for line in LogReader.tail(directory: dir, count: limit) {
                            records.append((LogFormat.timestamp(line) ?? 0, unit, line))
                        }
                        continue
                    }
                    var mine: [(UInt64, String, [UInt8])] = []
                    let cursor = LogCursor(directory: dir, since: sinceUS, until: untilUS)
                    while let line = cursor.next() {
                        guard filter(line) else { continue }
                        mine.append((LogFormat.timestamp(line) ?? 0, unit, line))
                        if let limit, mine.count > 2 * max(limit, 4096) { mine.removeFirst(mine.count - limit) }
                    }
                    records += mine
                }
                if dirs.count > 1 {
                    // Stable merge by time: records of one unit keep their order.
                    records = records.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }.map(\.element)
                }
                if let limit { records = Array(records.suffix(limit)) }
                if reverse { records.reverse() }
                var text = ""
                for r in records {
                    text += LogText.render(r.line, unit: r.unit, format)
                    if text.utf8.count > 1 << 16 {
                        out(text)
                        text = ""
                    }
                }
                out(text)
            }
        }
    }

    /// Prints the records of several units in time order as they are read (a k-way merge of cursors).
    func streamMerged(_ dirs: [(String, String)], since: UInt64?, until: UInt64?, filter: ([UInt8]) -> Bool) throws {
        let cursors = dirs.map { LogCursor(directory: $0.1, since: since, until: until) }
        func nextKept(_ c: LogCursor) -> [UInt8]? {
            while let line = c.next() {
                if filter(line) { return line }
            }
            return nil
        }
        var heads: [(time: UInt64, line: [UInt8])?] = cursors.map { c in nextKept(c).map { (LogFormat.timestamp($0) ?? 0, $0) } }
        var text = ""
        while true {
            var best: Int?
            for (i, h) in heads.enumerated() {
                guard let h else { continue }
                if best == nil || h.time < heads[best!]!.time { best = i }
            }
            guard let i = best, let head = heads[i] else { break }
            text += LogText.render(head.line, unit: dirs[i].0, format)
            // The first lines go out at once; after that, in blocks.
            if text.utf8.count > 1 << 16 || text.utf8.count > 0 && heads.count == 1 && text.utf8.count > 4096 {
                out(text)
                text = ""
            }
            heads[i] = nextKept(cursors[i]).map { (LogFormat.timestamp($0) ?? 0, $0) }
        }
        out(text)
    }

    /// The running manager's log directory, if one answers.
    func managerLogDir() -> String? {
        guard logDir == nil else { return logDir }
        let dir = stateDir ?? Defaults.stateDir
        guard access(dir + "/control.sock", F_OK) == 0 else { return nil }
        return (try? ControlClient(stateDir: dir).request(.object([("cmd", .string("ping"))])))?["logDir"]?.string
    }

    /// (unit name, directory) for the named units, or every unit with a log.
    func unitDirectories(_ root: String) throws -> [(String, String)] {
        if units.isEmpty {
            let names = LogDirectoryListing.units(in: root)
            return names.map { ($0, root + "/" + $0) }
        }
        return try units.map { raw in
            if raw == "tend" { return ("tend", root + "/tend") }
            guard let name = UnitName(parsing: raw) else { throw CLIError("Invalid unit name \"\(raw)\".") }
            return (name.description, root + "/" + name.description)
        }
    }

    func followLogs(_ dirs: [(String, String)], filter: ([UInt8]) -> Bool, since: UInt64?, until: UInt64?,
                    limit: Int?) throws {
        var followers: [(String, LogFollower)] = []
        // A unit that hasn't logged yet has no directory: make it, so it can be watched from the start.
        for (_, dir) in dirs { try? Posix.mkdirs(dir, mode: 0o755) }
        // Watch first, then read: a record written in between wakes the loop below.
        let ino = ctend_inotify_dir(dirs.first!.1, 0)
        guard ino >= 0 else { throw CLIError("Failed to watch the log directory: \(Posix.errorText(-ino))") }
        for (_, dir) in dirs.dropFirst() { _ = ctend_inotify_add(ino, dir) }
        var history: [(time: UInt64, unit: String, line: [UInt8])] = []
        for (unit, dir) in dirs {
            // With a filter, -n counts matching records: start from the beginning of the range and cut later.
            let filtered = stream != nil || grep != nil
            let from = since ?? (filtered && limit != nil ? 0 : nil)
            let f = LogFollower(directory: dir, since: from, lastRecords: filtered ? nil : limit)
            for line in f.preamble + f.poll() where filter(line) {
                history.append((LogFormat.timestamp(line) ?? 0, unit, line))
            }
            followers.append((unit, f))
        }
        history = history.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }.map(\.element)
        if let limit { history = Array(history.suffix(limit)) }
        var text = ""
        for r in history {
            if let until, r.time > until { return }
            text += LogText.render(r.line, unit: r.unit, format)
        }
        out(text)
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            var text = ""
            for (unit, f) in followers {
                for line in f.poll() where filter(line) {
                    if let until, let t = LogFormat.timestamp(line), t > until { return }
                    text += LogText.render(line, unit: unit, format)
                }
            }
            // Written through at once, also into a pipe or a file (no block buffering).
            if !text.isEmpty { out(text) }
            let n = buf.withUnsafeMutableBytes { Glibc.read(ino, $0.baseAddress, $0.count) }
            if n < 0 && errno != EINTR { throw CLIError("Failed to read inotify events: \(Posix.errorText(errno))") }
        }
    }
}

extension LogOutputFormat: ExpressibleByArgument {}
