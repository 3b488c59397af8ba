import Glibc
import Hummingbird
import TendControl
import TendSystem

// tend-web: the HTTP API, dashboard and metrics (docs/web.md). `tend web` execs it; it reaches the manager only
// through the control socket (TendControl) and reads logs from the files as `tend logs` does.

let options: WebOptions
do {
    options = try WebOptions(arguments: Array(CommandLine.arguments.dropFirst()))
} catch {
    printError("tend web: \(error.message)")
    exit(error.exitCode)
}
if options.help {
    print(WebOptions.usage)
    exit(0)
}
let token: String
do {
    token = try TokenFile.load(options.tokenFile)
} catch {
    printError("tend web: \(error.message)")
    exit(1)
}
signal(SIGPIPE, SIG_IGN)
// SIGTERM and SIGINT end the process at once: it holds no state worth a graceful shutdown, and Hummingbird's
// would wait for every open event stream to end. Jobs already sent go on in the manager.
signal(SIGTERM) { _ in _exit(0) }
signal(SIGINT) { _ in _exit(0) }

let web = WebServer(options: options, token: token)
let app = Application(
    router: web.router(),
    configuration: .init(address: .hostname(options.host, port: options.port), serverName: nil),
    onServerRunning: { channel in
        let port = channel.localAddress?.port ?? options.port
        // The line tests and scripts wait for (with port 0 the kernel's choice).
        _ = try? Posix.write(1, Array("tend web: listening on http://\(options.hostForURL):\(port)/ (token in \(options.tokenFile))\n".utf8))
    },
    logger: quietLogger())
do {
    try await app.runService(gracefulShutdownSignals: [])
} catch {
    printError("tend web: \(error)")
    exit(1)
}
