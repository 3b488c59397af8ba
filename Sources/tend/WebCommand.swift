import ArgumentParser
import Glibc
import TendControl
import TendSystem

/// `tend web`: the dashboard, JSON API and /metrics (docs/web.md). They are a separate binary, `tend-web`,
/// found next to `tend` as `tend daemon` finds `tendd`, so the HTTP server (Hummingbird, NIO, Foundation) is
/// linked into neither tend nor the manager. The exec keeps the pid.
struct Web: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the web dashboard, the JSON API and Prometheus metrics over HTTP (see docs/web.md).",
        discussion: """
            Runs the tend-web binary installed next to tend, in the foreground. It talks to the manager only \
            through its control socket. Clients present the token from --token-file (created with a random \
            token, mode 0600, if missing): API clients as 'Authorization: Bearer TOKEN', browsers by logging in.
            """)
    @Option(name: .customLong("listen"), help: "HOST:PORT to listen on (default 127.0.0.1:9800; a non-loopback address needs --token-file).")
    var listen: String?
    @Option(name: .customLong("token-file"), help: "The file holding the access token (default STATE_DIR/web.token).")
    var tokenFile: String?
    @Option(name: .customLong("allow-host"), help: "Another host name the server may be reached by (the Host header); repeatable.")
    var allowHost: [String] = []
    @Option(name: .customLong("state-dir"), help: "The manager's state directory (default: $TEND_STATE_DIR, /run/tend for root, $XDG_RUNTIME_DIR/tend otherwise).")
    var stateDir: String?

    func run() throws {
        var args: [String] = []
        if let listen { args += ["--listen", listen] }
        if let tokenFile { args += ["--token-file", tokenFile] }
        for h in allowHost { args += ["--allow-host", h] }
        if let stateDir { args += ["--state-dir", stateDir] }
        SiblingExec.run(binary: "tend-web", override: "TEND_WEB_BIN", argv: ["tend-web"] + args,
                        missing: "tend web: the web binary 'tend-web' was not found next to tend or on PATH; build it with 'swift build --product tend-web' (with '-c release' for a release build, beside the tend you run), or put tend-web on PATH.")
    }
}

/// Executes a binary that is installed beside this one (or named by an environment variable, or on PATH).
enum SiblingExec {
    static func run(binary: String, override: String, argv: [String], missing: String) -> Never {
        var candidates: [String] = []
        if let d = Posix.environment()[override] { candidates.append(d) }
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        if n > 0 {
            let exe = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            candidates.append(String(exe[..<(exe.lastIndex(of: "/") ?? exe.startIndex)]) + "/" + binary)
        }
        for dir in (Posix.environment()["PATH"] ?? "").split(separator: ":") { candidates.append("\(dir)/\(binary)") }
        guard let path = candidates.first(where: Posix.isExecutable) else {
            printError(missing)
            exit(1)
        }
        let cargs = argv.map { strdup($0) } + [nil]
        execv(path, cargs)
        printError("tend: failed to execute \(path): \(Posix.errorText(errno))")
        exit(1)
    }
}
