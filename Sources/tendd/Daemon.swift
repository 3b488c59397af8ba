import CTend
import Glibc
import Logging
import TendControl
import TendModel
import TendSystem
import TendEngine
import TendServer

/// `tendd`, the manager, which `tend daemon` execs. A binary of its own, without ArgumentParser and the
/// FoundationEssentials it pulls in: linked into one binary, their relocated data alone costs the manager
/// about 5 MB of private memory, more than everything else it holds for 100 services.
enum DaemonCommand {
    static let usage = """
        USAGE: tend daemon [--units DIR]... [--scan DIR]... [--state-dir DIR] [--log-dir DIR] [--target NAME] [--no-start]
                           [--cgroup DIR] [--init] [--shutdown-timeout TIME]
                           [--command-timeout TIME] [--forward-signals] [-- COMMAND [ARG]...]

        Runs the service manager in the foreground: loads the unit files, starts the services, restarts them
        by their rules, captures their output and answers `tend` commands on STATE_DIR/control.sock.
        SIGTERM or SIGINT stops every service (in the reverse of the start order), then exits 0; SIGHUP
        re-reads the unit files. FailureAction=exit and friends end it with their status; 124 if the
        shutdown timeout had to kill units.

        OPTIONS:
          --units DIR       A directory of unit files (repeatable; the first one found wins for a name).
                            Default: /etc/tend/units for root, $XDG_CONFIG_HOME/tend/units otherwise.
          --scan DIR        A directory of daemontools/runit service directories (DIR/NAME/run) to
                            supervise beside the unit files, as `svscan DIR` or `runsvdir DIR` would
                            (repeatable). Given without --units, no unit directory is read.
          --state-dir DIR   Control socket and runtime state. Default: $TEND_STATE_DIR, /run/tend for root,
                            $XDG_RUNTIME_DIR/tend otherwise.
          --log-dir DIR     Where service logs are written. Default: /var/log/tend for root,
                            $XDG_STATE_HOME/tend/logs otherwise.
          --target NAME     Start this target (or any unit) at launch instead of default.target.
                            Without it, a unit directory with no default.target/multi-user.target file
                            and no *.wants/*.requires directory has every service started (a plain
                            "directory of services"); otherwise default.target is started.
          --no-start        Load the units but start none of them.
          --config FILE     Manager settings ([Logs] LogMaxSize=, LogMaxFiles=, LogMaxUse=, LineMax=,
                            LogRateLimitIntervalSec=, LogRateLimitBurst=, LogTimestamp=; [Scan]
                            Directory=, repeatable, as --scan). Default:
                            /etc/tend/tend.conf for root, $XDG_CONFIG_HOME/tend/tend.conf otherwise (optional).
          --cgroup DIR      A writable cgroup2 directory: each service gets its own cgroup below it, so
                            KillMode=control-group reaches every process and MemoryMax=, TasksMax=,
                            CPUQuota=, ... are applied (on a hybrid host the v1 memory, pids and cpu
                            controllers at the same path). Unusable: a warning, and no cgroups.
          --init            Act as a container's init even when not PID 1: a shutdown timeout of 8 s by
                            default, and every process left when the manager exits is killed and reaped.
                            Implied as PID 1.
          --shutdown-timeout TIME
                            How long the orderly shutdown may take before every process left is killed
                            (a time span: 8s, 500ms, infinity). Default: 8s as init, otherwise infinity
                            (each unit's TimeoutStopSec= only).
          -- COMMAND [ARG]...
                            CMD mode: once the launch is over (every launch job done), run COMMAND as the
                            unit tend-cmd.service, with the manager's environment, directory and stdio;
                            when it ends, stop everything and exit with its status (128+N if killed by
                            signal N).
          --command-timeout TIME
                            How long the launch may take before COMMAND is given up and the manager exits
                            1. Default: 90s.
          --forward-signals With a COMMAND: SIGHUP, SIGUSR1 and SIGUSR2 go to it instead of the manager
                            (SIGTERM and SIGINT still stop everything, COMMAND first).
          -h, --help        Show this help.

        """

