import ArgumentParser
import TendControl
import TendFormat

extension AnalyzeCommand {
    struct Security: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What isolation a service really gets here: each sandbox setting, applied or not, and why.",
            discussion: """
                Asks the manager, which knows what its environment allows (root, mount and network namespaces, \
                capabilities, seccomp): a setting the unit asks for that can't be applied here is marked ✗ with \
                the reason, as `tend status` (Sandbox:) and `tend show -p SandboxNotApplied` say it.
                """)
        @Argument(help: "The service.", completion: .unitNames) var unit: String
        @OptionGroup var client: ClientOptions
        func run() throws {
            try guarded {
                let reply: ShowReply = try client.call(.show(units: [unit]))
                guard let props = reply.units.first else { throw CLIError(.unitNotFound, "Unit \(unit) not found.") }
                let pairs = props.map { ($0.name, $0.value) }
                let name = pairs.first { $0.0 == "Id" }?.1 ?? unit
                let rows = AnalyzeSecurity.rows(pairs)
                if client.output == .json {
                    out(JSON.array(rows.map {
                        .object([("setting", .string($0.setting)), ("value", .string($0.value)),
                                 ("state", .string($0.state.rawValue)), ("note", .string($0.note))])
                    }).serialized(pretty: true) + "\n")
                } else {
                    out(AnalyzeSecurity.text(unit: name, rows))
                }
            }
        }
    }
}
