import ArgumentParser
import SDNotify
import Glibc
import TendControl
import TendModel
import TendSystem
import TendEngine
import TendFormat

@main
struct Entry {
    static func main() {
        let raw = Array(CommandLine.arguments.dropFirst())
        // `tend -H [USER@]HOST ...` runs the whole command on that host (Remote.swift).
        if let (host, rest) = Remote.split(raw) { Remote.run(host: host, rest) }
        // A completion request (`---completion`, see Completion.swift) carries the command line verbatim.
        if raw.first == "---completion" { Tend.main(UnitCompletion.repairing(raw)) }
        let dashed = attachingDashValues(raw)
        if dashed.first == "daemon" { DaemonExec.run(Array(dashed.dropFirst())) }
        if dashed.first == "scan" { ScanHelp.exec(Array(dashed.dropFirst())) }
        if raw.first == "exec" { ChainExec.runCommandLine(Array(raw.dropFirst())) }
        let args = takingGlobalOptions(dashed)
        if let code = FastPath.run(args) { exit(code) }
        if let first = args.first, !first.hasPrefix("-"), let hint = unknownCommandHint(first) {
            printError(hint)
            exit(64)
        }
        Tend.main(args)
    }
}

/// journalctl's `--since -5min` (a value that starts with a dash) is taken as an option by ArgumentParser:
/// the value is attached (`--since=-5min`) before parsing, for the options whose values may start with one;
/// and `-n50` is split into `-n 50`.
func attachingDashValues(_ args: [String]) -> [String] {
    let options = ["--since": "--since", "-S": "--since", "--until": "--until", "-U": "--until"]
    var out: [String] = []
    var i = 0
    while i < args.count {
        if args[i] == "--" { out += args[i...]; break }
        // `-n50`, journalctl's and systemctl's spelling with the count attached.
        if args[i].hasPrefix("-n"), args[i].count > 2, args[i].dropFirst(2).allSatisfy(\.isNumber) {
            out += ["-n", String(args[i].dropFirst(2))]
            i += 1
            continue
        }
        if let long = options[args[i]], i + 1 < args.count, args[i + 1].hasPrefix("-"), args[i + 1].count > 1 {
            out.append(long + "=" + args[i + 1])
            i += 2
            continue
        }
        out.append(args[i])
        i += 1
    }
    return out
}

/// For a first word that names no command: systemctl's "did you mean" (the nearest command by edit distance,
/// when it is close enough), or nil when the word is a command.
func unknownCommandHint(_ word: String) -> String? {
    var names: [String] = ["help", "daemon"]
    for c in Tend.configuration.subcommands {
        names.append(c._commandName)
        names += c.configuration.aliases
    }
    if names.contains(word) { return nil }
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let old = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = old
            }
        }
        return a.isEmpty ? b.count : row[b.count]
    }
    let best = names.map { ($0, distance(Array(word), Array($0))) }.min { $0.1 < $1.1 }
    var text = "tend: unknown command '\(word)'."
    if let (name, d) = best, d <= max(2, name.count / 3) { text += " Did you mean '\(name)'?" }
    return text + "\nSee 'tend --help'."
}

struct Tend: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tend",
        abstract: "A service manager and process supervisor that runs systemd unit files.",
        version: tendVersion,
        subcommands: [
            DaemonHelp.self, ScanHelp.self, Start.self, Stop.self, Restart.self, TryRestart.self, Reload.self, ReloadOrRestart.self,
            Status.self,
            List.self, Show.self, Cat.self, Kill.self, ResetFailed.self, DaemonReload.self, Logs.self, Watch.self, DaemonReexec.self,
            Verify.self,
            Notify.self, Enable.self, Disable.self, IsEnabled.self, Mask.self, Unmask.self, ListUnitFiles.self, Edit.self,
            IsActive.self, IsFailed.self, IsSystemRunning.self, ListDependencies.self, AnalyzeCommand.self,
            ChainExec.self,
            ListTimers.self,  // TimerCommands.swift
            Web.self,
        ])
}

/// Options every client command shares.
struct ClientOptions: ParsableArguments {
    @Option(name: .customLong("state-dir"), help: "The manager's state directory (default: $TEND_STATE_DIR, /run/tend for root, $XDG_RUNTIME_DIR/tend otherwise).")
    var stateDir: String?

    @Option(name: [.customShort("o"), .customLong("output")], help: "Output format: text or json.")
    var output: OutputFormat = .text

    func call<R: ControlReply>(_ request: ControlRequest, as type: R.Type = R.self) throws(ControlError) -> R {
        try tend.call(stateDir, request, as: type)
    }
}