    static func run(_ args: [String]) -> Never {
        // Block the signals the manager reads through its signalfd before anything else (no thread exists yet).
        var sigs = Manager.handledSignals
        _ = ctend_block_signals(&sigs, Int32(sigs.count))

        var units: [String] = []
        var scans: [String] = []
        var stateDir: String?
        var logDir: String?
        var startAll = true
        var configFile: String?
        var target: String?
        var cgroup: String?
        var initMode = getpid() == 1
        var shutdownTimeout: TimeSpan?
        var command: [String]?
        var commandTimeout: TimeSpan?
        var forwardSignals = false
        var i = 0
        func value(_ flag: String) -> String {
            if i + 1 < args.count {
                i += 1
                return args[i]
            }
            fail("Missing value for \(flag).", usage: true)
        }
        while i < args.count {
            let a = args[i]
            switch a {
            case "--units": units.append(value(a))
            case "--scan": scans.append(value(a))
            case "--state-dir": stateDir = value(a)
            case "--log-dir": logDir = value(a)
            case "--no-start": startAll = false
            case "--config": configFile = value(a)
            case "--target": target = value(a)
            case "--cgroup": cgroup = value(a)
            case "--init": initMode = true
            case "--shutdown-timeout": shutdownTimeout = timeSpan(a, value(a))
            case "--command-timeout": commandTimeout = timeSpan(a, value(a))
            case "--forward-signals": forwardSignals = true
            case "--":
                command = Array(args[(i + 1)...])
                i = args.count
                continue
            case "-h", "--help":
                print(usage, terminator: "")
                exit(0)
            default:
                if a.hasPrefix("--units=") { units.append(String(a.dropFirst(8))) }
                else if a.hasPrefix("--scan=") { scans.append(String(a.dropFirst(7))) }
                else if a.hasPrefix("--state-dir=") { stateDir = String(a.dropFirst(12)) }
                else if a.hasPrefix("--log-dir=") { logDir = String(a.dropFirst(10)) }
                else if a.hasPrefix("--config=") { configFile = String(a.dropFirst(9)) }
                else if a.hasPrefix("--target=") { target = String(a.dropFirst(9)) }
                else if a.hasPrefix("--cgroup=") { cgroup = String(a.dropFirst(9)) }
                else if a.hasPrefix("--command-timeout=") { commandTimeout = timeSpan("--command-timeout", String(a.dropFirst(18))) }
                else if a.hasPrefix("--shutdown-timeout=") { shutdownTimeout = timeSpan("--shutdown-timeout", String(a.dropFirst(19))) }
                else { fail("Unknown option \(a).", usage: true) }
            }
            i += 1
        }
        let cwd = currentDirectory()
        func absolute(_ p: String) -> String { p.hasPrefix("/") ? p : cwd + "/" + p }
        // `tend scan DIR` (--scan without --units) supervises the service directories only, as svscan does.
        var options = ManagerOptions(
            unitPaths: (units.isEmpty ? (scans.isEmpty ? Defaults.unitDirs : []) : units).map(absolute),
            stateDir: absolute(stateDir ?? Defaults.stateDir),
            logDir: absolute(logDir ?? Defaults.logDir))
        options.startAll = startAll
        let config = loadConfig(configFile.map(absolute))
        options.logDefaults = config.logs
        var scanDirs: [String] = []
        for dir in (scans + config.scanDirectories).map(absolute) where !scanDirs.contains(dir) { scanDirs.append(dir) }
        options.scanDirectories = scanDirs
        options.defaultTarget = target
        if let cgroup {
            switch CgroupRoot.open(absolute(cgroup)) {
            case .success(let root): CgroupRoot.current = root
            case .failure(let e): _ = try? Posix.write(2, Array("tend daemon: warning: --cgroup: \(e); services run without cgroups.\n".utf8))
            }
        }
        options.shutdownTimeout = shutdownTimeout ?? (initMode ? .seconds(8) : .infinity)
        if command == nil && (forwardSignals || commandTimeout != nil) {
            fail("--forward-signals and --command-timeout need a command after --.", usage: true)
        }
        if let commandTimeout { options.commandTimeout = commandTimeout }
        options.forwardSignals = forwardSignals
        if initMode {
            // As a namespace's init (no holder: TEND_NO_HOLDER=1), signals need handlers to be delivered at all.
            var handled = Manager.handledSignals
            _ = ctend_init_handlers(&handled, Int32(handled.count))
        }
        // The holder (docs/architecture.md, "Surviving the manager's death"): this process stays as a small
        // parent that keeps the services' descriptors and starts the manager again if it dies; the manager goes
        // on in its child. A manager the holder started connects to it instead. TEND_NO_HOLDER=1: none.
        let holder = Posix.environment()["TEND_NO_HOLDER"] == "1" ? nil : Holder.startOrConnect(argv: CommandLine.arguments)
        options.serviceFileLimit = Posix.raiseFileLimit()

        do {
            // Root's state directory stays traversable (0755): services that run as other users reach their
            // notify sockets in it, as with systemd's /run/systemd. Anyone else's is private (0700).
            if let why = Posix.secureDirectory(options.stateDir, mode: getuid() == 0 ? 0o755 : 0o700) {
                fail("Refusing the state directory \(options.stateDir): \(why). Remove it, or choose another with --state-dir.")
            }
            // The log directory must be writable too (a read-only root file system: point TEND_LOG_DIR or
            // --log-dir at a writable mount).
            do { try Posix.mkdirs(options.logDir, mode: 0o755) } catch {
                fail("Cannot create the log directory \(options.logDir): \(error). Choose a writable one with --log-dir or TEND_LOG_DIR.")
            }
            if access(options.logDir, W_OK | X_OK) != 0 {
                fail("The log directory \(options.logDir) is not writable: \(Posix.errorText(errno)). Choose a writable one with --log-dir or TEND_LOG_DIR.")
            }
            if let command {
                // CMD mode: the command's unit, in a directory searched after the user's (Manager+Command.swift).
                options.unitPaths.append(CommandMode.writeUnit(argv: command, stateDir: options.stateDir,
                                                               unitPaths: options.unitPaths, target: target, cwd: cwd))
                options.commandUnit = commandUnitName
            }
            // One manager per state directory.
            let lockFD = try Posix.open(options.stateDir + "/lock", O_RDWR | O_CREAT | O_NOFOLLOW, mode: 0o600)
            if flock(lockFD, LOCK_EX | LOCK_NB) != 0 {
                fail("Another tend daemon is running with state directory \(options.stateDir).")
            }
            // And one per unit directory: a second manager on the same units would run every service twice,
            // whatever state directory it was given (also one recreated under a running manager).
            for dir in options.unitPaths {
                let dirFD = Glibc.open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                guard dirFD >= 0 else { continue }  // a unit directory that doesn't exist yet holds nothing to run
                if flock(dirFD, LOCK_EX | LOCK_NB) != 0 {
                    fail("Another tend daemon is running the units in \(dir).")
                }
            }
            let manager = try Manager(options: options)
            if let holder { manager.attach(holder: holder) }
            // The manager's events go to its own log in the store and, with levels, to stderr (swift-log).
            var logger = Logger(label: "tend")
            logger.logLevel = .info
            manager.logHandler = { level, message in
                switch level {
                case .debug: logger.debug("\(message)")
                case .info: logger.info("\(message)")
                case .notice: logger.notice("\(message)")
                case .warning: logger.warning("\(message)")
                case .error: logger.error("\(message)")
                }
            }
            let server = try ControlServer(manager: manager, path: options.stateDir + "/" + ControlProtocol.socketName)
            manager.onShutdownComplete = {
                server.close()
                manager.loop.stop()
            }
            manager.report(.info, "tend \(tendVersion) starting: units from \(options.unitPaths.joined(separator: ", ")), state in \(options.stateDir), logs in \(options.logDir).")
            var st = stat()
            for dir in options.unitPaths where stat(dir, &st) != 0 || (st.st_mode & S_IFMT) != S_IFDIR {
                manager.report(.warning, "The unit directory \(dir) does not exist (or is not a directory): no units from it.")
            }
            try manager.boot()
            if let target, options.startAll, manager.unit(named: target)?.loadState != .loaded {
                fail("--target \(target): no such unit (or one with a bad setting) in \(options.unitPaths.joined(separator: ", ")).")
            }
            // Start-up code (the parser, the first spawns) is not needed again: let its pages go.
            _ = ctend_trim_text()
            manager.run()
            manager.finishLogs()
            exit(manager.exitStatus)
        } catch {
            fail("Failed to start the manager: \(error)")
        }
    }

