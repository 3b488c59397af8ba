import ArgumentParser
import TendControl

/// `is-active` and `is-failed`, with systemctl's words and exit statuses: each unit's state on a line (a unit
/// that doesn't exist is `inactive`), exit 0 when at least one unit is in the state asked about, otherwise 3
/// (`is-active`, systemd's EXIT_PROGRAM_NOT_RUNNING) or 1 (`is-failed`).
struct IsActive: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "is-active",
        abstract: "Print whether units are active (active, reloading, inactive, failed, activating, deactivating).",
        discussion: "Exit status: 0 if at least one unit is active or reloading, 3 otherwise (as systemctl).")
    @Argument(help: "Units.") var units: [String]
    @Flag(name: .shortAndLong, help: "Print nothing; only the exit status tells.") var quiet = false
    @OptionGroup var client: ClientOptions

    func run() throws {
        try guarded {
            let code = try checkStates(units, good: ["active", "reloading"], otherwise: 3, quiet: quiet, client: client)
            if code != 0 { throw ExitCode(code) }
        }
    }
}

struct IsFailed: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "is-failed",
        abstract: "Print whether units have failed.",
        discussion: "Exit status: 0 if at least one unit is failed, 1 otherwise (as systemctl).")
    @Argument(help: "Units.") var units: [String]
    @Flag(name: .shortAndLong, help: "Print nothing; only the exit status tells.") var quiet = false
    @OptionGroup var client: ClientOptions

    func run() throws {
        try guarded {
            let code = try checkStates(units, good: ["failed"], otherwise: 1, quiet: quiet, client: client)
            if code != 0 { throw ExitCode(code) }
        }
    }
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