/// One request to the manager on a fresh connection. Failures are thrown as `ControlError`s, whose code alone
/// chooses the exit status (`guarded`).
func call<R: ControlReply>(_ stateDir: String?, _ request: ControlRequest, as type: R.Type = R.self)
    throws(ControlError) -> R
{
    try ControlClient.call(stateDir: stateDir ?? Defaults.stateDir, request, as: type)
}

enum OutputFormat: String, ExpressibleByArgument {
    case text, json
}

/// A failure found by the command itself (not the manager), with its message and exit status; printed without
/// the usage text.
struct CLIError: Error {
    var message: String
    var exitCode: Int32
    init(_ message: String, exitCode: Int32 = 1) {
        self.message = message
        self.exitCode = exitCode
    }

    /// The same failure a manager would report with `code`.
    init(_ code: ControlErrorCode, _ message: String) {
        self.init(message, exitCode: code.exitStatus)
    }
}

/// The message and exit status of a failure, if it is one of ours.
func failure(_ error: any Error) -> (message: String, exitCode: Int32)? {
    switch error {
    case let e as CLIError: return (e.message, e.exitCode)
    case let e as ControlError: return (e.message, e.exitStatus)
    default: return nil
    }
}

extension ParsableCommand {
    /// Runs `body`, turning a CLIError or ControlError into a message on stderr and its exit status.
    func guarded(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch {
            guard let (message, code) = failure(error) else { throw error }
            printError(message)
            throw ExitCode(code)
        }
    }
}

func printError(_ s: String) {
    _ = try? Posix.write(2, Array((s.hasSuffix("\n") ? s : s + "\n").utf8))
}

/// stdout without block buffering surprises: each call writes through.
func out(_ s: String) {
    _ = try? Posix.write(1, Array(s.utf8))
}

// MARK: - Daemon (help only: `tend daemon` itself is dispatched before ArgumentParser)

struct DaemonHelp: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon", abstract: "Run the service manager in the foreground (see 'tend daemon --help').")
    @Argument(parsing: .allUnrecognized) var rest: [String] = []
    func run() throws { DaemonExec.run(rest) }
}

/// `tend scan DIR [OPTIONS]`: the manager supervising the service directories in DIR (and no unit files unless
/// `--units` is given too), in the foreground, as `svscan DIR` / `runsvdir DIR`. Dispatched before ArgumentParser.
struct ScanHelp: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Supervise the daemontools/runit service directories in DIR, in the foreground (as svscan/runsvdir).",
        discussion: "Every subdirectory of DIR (or symlink to one) with an executable ./run is a service, named NAME.dir (also NAME); log/run is its logger (NAME.log.dir, also NAME/log). Other options are those of 'tend daemon' (--state-dir, --log-dir, --units, --config). See docs/service-directories.md.")
    @Argument(help: "The directory to scan.") var directory: String
    @Argument(parsing: .allUnrecognized, help: "Options of 'tend daemon'.") var rest: [String] = []
    func run() throws { ScanHelp.exec([directory] + rest) }

    static func exec(_ args: [String]) -> Never {
        if args.isEmpty || args.contains("-h") || args.contains("--help") {
            out(ScanHelp.helpMessage() + "\n")
            Glibc.exit(args.isEmpty ? 64 : 0)
        }
        // The first word that is not an option (or an option's value) is the directory.
        var rest = args
        let withValue: Set<String> = ["--units", "--scan", "--state-dir", "--log-dir", "--config", "--target"]
        var i = 0
        while i < rest.count {
            if withValue.contains(rest[i]) { i += 2; continue }
            if rest[i].hasPrefix("-") { i += 1; continue }
            let dir = rest.remove(at: i)
            DaemonExec.run(["--scan", dir] + rest)
        }
        printError("tend scan: which directory? (tend scan DIR)")
        Glibc.exit(64)
    }
}

// MARK: - Jobs

struct JobOptions: ParsableArguments {
    @Argument(help: "Units (NAME means NAME.service).", completion: .unitNames) var units: [String]
    @Flag(name: .customLong("no-block"), help: "Don't wait for the job to finish.") var noBlock = false
    @OptionGroup var client: ClientOptions

    func validate() throws {
        if units.isEmpty { throw ValidationError("Name at least one unit.") }
    }
}

protocol JobCommand: ParsableCommand {
    var job: JobOptions { get }
    static var verb: JobVerb { get }
}

extension JobCommand {
    func run() throws {
        try guarded {
            let _: OKReply = try job.client.call(.job(Self.verb, units: job.units, noBlock: job.noBlock))
        }
    }
}

