import ArgumentParser
import TendControl
import TendFormat
import TendModel
import TendSystem

/// `tend watch`: the manager's events as they happen, one line each (written through, so a pipe sees each
/// line at once), until interrupted or the manager goes away.
struct Watch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print unit state changes and job results as they happen (all units, or the ones named).",
        discussion: """
            One line per event; with --output json, the protocol's event objects (docs/control-protocol.md). \
            Runs until interrupted; exits 0 when the manager closes the stream (it stopped), 1 if it can't be \
            reached.
            """)
    @Argument(help: "Units to watch (NAME means NAME.service; all units when none is named).", completion: .unitNames)
    var units: [String] = []
    @Flag(name: .long, help: "Also print every log record the units write, as it is captured.") var logs = false
    @OptionGroup var client: ClientOptions

    func run() throws {
        try guarded {
            let connection = try ControlClient(stateDir: client.stateDir ?? Defaults.stateDir)
            _ = try connection.subscribe(units: units, logs: logs)
            while let event = try connection.nextEvent() {
                out((client.output == .json ? event.json.serialized() : EventText.render(event)) + "\n")
            }
        }
    }
}
