import ArgumentParser
import Glibc
import TendModel
import TendSystem

/// `tend exec [OPTIONS] [--] CMD...`: the chain-loading tools of daemontools and runit (`chpst`, `setuidgid`,
/// `envdir`, `softlimit`, `setlock`, `pgrphack`) in one binary. The process state is changed in place and CMD
/// is exec'd with the same pid (no fork), as chpst does, so a `run` script's `exec tend exec ... -- daemon`
/// leaves the supervisor watching the daemon itself. The steps run in chpst's order: new session, envdir,
/// chroot, nice, umask, $UID/$GID, user and groups, lock, closing stdio, limits, exec. The exit codes are
/// chpst's: 100 for a usage error, 111 when a step fails (the message names it); otherwise CMD's own.
struct ChainExec: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Change the process state and exec a command, like chpst, setuidgid, envdir, softlimit, setlock and pgrphack.",
        discussion: """
            Sets everything up in this process, then replaces it with CMD (same pid, no fork), as runit's chpst \
            does; meant for daemontools and runit `run` scripts: `exec tend exec --user www --env-dir ./env \
            -- httpd -f`. The `--` is optional: the first word that is not an option starts CMD.
            Limits set the soft limit only, lowered to the hard limit if above it; a value is a number (with an \
            optional K, M, G or T binary suffix) or `=` (also `unlimited`) for the hard limit. The options \
            naming one resource win over --limit-mem.
            Exit status: 100 for a usage error, 111 when a step fails or CMD cannot be run (chpst's codes); \
            otherwise CMD's own.
            """)

    @Option(help: ArgumentHelp("setuidgid/chpst -u: run as USER, with its primary group and the groups it is a member of; USER:GROUP[:GROUP...] sets exactly these groups instead (the first is the primary); :UID:GID[:GID...] takes numbers, not looked up.", valueName: "user[:group]"))
    var user: String?

    @Option(name: .customLong("env-user"), help: ArgumentHelp("envuidgid/chpst -U: set $UID and $GID to the account's ids (same forms as --user).", valueName: "user[:group]"))
    var envUser: String?

    @Option(name: .customLong("env-dir"), help: ArgumentHelp("envdir/chpst -e: each file in DIR sets the variable of its name to its first line (trailing spaces and tabs removed, NULs become newlines); an empty file removes it.", valueName: "dir"), completion: .directory)
    var envDir: String?

    @Option(name: .customLong("limit-mem"), help: ArgumentHelp("softlimit -m, chpst -m: the data, stack, locked-memory and address-space limits at once, in bytes.", valueName: "bytes"))
    var limitMem: String?
    @Option(name: .customLong("limit-as"), help: ArgumentHelp("softlimit -a: the address space (RLIMIT_AS), in bytes.", valueName: "bytes"))
    var limitAs: String?
    @Option(name: .customLong("limit-data"), help: ArgumentHelp("softlimit -d, chpst -d: the data segment (RLIMIT_DATA), in bytes.", valueName: "bytes"))
    var limitData: String?
    @Option(name: .customLong("limit-stack"), help: ArgumentHelp("softlimit -s: the stack (RLIMIT_STACK), in bytes.", valueName: "bytes"))
    var limitStack: String?
    @Option(name: .customLong("limit-memlock"), help: ArgumentHelp("softlimit -l: locked memory (RLIMIT_MEMLOCK), in bytes.", valueName: "bytes"))
    var limitMemlock: String?
    @Option(name: .customLong("limit-nofile"), help: ArgumentHelp("softlimit -o, chpst -o: open files (RLIMIT_NOFILE).", valueName: "n"))
    var limitNofile: String?
    @Option(name: .customLong("limit-nproc"), help: ArgumentHelp("softlimit -p, chpst -p: processes of the user (RLIMIT_NPROC).", valueName: "n"))
    var limitNproc: String?
    @Option(name: .customLong("limit-fsize"), help: ArgumentHelp("softlimit -f, chpst -f: the size of a written file (RLIMIT_FSIZE), in bytes.", valueName: "bytes"))
    var limitFsize: String?
    @Option(name: .customLong("limit-core"), help: ArgumentHelp("softlimit -c, chpst -c: core files (RLIMIT_CORE), in bytes.", valueName: "bytes"))
    var limitCore: String?
    @Option(name: .customLong("limit-rss"), help: ArgumentHelp("softlimit -r: the resident set (RLIMIT_RSS), in bytes.", valueName: "bytes"))
    var limitRss: String?
    @Option(name: .customLong("limit-cpu"), help: ArgumentHelp("softlimit -t, chpst -t: CPU time (RLIMIT_CPU), in seconds.", valueName: "seconds"))
    var limitCpu: String?

    @Option(help: ArgumentHelp("setlock, chpst -l: open FILE for writing (created, mode 0600) and hold an exclusive flock(2) on it for CMD's lifetime, waiting while another process holds it.", valueName: "file"), completion: .file())
    var lock: String?
    @Flag(name: .customLong("lock-nowait"), help: "setlock -n, chpst -L: fail at once (111) when the lock is held.")
    var lockNowait = false

    @Flag(name: [.customLong("pgrphack"), .customLong("new-session")], help: "pgrphack, chpst -P: run CMD in a new session and process group (setsid).")
    var newSession = false

    @Option(help: ArgumentHelp("chpst -n: add INC (may start with - or +) to the niceness.", valueName: "inc"))
    var nice: String?

    @Option(help: ArgumentHelp("Set the file mode creation mask (octal, e.g. 022).", valueName: "mask"))
    var umask: String?

    @Option(help: ArgumentHelp("chpst -/: change the root directory to DIR (after --env-dir is read, before the user is looked up).", valueName: "dir"), completion: .directory)
    var chroot: String?

    @Option(help: ArgumentHelp("chpst -b: run CMD with NAME as its argv[0].", valueName: "name"))
    var argv0: String?

    @Flag(name: .customLong("close-stdin"), help: "chpst -0: close standard input before running CMD.") var closeStdin = false
    @Flag(name: .customLong("close-stdout"), help: "chpst -1: close standard output before running CMD.") var closeStdout = false
    @Flag(name: .customLong("close-stderr"), help: "chpst -2: close standard error before running CMD.") var closeStderr = false

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command and its arguments (found on $PATH as set after --env-dir).", valueName: "cmd"))
    var command: [String] = []

    /// The options that take a value, for splitting the command line (`ChainExec.split`); any other word that
    /// starts with a dash is a flag or unknown. (A test checks this against the options declared above.)
    static let valueNames: Set<String> = [
        "--user", "--env-user", "--env-dir", "--limit-mem", "--limit-as", "--limit-data", "--limit-stack",
        "--limit-memlock", "--limit-nofile", "--limit-nproc", "--limit-fsize", "--limit-core", "--limit-rss",
        "--limit-cpu", "--lock", "--nice", "--umask", "--chroot", "--argv0",
    ]

    mutating func validate() throws {
        if command.isEmpty { throw ValidationError("Missing the command to run (tend exec [OPTIONS] -- CMD...).") }
        if lockNowait && lock == nil { throw ValidationError("--lock-nowait needs --lock FILE.") }
        for (name, value) in limitOptions() where ChainLoading.limit(value) == nil {
            throw ValidationError("--\(name) \(value): not a limit (a number, optionally with K, M, G or T, or '=' for the hard limit).")
        }
        if let n = nice, ChainLoading.niceIncrement(n) == nil {
            throw ValidationError("--nice \(n): not a niceness increment (an integer from -40 to 40, may start with - or +).")
        }
        if let m = umask, ChainLoading.umask(m) == nil { throw ValidationError("--umask \(m): not an octal mask from 0 to 0777.") }
        for (name, value) in [("user", user), ("env-user", envUser)] {
            if let v = value, ChainLoading.account(v) == nil {
                throw ValidationError("--\(name) \(v): not USER, USER:GROUP[:GROUP...] or :UID:GID[:GID...].")
            }
        }
    }

    /// The limit options given, by option name, in the order they are applied (chpst's).
    func limitOptions() -> [(String, String)] {
        let all: [(String, String?)] = [
            ("limit-mem", limitMem), ("limit-data", limitData), ("limit-stack", limitStack), ("limit-memlock", limitMemlock),
            ("limit-as", limitAs), ("limit-nofile", limitNofile), ("limit-nproc", limitNproc), ("limit-fsize", limitFsize),
            ("limit-core", limitCore), ("limit-rss", limitRss), ("limit-cpu", limitCpu),
        ]
        return all.compactMap { name, value in value.map { (name, $0) } }
    }

    func run() throws {
        execute()
    }

    // MARK: Entry

    /// `tend exec ...` from `main`, before the rest of the CLI sees the line: the command's words are passed
    /// on untouched (no global option is taken out of them), and a usage error exits 100 as chpst's does.
    static func runCommandLine(_ args: [String]) -> Never {
        do {
            var command = try parse(split(args))
            try command.validate()
            command.execute()
        } catch {
            if exitCode(for: error) == .success { exit(withError: error) }  // --help
            printError("tend exec: " + message(for: error))
            printError("Usage: tend " + usageString() + "\nSee 'tend exec --help'.")
            Glibc.exit(100)
        }
    }

    /// The options, each with its value attached (`--nice=-5`: a value may start with a dash), then `--`, then
    /// the command: the first word that is neither an option nor an option's value, or all after `--`.
    static func split(_ args: [String]) -> [String] {
        var options: [String] = []
        var i = 0
        while i < args.count {
            let a = args[i]
            if a == "--" { return options + args[i...] }
            guard a.hasPrefix("-"), a.count > 1 else { break }
            if !valueNames.contains(a) || i + 1 == args.count {
                options.append(a)
                i += 1
            } else {
                options.append(a + "=" + args[i + 1])
                i += 2
            }
        }
        return options + ["--"] + args[i...]
    }

    // MARK: The steps

    /// chpst's fatal error: the failing step on stderr, exit 111.
    func fatal(_ step: String, errno err: Int32? = nil) -> Never {
        printError("tend exec: fatal: \(step)" + (err.map { ": " + Posix.errorText($0) } ?? ""))
        Glibc.exit(111)
    }

    func execute() -> Never {
        // pgrphack: fails only when already a session leader, which chpst and pgrphack ignore too.
        if newSession { _ = setsid() }
        if let dir = envDir { applyEnvDir(dir) }
        if let root = chroot {
            if chdir(root) != 0 { fatal("unable to change directory to \(root)", errno: errno) }
            if Glibc.chroot(".") != 0 { fatal("unable to change root directory to \(root)", errno: errno) }
        }
        if let n = nice.flatMap(ChainLoading.niceIncrement), n != 0 {
            errno = 0
            if Glibc.nice(n) == -1 && errno != 0 { fatal("unable to set nice level \(n)", errno: errno) }
        }
        if let m = umask.flatMap(ChainLoading.umask) { _ = Glibc.umask(mode_t(m)) }
        if let spec = envUser {
            let ids = resolve(spec, option: "--env-user")
            setenv("GID", String(ids.gids.first ?? ids.primary), 1)
            setenv("UID", String(ids.uid), 1)
        }
        if let spec = user { switchUser(spec) }
        if let file = lock { takeLock(file) }
        for (fd, flag, name) in [(Int32(0), closeStdin, "stdin"), (1, closeStdout, "stdout"), (2, closeStderr, "stderr")] where flag {
            if Glibc.close(fd) != 0 { fatal("unable to close \(name)", errno: errno) }
        }
        applyLimits()
        var argv = command
        if let name = argv0 { argv[0] = name }
        let cargs = argv.map { strdup($0) } + [nil]
        execvp(command[0], cargs)
        let err = errno
        // Standard error may be closed by now (--close-stderr): the exit status still says it.
        fatal("unable to run \(command[0])", errno: err)
    }

    /// envdir: one variable per file of `dir`, read before chroot and before the user changes (as chpst).
    func applyEnvDir(_ dir: String) {
        guard let d = opendir(dir) else { fatal("unable to open environment directory \(dir)", errno: errno) }
        defer { closedir(d) }
        while true {
            errno = 0
            guard let entry = readdir(d) else {
                if errno != 0 { fatal("unable to read environment directory \(dir)", errno: errno) }
                break
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            switch ChainLoading.envDirName(name) {
            case .skipped: continue
            case .invalid: fatal("unable to set a variable from \(dir)/\(name): a variable's name cannot contain '='")
            case .variable: break
            }
            guard let content = readFirstLine(dir + "/" + name) else { continue }  // a directory, skipped as chpst -e
            if let value = ChainLoading.envDirValue(content) {
                var v = value.map { CChar(bitPattern: $0) }
                v.append(0)
                if setenv(name, v, 1) != 0 { fatal("unable to set \(name) from \(dir)/\(name)", errno: errno) }
            } else if unsetenv(name) != 0 {
                fatal("unable to remove \(name) (empty \(dir)/\(name))", errno: errno)
            }
        }
    }

    /// A file's bytes up to and including its first newline (all of it without one), or nil for a directory.
    func readFirstLine(_ path: String) -> [UInt8]? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { fatal("unable to read \(path)", errno: errno) }
        defer { _ = Glibc.close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EISDIR { return nil }
                fatal("unable to read \(path)", errno: errno)
            }
            if n == 0 { return out }
            out += chunk[0..<n]
            if chunk[0..<n].contains(UInt8(ascii: "\n")) { return out }
            if out.count > 1 << 20 { fatal("unable to read \(path): its first line is longer than 1 MiB") }
        }
    }

    /// The ids an account argument names, looked up now (after chroot: in the new root's databases, as chpst).
    func resolve(_ spec: String, option: String) -> (uid: uid_t, primary: gid_t, gids: [gid_t], name: String?) {
        switch ChainLoading.account(spec) {
        case .ids(let uid, let gids):
            return (uid, gids[0], gids, nil)
        case .names(let userName, let groups):
            errno = 0
            guard let pw = Posix.user(named: userName) else {
                fatal("unknown account \(userName) (\(option))" + (errno != 0 && errno != ENOENT ? ": " + Posix.errorText(errno) : ""))
            }
            var gids: [gid_t] = []
            for g in groups {
                guard let gid = Posix.group(named: g) else { fatal("unknown group \(g) (\(option) \(spec))") }
                gids.append(gid)
            }
            return (pw.uid, gids.first ?? pw.gid, gids, pw.name)
        case nil:
            fatal("invalid account \(spec) (\(option))")  // refused by validate() already
        }
    }

    /// setuidgid: groups first (initgroups for a bare user, exactly the named groups otherwise), then the gid,
    /// then the uid.
    func switchUser(_ spec: String) {
        let ids = resolve(spec, option: "--user")
        if ids.gids.isEmpty, let name = ids.name {
            if initgroups(name, ids.primary) != 0 { fatal("unable to set the groups of \(name) (initgroups)", errno: errno) }
        } else if setgroups(ids.gids.count, ids.gids) != 0 {
            fatal("unable to set groups \(ids.gids.map(String.init).joined(separator: ",")) (setgroups)", errno: errno)
        }
        if setgid(ids.primary) != 0 { fatal("unable to set gid \(ids.primary)", errno: errno) }
        if setuid(ids.uid) != 0 { fatal("unable to set uid \(ids.uid)", errno: errno) }
    }

    /// setlock: the descriptor stays open (and locked) across the exec, so the lock lives as long as CMD.
    func takeLock(_ file: String) {
        let fd = Glibc.open(file, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK, 0o600)
        if fd < 0 { fatal("unable to open lock \(file)", errno: errno) }
        while flock(fd, LOCK_EX | (lockNowait ? LOCK_NB : 0)) != 0 {
            if errno == EINTR { continue }
            fatal("unable to lock \(file)" + (errno == EWOULDBLOCK ? " (held by another process)" : ""), errno: errno)
        }
    }

    /// softlimit: each soft limit set, lowered to the hard limit when above it; `=` is the hard limit.
    func applyLimits() {
        var wanted: [(ResourceLimit, String, ChainLoading.Limit)] = []
        func add(_ resource: ResourceLimit, _ name: String, _ value: String?) {
            guard let v = value.flatMap(ChainLoading.limit) else { return }
            wanted.removeAll { $0.0 == resource }
            wanted.append((resource, name, v))
        }
        for r in [ResourceLimit.data, .stack, .memlock, .as] { add(r, "--limit-mem", limitMem) }
        add(.data, "--limit-data", limitData)
        add(.stack, "--limit-stack", limitStack)
        add(.memlock, "--limit-memlock", limitMemlock)
        add(.as, "--limit-as", limitAs)
        add(.nofile, "--limit-nofile", limitNofile)
        add(.nproc, "--limit-nproc", limitNproc)
        add(.fsize, "--limit-fsize", limitFsize)
        add(.core, "--limit-core", limitCore)
        add(.rss, "--limit-rss", limitRss)
        add(.cpu, "--limit-cpu", limitCpu)
        for (limit, name, value) in wanted {
            let resource = __rlimit_resource_t(UInt32(Spawner.resourceNumber(limit)))
            var rl = rlimit()
            if getrlimit(resource, &rl) != 0 { fatal("unable to read the limit for \(name) (getrlimit)", errno: errno) }
            switch value {
            case .hard: rl.rlim_cur = rl.rlim_max
            case .value(let n): rl.rlim_cur = min(rlim_t(n), rl.rlim_max)  // RLIM_INFINITY is the largest value
            }
            if setrlimit(resource, &rl) != 0 { fatal("unable to set the limit for \(name) (setrlimit)", errno: errno) }
        }
    }
}
