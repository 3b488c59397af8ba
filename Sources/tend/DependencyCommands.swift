import ArgumentParser
import Glibc
import TendControl
import TendModel
import TendSystem
import TendEngine
import TendFormat

// MARK: - enable / disable / is-enabled

/// Where `enable`/`disable`/`is-enabled` act: the directories given with `--units` (offline, no daemon needed;
/// a running daemon is told afterwards), else the running daemon's (it acts on its first unit directory), else
/// the default unit directory.
struct InstallOptions: ParsableArguments {
    @Argument(help: "Units (NAME means NAME.service; a template needs an instance or DefaultInstance=).",
              completion: .unitNames)
    var units: [String]
    @Option(name: .customLong("units"), help: "Unit directory to act on (the first one; repeatable). Works without a daemon.")
    var unitDirs: [String] = []
    @OptionGroup var client: ClientOptions

    func validate() throws {
        if units.isEmpty { throw ValidationError("Name at least one unit.") }
    }

    /// `--now`: the job that follows the change, run by the manager.
    func followWith(_ verb: JobVerb, if now: Bool) throws {
        guard now else { return }
        let _: OKReply = try client.call(.job(verb, units: units, noBlock: false))
    }

    /// Runs `request` in the daemon, or offline with `local` when `--units` was given or no daemon answers.
    func perform<R: ControlReply>(_ request: ControlRequest, local: (UnitInstaller) throws -> R) throws -> R {
        if unitDirs.isEmpty {
            switch Result(catching: { () throws(ControlError) -> R in try call(client.stateDir, request) }) {
            case .success(let reply): return reply
            case .failure(let e) where e.code == .connectionFailed:
                return try local(UnitInstaller(unitPaths: Defaults.unitDirs, environment: Posix.environment()))
            case .failure(let e): throw e
            }
        }
        let cwd = DaemonPaths.currentDirectory()
        let dirs = unitDirs.map { $0.hasPrefix("/") ? $0 : cwd + "/" + $0 }
        let reply = try local(UnitInstaller(unitPaths: dirs, environment: Posix.environment()))
        // A daemon using these units sees the change at once (best effort).
        _ = try? call(client.stateDir, .unitsChanged, as: OKReply.self)
        return reply
    }
}

enum DaemonPaths {
    static func currentDirectory() -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        guard getcwd(&buf, buf.count) != nil else { return "/" }
        return buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}

func printChanges(_ reply: InstallReply, output: OutputFormat) {
    if output == .json {
        // The wire's own form of the changes and notes (without "ok" and the unit directory).
        let fields = InstallReply(changes: reply.changes, notes: reply.notes).fields
        out(JSON.object(fields).serialized(pretty: true) + "\n")
        return
    }
    for c in reply.changes { out(c.message + "\n") }
    for n in reply.notes { printError(n) }
}

struct Enable: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Enable units: create the [Install] symlinks (WantedBy=, RequiredBy=, Alias=, Also=).",
        discussion: "Acts on the first unit directory; idempotent. The manager sees the change at once (no daemon-reload).")
    @OptionGroup var install: InstallOptions
    @Flag(name: .customLong("now"), help: "Also start the units, as systemctl enable --now.") var now = false

    func run() throws {
        try guarded {
            let reply = try install.perform(.enable(units: install.units)) { installer in
                do {
                    let (changes, notes) = try installer.enable(install.units)
                    return InstallReply(changes: changes, notes: notes)
                } catch let e as InstallError { throw CLIError(.installFailed, e.description) }
            }
            printChanges(reply, output: install.client.output)
            try install.followWith(.start, if: now)
        }
    }
}

struct Disable: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Disable units: remove their symlinks from the first unit directory.",
        discussion: "Idempotent. The manager sees the change at once; running units keep running (unless --now).")
    @OptionGroup var install: InstallOptions
    @Flag(name: .customLong("now"), help: "Also stop the units, as systemctl disable --now.") var now = false

    func run() throws {
        try guarded {
            let reply = try install.perform(.disable(units: install.units)) { installer in
                do {
                    return InstallReply(changes: try installer.disable(install.units))
                } catch let e as InstallError { throw CLIError(.installFailed, e.description) }
            }
            printChanges(reply, output: install.client.output)
            try install.followWith(.stop, if: now)
        }
    }
}

struct IsEnabled: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "is-enabled",
        abstract: "Print whether units are enabled, disabled, static, indirect, alias, masked or not-found.",
        discussion: "Exit status: 0 if at least one unit is enabled (or static, indirect, alias), 1 otherwise.")
    @OptionGroup var install: InstallOptions

    func run() throws {
        try guarded {
            let reply = try install.perform(.isEnabled(units: install.units)) { installer in
                IsEnabledReply(states: install.units.map { installer.state($0) })
            }
            let states = reply.states
            if install.client.output == .json {
                out(JSON.array(zip(install.units, states).map { .object([("unit", .string($0.0)), ("state", .string($0.1))]) })
                    .serialized(pretty: true) + "\n")
            } else {
                for s in states { out(s + "\n") }
            }
            if !states.contains(where: { UnitInstaller.isEnabledExitCode($0) == 0 }) { throw ExitCode(1) }
        }
    }
}

// MARK: - list-dependencies

func dependencyData(_ stateDir: String?) throws -> (units: [AnalyzeUnit], reply: DependenciesReply) {
    let reply: DependenciesReply = try call(stateDir, .dependencies)
    return (reply.units, reply)
}