struct Start: JobCommand {
    static let configuration = CommandConfiguration(abstract: "Start units and wait until they are active (or failed).")
    static let verb = JobVerb.start
    @OptionGroup var job: JobOptions
}

struct Stop: JobCommand {
    static let configuration = CommandConfiguration(abstract: "Stop units and wait until they are down.")
    static let verb = JobVerb.stop
    @OptionGroup var job: JobOptions
}

struct Restart: JobCommand {
    static let configuration = CommandConfiguration(abstract: "Stop, then start units (start them if inactive).")
    static let verb = JobVerb.restart
    @OptionGroup var job: JobOptions
}

struct TryRestart: JobCommand {
    static let configuration = CommandConfiguration(commandName: "try-restart", abstract: "Restart units that are active; leave the others alone.")
    static let verb = JobVerb.tryRestart
    @OptionGroup var job: JobOptions
}

struct Reload: JobCommand {
    static let configuration = CommandConfiguration(abstract: "Run units' ExecReload= commands.")
    static let verb = JobVerb.reload
    @OptionGroup var job: JobOptions
}

struct ReloadOrRestart: JobCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload-or-restart",
        abstract: "Reload units that are active and can reload (ExecReload=, Type=notify-reload); restart the others.")
    static let verb = JobVerb.reloadOrRestart
    @OptionGroup var job: JobOptions
}

// MARK: - Status and queries

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show units' state, main process, last exit and recent log lines.",
        discussion: "Exit status: 0 if all named units are active, 3 if some are not, 4 if a unit does not exist.")
    @Argument(help: "Units (all loaded units when none is named).", completion: .unitNames) var units: [String] = []
    @Option(name: [.customShort("n"), .customLong("lines")], help: "Log lines to show.") var lines = 10
    @Flag(name: [.customShort("l"), .customLong("full")], help: "Accepted for systemctl's habit: tend never ellipsizes.")
    var full = false
    @Flag(name: .customLong("no-pager"), help: "Don't pipe long output into a pager (any command takes it).") var noPager = false
    @OptionGroup var client: ClientOptions

    func run() throws {
        try guarded {
            let code = try Status.execute(units: units, lines: lines, output: client.output, stateDir: client.stateDir)
            if code != 0 { throw ExitCode(code) }
        }
    }

    /// The work of `tend status`, shared by the ArgumentParser command and the fast path. Returns the exit status.
    static func execute(units: [String], lines: Int, output: OutputFormat, stateDir: String?) throws -> Int32 {
        let reply: StatusReply = try call(stateDir, .status(units: units, lines: lines))
        let list = reply.units
        let missing = reply.missing
        if output == .json {
            out(JSON.array(list.map(\.json)).serialized(pretty: true) + "\n")
        } else {
            let now = Posix.realtimeMicroseconds
            let color = Terminal.color  // asked before the pager takes standard output
            Terminal.startPager()
            out(list.map { StatusText.render($0, now: now, color: color) }.joined(separator: "\n"))
        }
        for m in missing { printError("Unit \(m) could not be found.") }
        if !missing.isEmpty { return ControlErrorCode.noSuchUnit.exitStatus }
        if list.contains(where: { !$0.isActive }) { return 3 }
        return 0
    }
}

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List units, like systemctl list-units.", aliases: ["list-units"])
    @Flag(name: .shortAndLong, help: "Include inactive units.") var all = false
    @Option(name: .customLong("state"), parsing: .upToNextOption,
            help: "Only units in these states: active, inactive, failed, activating, … or a sub-state (comma-separated).")
    var state: [String] = []
    @Flag(name: .customLong("failed"), help: "Only failed units (--state=failed).") var failed = false
    @OptionGroup var client: ClientOptions

    func run() throws {
        let states = Set(state.flatMap { $0.split(separator: ",").map(String.init) } + (failed ? ["failed"] : []))
        try guarded { try List.execute(all: all, output: client.output, stateDir: client.stateDir, states: states) }
    }

    /// The work of `tend list`, shared by the ArgumentParser command and the fast path. With `states`, only the
    /// units whose load, active or sub state is one of them (inactive ones included, as systemctl does).
    static func execute(all: Bool, output: OutputFormat, stateDir: String?, states: Set<String> = []) throws {
        var list = try call(stateDir, .list(all: all || !states.isEmpty), as: StatusReply.self).units
        if !states.isEmpty { list = list.filter { states.contains($0.active) || states.contains($0.sub) || states.contains($0.load) } }
        if output == .json {
            // The reply's brief unit objects are the rows: unit, load, active, sub, description, mainPID.
            out(JSON.array(list.map(\.json)).serialized(pretty: true) + "\n")
            return
        }
        let color = Terminal.color
        Terminal.startPager()
        out(StatusText.table(list, color: color))
    }
}

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show unit properties as Key=Value lines.")
    @Argument(help: "Units.", completion: .unitNames) var units: [String]
    @Option(name: [.customShort("p"), .customLong("property")], help: "Only these properties (comma-separated, repeatable).")
    var property: [String] = []
    @Flag(name: .customLong("value"), help: "Print only the values, without 'Key=' (as systemctl show --value).")
    var value = false
    @OptionGroup var client: ClientOptions

    func run() throws {
        try guarded {
            let reply: ShowReply = try client.call(.show(units: units))
            let wanted = Set(property.flatMap { $0.split(separator: ",").map(String.init) })
            var blocks: [String] = []
            var jsonUnits: [JSON] = []
            for unit in reply.units {
                let pairs = unit.filter { wanted.isEmpty || wanted.contains($0.name) }
                blocks.append(pairs.map { value ? "\($0.value)\n" : "\($0.name)=\($0.value)\n" }.joined())
                jsonUnits.append(.object(pairs.map { ($0.name, .string($0.value)) }))
            }
            if client.output == .json {
                out(JSON.array(jsonUnits).serialized(pretty: true) + "\n")
            } else {
                Terminal.startPager()
                out(blocks.joined(separator: "\n"))
            }
        }
    }
}