    /// tend.conf: a `[Logs]` section with the log directives of units' `[Service]` sections, parsed by the
    /// same table (so the same syntax, values and messages). A bad value refuses to start, naming file:line.
    static func loadConfig(_ explicit: String?) -> (logs: LogDefaults, scanDirectories: [String]) {
        var defaults = LogDefaults()
        var scanDirectories: [String] = []
        let env = Posix.environment()
        let path = explicit ?? (getuid() == 0 ? "/etc/tend/tend.conf"
            : (env["XDG_CONFIG_HOME"].map { $0 + "/tend/tend.conf" } ?? Defaults.home + "/.config/tend/tend.conf"))
        guard let bytes = Posix.readFile(path) else {
            if explicit != nil { fail("Failed to read the configuration \(path).") }
            return (defaults, [])
        }
        var lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var problems: [String] = []
        // [Scan] Directory= lines are taken here (each a directory, repeatable; empty clears the list, as
        // systemd's list settings), and the section is then blanked for the unit parser.
        var inScan = false
        for (n, line) in lines.enumerated() {
            let text = line.trimmingCharacters(in: " \t")
            if text.hasPrefix("[") {
                inScan = text == "[Scan]"
                if text == "[Logs]" { lines[n] = "[Service]" }
                else if inScan { lines[n] = "" }
                else { problems.append("\(path):\(n + 1): unknown section \(text)") }
                continue
            }
            guard inScan, !text.isEmpty, !text.hasPrefix("#"), !text.hasPrefix(";") else { continue }
            let kv = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: " \t") }
            if kv.count == 2, kv[0] == "Directory" {
                if kv[1].isEmpty { scanDirectories = [] } else { scanDirectories.append(kv[1]) }
            } else {
                problems.append("\(path):\(n + 1): \(kv[0])= is not a [Scan] setting (Directory= is)")
            }
            lines[n] = ""
        }
        var config = ServiceConfig(name: UnitName(prefix: "tend", suffix: "service"))
        var diagnostics: [Diagnostic] = []
        parseUnitText(lines.joined(separator: "\n"), file: path, into: &config,
                      context: SpecifierContext.current(environment: env), diagnostics: &diagnostics)
        for d in diagnostics where d.severity == .error { problems.append(d.description) }
        let logKeys = ["LogMaxSize", "LogMaxFiles", "LogMaxUse", "LogRateLimitIntervalSec", "LogRateLimitBurst", "LineMax", "LogTimestamp"]
        for (n, line) in lines.enumerated() {
            let key = line.split(separator: "=", maxSplits: 1).first.map { $0.trimmingCharacters(in: " \t") } ?? ""
            if line.contains("="), !line.hasPrefix("#"), !line.hasPrefix(";"), !logKeys.contains(key) {
                problems.append("\(path):\(n + 1): \(key)= is not a tend.conf setting")
            }
        }
        if !problems.isEmpty {
            fail("Bad configuration:\n" + problems.joined(separator: "\n"))
        }
        defaults.apply(config)
        return (defaults, scanDirectories)
    }

    static func timeSpan(_ flag: String, _ text: String) -> TimeSpan {
        guard let t = parseTimeSpan(text) else { fail("\(flag): invalid time span \"\(text)\" (e.g. 8s, 500ms, 1min, infinity).", usage: true) }
        return t
    }

    static func currentDirectory() -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        guard getcwd(&buf, buf.count) != nil else { return "/" }
        return buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    static func fail(_ message: String, usage: Bool = false) -> Never {
        var text = "tend daemon: \(message)\n"
        if usage { text += "See 'tend daemon --help'.\n" }
        _ = try? Posix.write(2, Array(text.utf8))
        exit(usage ? 2 : 1)
    }
}


@main
struct TenddMain {
    static func main() {
        // Show up as "tend" in ps/top (comm comes from the file name, tendd), like the command people ran.
        ctend_set_name("tend")
        var args = Array(CommandLine.arguments.dropFirst())
        if args.first == "daemon" { args.removeFirst() }
        DaemonCommand.run(args)
    }
}

