import Glibc
import TendControl
import TendSystem

/// A failure to start, with its message and exit status.
struct StartError: Error {
    var message: String
    var exitCode: Int32 = 1
    init(_ message: String, exitCode: Int32 = 1) {
        self.message = message
        self.exitCode = exitCode
    }
}

/// `tend web [--listen HOST:PORT] [--token-file FILE] [--state-dir DIR] [--allow-host NAME]...`
struct WebOptions: Sendable {
    var host = "127.0.0.1"
    var port = 9800
    var tokenFile: String
    var tokenFileGiven = false
    var stateDir: String
    var allowedHosts: [String] = []
    var help = false

    static let usage = """
        Usage: tend web [--listen HOST:PORT] [--token-file FILE] [--state-dir DIR] [--allow-host NAME]...

        Serves the dashboard, the JSON API (/api/v1), and /metrics for the manager at --state-dir.
          --listen HOST:PORT   Address to listen on (default 127.0.0.1:9800; port 0 picks a free one).
                               A non-loopback address needs --token-file.
          --token-file FILE    The secret clients present (created with a random token, mode 0600, if missing;
                               default STATE_DIR/web.token).
          --state-dir DIR      The manager's state directory (default: $TEND_STATE_DIR, /run/tend for root, ...).
          --allow-host NAME    Another name the server may be reached by (the Host header), repeatable.
        """

    init(arguments: [String]) throws(StartError) {
        var listen: String?
        var tokenFile: String?
        var stateDir: String?
        var i = 0
        func value(_ name: String) throws(StartError) -> String {
            i += 1
            guard i < arguments.count else { throw StartError("\(name) needs a value.", exitCode: 64) }
            return arguments[i]
        }
        while i < arguments.count {
            var a = arguments[i]
            var attached: String?
            if a.hasPrefix("--"), let eq = a.firstIndex(of: "=") {
                attached = String(a[a.index(after: eq)...])
                a = String(a[..<eq])
            }
            func v() throws(StartError) -> String {
                if let attached { return attached }
                return try value(a)
            }
            switch a {
            case "--listen": listen = try v()
            case "--token-file": tokenFile = try v()
            case "--state-dir": stateDir = try v()
            case "--allow-host": allowedHosts.append(try v().lowercased())
            case "-h", "--help": help = true
            default: throw StartError("unknown option '\(a)'.\n\(Self.usage)", exitCode: 64)
            }
            i += 1
        }
        self.stateDir = stateDir ?? Defaults.stateDir
        self.tokenFile = tokenFile ?? (self.stateDir + "/web.token")
        tokenFileGiven = tokenFile != nil
        if let listen {
            guard let (h, p) = Self.parseListen(listen) else {
                throw StartError("--listen takes HOST:PORT (for example 127.0.0.1:9800 or [::1]:9800), not '\(listen)'.", exitCode: 64)
            }
            (host, port) = (h, p)
        }
        if !Self.isLoopback(host) && !tokenFileGiven {
            throw StartError("refusing to listen on \(host), which is not a loopback address, without --token-file: anyone who can reach it could control the services.", exitCode: 64)
        }
    }

    /// `HOST:PORT`, `[V6]:PORT`; the port 0–65535, parsed without overflow.
    static func parseListen(_ s: String) -> (String, Int)? {
        let host: Substring
        let portText: Substring
        if s.hasPrefix("[") {
            guard let close = s.firstIndex(of: "]"), s[s.index(after: close)...].hasPrefix(":") else { return nil }
            host = s[s.index(after: s.startIndex)..<close]
            portText = s[s.index(close, offsetBy: 2)...]
        } else {
            guard let colon = s.lastIndex(of: ":") else { return nil }
            host = s[..<colon]
            portText = s[s.index(after: colon)...]
        }
        guard !host.isEmpty, !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
            let port = Int(portText), port <= 65535
        else { return nil }
        return (String(host), port)
    }

    static func isLoopback(_ host: String) -> Bool {
        let h = host.lowercased()
        if h == "localhost" || h == "::1" { return true }
        let parts = h.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { p in p.count <= 3 && UInt8(p) != nil }
    }

    var hostForURL: String { host.contains(":") ? "[\(host)]" : host }

    /// The names the Host header may carry: the address listened on, the loopback names when it is loopback,
    /// and --allow-host. Anything else is a DNS-rebinding attempt (or a misconfiguration) and gets 403.
    var acceptedHostNames: Set<String> {
        var s = Set(allowedHosts)
        s.insert(host.lowercased())
        if Self.isLoopback(host) { s.formUnion(["localhost", "127.0.0.1", "::1"]) }
        return s
    }
}

func printError(_ s: String) {
    _ = try? Posix.write(2, Array((s.hasSuffix("\n") ? s : s + "\n").utf8))
}
