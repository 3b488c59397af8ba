import Glibc
import TendSystem

/// `tend -H [USER@]HOST COMMAND ...`, as `systemctl -H`: runs `tend COMMAND ...` on that host over OpenSSH.
/// The arguments go through unchanged (each quoted for the remote shell), so `-o json` and the exit status
/// arrive intact; ssh's own failures exit 255. `TEND_SSH` replaces the ssh command (for example
/// `ssh -p 2222 -i KEY`), `TEND_REMOTE_COMMAND` the remote `tend`.
enum Remote {
    /// The host and the rest of the line when the line starts with -H/--host, else nil.
    static func split(_ args: [String]) -> (host: String, rest: [String])? {
        guard let first = args.first else { return nil }
        if first == "-H" || first == "--host" {
            guard args.count >= 2 else { return ("", []) }
            return (args[1], Array(args.dropFirst(2)))
        }
        if first.hasPrefix("--host=") { return (String(first.dropFirst(7)), Array(args.dropFirst())) }
        if first.hasPrefix("-H"), first.count > 2 { return (String(first.dropFirst(2)), Array(args.dropFirst())) }
        return nil
    }

    /// Single-quoted for a POSIX shell.
    static func quote(_ s: String) -> String {
        if !s.isEmpty, s.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_./=:@,+%".contains($0)) }) { return s }
        return "'" + s.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
    }

    static func run(host: String, _ rest: [String]) -> Never {
        guard !host.isEmpty, !host.hasPrefix("-") else {
            printError("tend: -H takes [USER@]HOST, for example 'tend -H root@example.org status'.")
            exit(64)
        }
        guard !rest.isEmpty else {
            printError("tend: -H \(host) needs a command to run there, for example 'tend -H \(host) status'.")
            exit(64)
        }
        let env = Posix.environment()
        let ssh = (env["TEND_SSH"] ?? "ssh").split(separator: " ").map(String.init)
        let remote = env["TEND_REMOTE_COMMAND"] ?? "tend"
        let command = ([remote] + rest).map(quote).joined(separator: " ")
        let argv = ssh + ["-o", "BatchMode=yes", "--", host, command]
        let cargs = argv.map { strdup($0) } + [nil]
        execvp(argv[0], cargs)
        printError("tend: failed to execute \(argv[0]): \(Posix.errorText(errno))")
        exit(1)
    }
}