struct Cat: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the unit files (and drop-ins) as loaded.")
    @Argument(help: "Units.", completion: .unitNames) var units: [String]
    @OptionGroup var client: ClientOptions

    func run() throws {
        try guarded {
            let reply: CatReply = try client.call(.cat(units: units))
            Terminal.startPager()
            out(reply.texts.joined(separator: "\n"))
        }
    }
}

struct Kill: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Send a signal to a unit's processes.")
    @Argument(help: "Units.", completion: .unitNames) var units: [String]
    @Option(name: [.customShort("s"), .customLong("signal")], help: "Signal name or number (default: SIGTERM).")
    var signal = "SIGTERM"
    @Option(name: .customLong("who"), help: "main: the main process only; all: every process of the unit.")
    var who = "all"
    @OptionGroup var client: ClientOptions

    func validate() throws {
        guard Signals.number(named: signal) != nil else { throw ValidationError("Unknown signal \"\(signal)\".") }
        guard who == "main" || who == "all" else { throw ValidationError("--who takes main or all.") }
    }

    func run() throws {
        try guarded {
            let _: OKReply = try client.call(.kill(units: units, signal: Signals.number(named: signal)!,
                                                   who: who == "main" ? .main : .all))
        }
    }
}

struct ResetFailed: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reset-failed", abstract: "Clear the failed state and the start rate limit.")
    @Argument(help: "Units (all when none is named).", completion: .unitNames) var units: [String] = []
    @OptionGroup var client: ClientOptions

    func run() throws {
        try guarded {
            let _: OKReply = try client.call(.resetFailed(units: units))
        }
    }
}

struct DaemonReload: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "daemon-reload", abstract: "Re-read all unit files.")
    @OptionGroup var client: ClientOptions

    func run() throws {
        try guarded { let _: OKReply = try client.call(.daemonReload) }
    }
}

struct DaemonReexec: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon-reexec",
        abstract: "Execute the manager again (the tendd binary as it is on disk now), keeping every service running.",
        discussion: "Waits until the new manager answers. The services, their log pipes and notify sockets are handed over by the holder process, as after a crash of the manager.")
    @OptionGroup var client: ClientOptions

    func run() throws {
        try guarded {
            let before: PingReply = try client.call(.ping)
            let _: OKReply = try client.call(.daemonReexec)
            let deadline = Posix.monotonicNow + TimeSpan(usec: 30_000_000)
            while Posix.monotonicNow < deadline {
                if let now = try? client.call(.ping, as: PingReply.self), now.pid != before.pid { return }
                usleep(10_000)
            }
            throw CLIError("The new manager did not answer within 30 s.")
        }
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check unit files offline: print FILE:LINE: problems.",
        discussion: """
            With --environment, also what this environment lets a manager run by the same user apply of a \
            sandbox (mount and network namespaces, capabilities, seccomp), and for each FILE the settings that \
            would not be applied here. Exit status: 0 when no file has an error (warnings allowed), 1 otherwise.
            """)
    @Argument(help: "Unit files.", completion: .unitFiles) var files: [String] = []
    @Flag(name: .customLong("environment"), help: "Report what this environment can apply of the sandboxing directives.")
    var environment = false

    func validate() throws {
        if files.isEmpty && !environment { throw ValidationError("Give unit files, or --environment.") }
    }

    func run() throws {
        let sandbox = SandboxProbe.current
        if environment {
            print("Sandboxing here:")
            for line in sandbox.summary { print("  " + line) }
        }
        var failed = false
        for file in files {
            let dir = file.contains("/") ? String(file[..<file.lastIndex(of: "/")!]) : "."
            let loader = UnitLoader(searchPaths: [dir], context: SpecifierContext.current(environment: Posix.environment()))
            let result = loader.loadFile(path: file)
            for d in result.diagnostics { printError(d.description) }
            if environment, let c = result.config {
                for n in SandboxPlan(c.sandbox, sandbox).notApplied { print("\(file): \(n)") }
            }
            if result.hasErrors || result.config == nil {
                failed = true
                if result.config == nil && result.diagnostics.isEmpty { printError("\(file): cannot read the file.") }
            }
        }
        if failed { throw ExitCode(1) }
    }
}

