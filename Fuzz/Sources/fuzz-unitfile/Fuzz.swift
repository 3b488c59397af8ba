// Whole unit files and drop-ins (systemd.syntax(7), systemd.unit(5), systemd.service(5)): lines, continuations,
// sections, every directive's value parser, then the checks made once all files are applied, as the loader does.
// Each input is read as a plain service, a template instance (the specifiers differ) and a target (other
// sections), then the commands it declares are expanded as at spawn time.
@testable import TendModel

let context = SpecifierContext(
    userName: "alice", uid: 1000, home: "/home/alice", runtimeDir: "/run/user/1000",
    stateDir: "/home/alice/.local/state", cacheDir: "/home/alice/.cache", logsDir: "/home/alice/.local/state/log",
    configDir: "/home/alice/.config", hostName: "box.example.org")
let names = ["web.service", "getty@tty\\x2d1.service", "app.target"].map { UnitName(parsing: $0)! }
let environment = ["A": "1 2", "TERM": "linux", "MAINPID": "42"]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    // Real units are a few KiB; the size cap itself is a unit test, not worth the fuzzer's time.
    let text = String(decoding: UnsafeBufferPointer(start: data, count: min(size, 256 << 10)), as: UTF8.self)
    for name in names {
        var config = ServiceConfig(name: name)
        config.fragmentPath = "/etc/tend/\(name)"
        var diagnostics: [Diagnostic] = []
        parseUnitText(text, file: "/etc/tend/\(name)", into: &config, context: context, diagnostics: &diagnostics)
        // The same text again, as a drop-in over the first: lists extend, an empty assignment resets.
        parseUnitText(text, file: "/etc/tend/\(name).d/x.conf", into: &config, context: context, diagnostics: &diagnostics)
        finalizeServiceConfig(&config)
        diagnostics += validateServiceConfig(config, file: "/etc/tend/\(name)")
        for d in diagnostics { _ = d.description }
        let commands = config.execCondition + config.execStartPre + config.execStart + config.execStartPost
            + config.execReload + config.execStop + config.execStopPost
        for command in commands { _ = command.argv(environment: environment) }
    }
    return 0
}
