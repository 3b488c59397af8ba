import Glibc
import TendSystem

/// What systemctl does on a terminal: colour (unless `--no-color`, `NO_COLOR` or `TERM=dumb`) and a pager for
/// long output (unless `--no-pager`, or `SYSTEMD_PAGER`/`PAGER` is empty or `cat`).
enum Terminal {
    /// Set by the commands' `--no-color` and `--no-pager` flags, and by the global ones before the command.
    nonisolated(unsafe) static var noColor = false
    nonisolated(unsafe) static var noPager = false
    nonisolated(unsafe) private static var pagerPID: pid_t = 0

    static var isTTY: Bool { isatty(1) == 1 }

    /// Whether to colour standard output.
    /// Ask before `startPager`, which makes standard output a pipe (the pager gets `LESS=…R` for colours).
    static var color: Bool {
        let env = Posix.environment()
        if noColor || env["NO_COLOR"].map({ !$0.isEmpty }) == true || env["TERM"] == "dumb" { return false }
        if let forced = env["SYSTEMD_COLORS"] { return ["1", "yes", "true", "on", "16", "256", "24bit"].contains(forced) }
        return isTTY
    }

    /// Pipes standard output through a pager when it is a terminal: `$SYSTEMD_PAGER`, `$PAGER`, else `less`
    /// (with `LESS=FRSXMK` unless set, as systemd: quit when it fits one screen, keep colours, no init).
    /// The pager is waited for when the process exits.
    static func startPager() {
        guard !noPager, pagerPID == 0, isTTY else { return }
        let env = Posix.environment()
        let command = env["TEND_PAGER"] ?? env["SYSTEMD_PAGER"] ?? env["PAGER"] ?? "less"
        if command.isEmpty || command == "cat" { return }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return }
        let words: [String] = ["/bin/sh", "-c", command]
        let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
        let pid = fork()
        if pid < 0 {
            close(fds[0])
            close(fds[1])
            return
        }
        if pid == 0 {
            dup2(fds[0], 0)
            close(fds[0])
            close(fds[1])
            if getenv("LESS") == nil { setenv("LESS", env["SYSTEMD_LESS"] ?? "FRSXMK", 1) }
            execv("/bin/sh", argv)
            _exit(127)
        }
        dup2(fds[1], 1)
        close(fds[0])
        close(fds[1])
        pagerPID = pid
        signal(SIGPIPE, SIG_IGN)  // a pager quit early: writes fail quietly
        atexit {
            close(1)
            var status: Int32 = 0
            while waitpid(Terminal.pagerPID, &status, 0) < 0 && errno == EINTR {}
        }
    }

    // MARK: Colours (systemd's ANSI_HIGHLIGHT_* sequences)

    static func green(_ s: String) -> String { color ? "\u{1B}[0;1;32m" + s + "\u{1B}[0m" : s }
    static func red(_ s: String) -> String { color ? "\u{1B}[0;1;31m" + s + "\u{1B}[0m" : s }
}

/// systemctl takes its options anywhere: `--no-pager` and `--no-color` are taken out wherever they stand
/// (before a `--`) and set `Terminal`'s flags; `-o FORMAT`, `--output`, `--state-dir` and `-l`/`--full` given
/// before the command (`tend -o json status`) are moved after it, where the command's parser finds them.
func takingGlobalOptions(_ args: [String]) -> [String] {
    var rest: [String] = []
    for (i, a) in args.enumerated() {
        if a == "--" {
            rest += args[i...]
            break
        }
        if a == "--no-pager" { Terminal.noPager = true } else if a == "--no-color" { Terminal.noColor = true } else {
            rest.append(a)
        }
    }
    var globals: [String] = []
    var i = 0
    while i < rest.count, rest[i].hasPrefix("-") {
        let a = rest[i]
        if a == "-l" || a == "--full" {
            globals.append(a)
        } else if ["-o", "--output", "--state-dir"].contains(a), i + 1 < rest.count {
            globals += [a, rest[i + 1]]
            i += 1
        } else if a.hasPrefix("--output=") || a.hasPrefix("--state-dir=") || (a.hasPrefix("-o") && a.count > 2) {
            globals.append(a)
        } else {
            return rest  // --help, --version: the root command answers them itself
        }
        i += 1
    }
    guard !globals.isEmpty, i < rest.count else { return rest }
    // `-l`/`--full` mean something to status only (tend never ellipsizes): dropped for the other commands.
    let command = rest[i]
    let kept = command == "status" ? globals : globals.filter { $0 != "-l" && $0 != "--full" }
    return [command] + kept + rest[(i + 1)...]
}