struct Notify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send an sd_notify message to the manager, like systemd-notify.",
        discussion: """
            Sends the assignments in one datagram to $NOTIFY_SOCKET, then waits (BARRIER=1) until the manager has \
            processed it. Run as root, it sends with its parent's credentials, so a shell script that is a \
            service's main process can report readiness under NotifyAccess=main; otherwise use NotifyAccess=all.
            Exit status: 0 when sent, 1 on failure or when there is no $NOTIFY_SOCKET (--booted: 0 when running \
            under a tend or systemd manager).
            """)
    @Flag(help: "READY=1: start-up is complete.") var ready = false
    @Flag(help: "RELOADING=1 with MONOTONIC_USEC=.") var reloading = false
    @Flag(help: "STOPPING=1: the service is shutting down.") var stopping = false
    @Option(help: "STATUS=TEXT, shown by tend status.") var status: String?
    @Option(help: "MAINPID=: a pid, or auto/parent (the caller), or self.") var pid: String?
    @Flag(help: "Exit 0 if running under a service manager, 1 otherwise.") var booted = false
    @Flag(name: .customLong("no-block"), help: "Don't wait for the manager to process the message.") var noBlock = false
    @Argument(help: "More VARIABLE=VALUE assignments (WATCHDOG=1, ERRNO=…).") var assignments: [String] = []

    func validate() throws {
        for a in assignments where !a.contains("=") {
            throw ValidationError("\"\(a)\" is not a VARIABLE=VALUE assignment.")
        }
    }

    func run() throws {
        if booted {
            let underTend = access(Defaults.stateDir + "/control.sock", F_OK) == 0
            let underSystemd = access("/run/systemd/system", F_OK) == 0
            throw ExitCode(SDNotify.socketPath != nil || underTend || underSystemd ? 0 : 1)
        }
        var a: [String] = []
        if ready { a.append("READY=1") }
        if reloading {
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            a += ["RELOADING=1", "MONOTONIC_USEC=\(UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000)"]
        }
        if stopping { a.append("STOPPING=1") }
        if let status { a.append("STATUS=\(status)") }
        if let pid {
            switch pid {
            case "auto", "parent", "": a.append("MAINPID=\(getppid())")
            case "self": a.append("MAINPID=\(getpid())")
            default:
                guard let n = Int32(pid), n > 0 else { throw ValidationError("--pid takes a pid, auto, parent or self.") }
                a.append("MAINPID=\(n)")
            }
        }
        a += assignments
        guard !a.isEmpty else { throw ValidationError("Nothing to send: give --ready, --status, VARIABLE=VALUE, ….") }
        guard SDNotify.socketPath != nil else {
            printError("No NOTIFY_SOCKET: not running under a service manager that listens for notifications.")
            throw ExitCode(1)
        }
        if let failure = Notify.deliver(a, wait: !noBlock) {
            printError(failure)
            throw ExitCode(1)
        }
    }

    /// Sends and (unless told not to) waits for the barrier; returns an error message or nil.
    static func deliver(_ a: [String], wait: Bool) -> String? {
        // As root, speak with the parent's credentials (the service's main process when a script calls us).
        var sent = false
        if getuid() == 0 { sent = (try? SDNotify.send(a, pid: getppid())) ?? false }
        if !sent {
            do {
                try SDNotify.send(a)
            } catch {
                return "Failed to notify: \(error)"
            }
        }
        guard wait else { return nil }
        // Keep this process alive until the manager has read the message: it checks who sent it.
        let confirmed: Bool
        do {
            confirmed = try SDNotify.barrier()
        } catch {
            return "Failed to notify: \(error)"
        }
        return confirmed ? nil : "The manager did not confirm the message within 5 s."
    }
}