func unitName(_ raw: String) -> String { UnitName(parsing: raw)?.description ?? raw }

struct ListDependencies: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list-dependencies",
        abstract: "Show the units a unit requires and wants, as a tree (recursing into targets).",
        discussion: "● active, ○ inactive, × failed. Without NAME: default.target.")
    @Argument(help: "The unit (default: default.target).", completion: .unitNames) var unit: String = "default.target"
    @Flag(name: .shortAndLong, help: "Recurse into every unit, not only targets.") var all = false
    @Flag(name: .long, help: "Show the units that depend on NAME instead.") var reverse = false
    @OptionGroup var client: ClientOptions

    func run() throws {
        try guarded {
            let (units, _) = try dependencyData(client.stateDir)
            let root = unitName(unit)
            guard units.contains(where: { $0.name == root }) else { throw CLIError(.noSuchUnit, "Unit \(root) could not be found.") }
            if client.output == .json {
                var byName: [String: AnalyzeUnit] = [:]
                for u in units { byName[u.name] = u }
                func tree(_ name: String, _ path: Set<String>, _ depth: Int) -> JSON {
                    let u = byName[name]
                    var kids: [JSON] = []
                    if depth == 0 || all || name.hasSuffix(".target"), !reverse {
                        var names: Set<String> = []
                        for k in [DependencyKind.requires, .requisite, .wants, .bindsTo, .upholds] {
                            names.formUnion(u?.edges[k] ?? [])
                        }
                        for d in names.sorted() where !path.contains(d) { kids.append(tree(d, path.union([d]), depth + 1)) }
                    }
                    return .object([("unit", .string(name)), ("active", .string(u?.activeState ?? "inactive")),
                                    ("dependencies", .array(kids))])
                }
                out(tree(root, [root], 0).serialized(pretty: true) + "\n")
                return
            }
            out(Analyze.dependencyTree(units, root: root, all: all, reverse: reverse))
        }
    }
}

// MARK: - analyze

struct AnalyzeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "How the units started: blame, critical-chain, plot (SVG), dot (Graphviz); security: their isolation; calendar expressions.",
        subcommands: [Blame.self, CriticalChain.self, Plot.self, Dot.self, Security.self, CalendarAnalyze.self])

    struct Blame: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Units by the time their start-up took to become active, slowest first.",
            discussion: "The start-up is the job that started the unit (at launch, or a start/restart since); automatic restarts don't count.")
        @OptionGroup var client: ClientOptions
        func run() throws {
            try guarded {
                let (units, _) = try dependencyData(client.stateDir)
                if client.output == .json {
                    let rows = units.compactMap { u in u.startDuration.map { (u, $0) } }.sorted { $0.1 > $1.1 }
                    out(JSON.array(rows.map {
                        .object([("unit", .string($0.0.name)), ("seconds", .double($0.1)),
                                 ("retries", .int(Int64($0.0.retries))), ("restarts", .int(Int64($0.0.restarts)))])
                    }).serialized(pretty: true) + "\n")
                } else {
                    out(Analyze.blame(units))
                }
            }
        }
    }

    struct CriticalChain: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "critical-chain",
            abstract: "The chain of units NAME waited for (default: default.target), with @start and +duration.")
        @Argument(help: "The unit (default: default.target).", completion: .unitNames)
        var unit: String = "default.target"
        @OptionGroup var client: ClientOptions
        func run() throws {
            try guarded {
                let (units, _) = try dependencyData(client.stateDir)
                let root = unitName(unit)
                let text = Analyze.criticalChain(units, root: root)
                if client.output == .json {
                    var chain: [JSON] = []
                    var byName: [String: AnalyzeUnit] = [:]
                    for u in units { byName[u.name] = u }
                    for line in text.split(separator: "\n").dropFirst(2) {
                        let name = line.split(separator: " ").first.map { String($0.drop { "└─ ".contains($0) }) } ?? ""
                        guard let u = byName[name] else { continue }
                        chain.append(.object([
                            ("unit", .string(name)), ("activating", u.attemptStart.map { .double($0) } ?? .null),
                            ("active", u.active.map { .double($0) } ?? .null),
                            ("seconds", u.startDuration.map { .double($0) } ?? .null),
                        ]))
                    }
                    out(JSON.array(chain).serialized(pretty: true) + "\n")
                } else {
                    out(text)
                }
            }
        }
    }

    struct Plot: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "An SVG timeline of the start-up: tend analyze plot > boot.svg")
        @OptionGroup var client: ClientOptions
        func run() throws {
            try guarded {
                let (units, reply) = try dependencyData(client.stateDir)
                out(Analyze.plot(units, now: reply.now))
            }
        }
    }

    struct Dot: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The dependency graph in Graphviz dot: tend analyze dot | dot -Tsvg > deps.svg",
            discussion: "Requires= black, Requisite= dark blue, Wants= grey, Conflicts= red, After= green.")
        @Flag(name: .long, help: "Only ordering edges (After=).") var order = false
        @Flag(name: .long, help: "Only requirement edges.") var require = false
        @OptionGroup var client: ClientOptions
        func run() throws {
            try guarded {
                let (units, _) = try dependencyData(client.stateDir)
                out(Analyze.dot(units, order: !require || order, require: !order || require))
            }
        }
    }
}
