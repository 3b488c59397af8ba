import ArgumentParser
import TendControl

/// `is-active` and `is-failed`, with systemctl's words and exit statuses: each unit's state on a line (a unit
/// that doesn't exist is `inactive`), exit 0 when at least one unit is in the state asked about, otherwise 3
/// (`is-active`, systemd's EXIT_PROGRAM_NOT_RUNNING) or 1 (`is-failed`).
protocol StateCheck: ParsableCommand {
    var check: StateCheckOptions { get }
    /// The states that make the exit status 0, and the status otherwise.
    static var good: Set<String> { get }
    static var otherwise: Int32 { get }
}

struct StateCheckOptions: ParsableArguments {
    @Argument(help: "Units.", completion: .unitNames) var units: [String]
    @Flag(name: .shortAndLong, help: "Print nothing; only the exit status tells.") var quiet = false
    @OptionGroup var client: ClientOptions
}

extension StateCheck {
    func run() throws {
        try guarded {
            let code = try checkStates(check.units, good: Self.good, otherwise: Self.otherwise, quiet: check.quiet,
                                       client: check.client)
            if code != 0 { throw ExitCode(code) }
        }
    }
}

struct IsActive: StateCheck {
    static let configuration = CommandConfiguration(
        commandName: "is-active",
        abstract: "Print whether units are active (active, reloading, inactive, failed, activating, deactivating).",
        discussion: "Exit status: 0 if at least one unit is active or reloading, 3 otherwise (as systemctl).")
    static let good: Set<String> = ["active", "reloading"]
    static let otherwise: Int32 = 3
    @OptionGroup var check: StateCheckOptions
}

struct IsFailed: StateCheck {
    static let configuration = CommandConfiguration(
        commandName: "is-failed",
        abstract: "Print whether units have failed.",
        discussion: "Exit status: 0 if at least one unit is failed, 1 otherwise (as systemctl).")
    static let good: Set<String> = ["failed"]
    static let otherwise: Int32 = 1
    @OptionGroup var check: StateCheckOptions
}

/// Each unit's active state in the order asked; 0 when any is one of `good`, else `otherwise`.
func checkStates(_ units: [String], good: Set<String>, otherwise: Int32, quiet: Bool, client: ClientOptions) throws
    -> Int32
{
    let reply: StatusReply = try client.call(.status(units: units, lines: 0))
    var state: [String: String] = [:]
    for u in reply.units { state[u.unit] = u.active }
    let states = units.map { state[unitName($0)] ?? "inactive" }
    if !quiet {
        if client.output == .json {
            out(JSON.array(zip(units, states).map { .object([("unit", .string($0.0)), ("active", .string($0.1))]) })
                .serialized(pretty: true) + "\n")
        } else {
            out(states.map { $0 + "\n" }.joined())
        }
    }
    return states.contains(where: good.contains) ? 0 : otherwise
}

/// `is-system-running`, as systemctl: the manager's state (`starting`, `running`, `degraded`, `stopping`;
/// `offline` when no manager answers), exit 0 only for `running`, 1 otherwise.
struct IsSystemRunning: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "is-system-running",
        abstract: "Print the manager's state (starting, running, degraded, stopping; offline when none answers).",
        discussion: "Exit status: 0 if running, 1 otherwise (as systemctl). A readiness probe for a container.")
    @Flag(name: .shortAndLong, help: "Print nothing; only the exit status tells.") var quiet = false
    @OptionGroup var client: ClientOptions

    func run() throws {
        let state: String
        do {
            let reply: PingReply = try client.call(.ping)
            state = reply.systemState.isEmpty ? "unknown" : reply.systemState
        } catch {
            state = "offline"
        }
        if !quiet {
            if client.output == .json {
                out(JSON.object([("systemState", .string(state))]).serialized(pretty: true) + "\n")
            } else {
                out(state + "\n")
            }
        }
        if state != "running" { throw ExitCode(1) }
    }
}
