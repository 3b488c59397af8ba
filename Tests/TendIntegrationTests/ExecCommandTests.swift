import Glibc
import Testing
import TendControl
import TendModel
import TendSystem

/// `tend exec`, the built binary run as a child: what the process it exec'd really had (ids and groups, the
/// environment, limits, umask, niceness, session, argv[0], the lock), the exit codes of its failures, and the
/// same options given to the real runit `chpst` and daemontools tools, whose results must be the same.
@Suite struct TendExecTests {
    static let isRoot = getuid() == 0
    static let chpst = "/usr/bin/chpst"
    static let hasChpst = Posix.isExecutable(chpst)
    static let hasDaemontools = ["envdir", "setuidgid", "softlimit", "setlock", "pgrphack"]
        .allSatisfy { Posix.isExecutable("/usr/bin/" + $0) }
    static let hasFlock = Posix.isExecutable("/usr/bin/flock")

    /// A scratch directory, removed when the test ends.
    final class Scratch {
        let dir: String
        init() {
            var template = Array("/tmp/tend-exec-XXXXXX".utf8CString)
            dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
            _ = chmod(dir, 0o755)  // readable by nobody
        }
        deinit { _ = runCommand(["/bin/rm", "-rf", dir]) }
        func write(_ name: String, _ bytes: [UInt8]) {
            let fd = Glibc.open(dir + "/" + name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            precondition(fd >= 0, "cannot write \(name)")
            _ = try? Posix.write(fd, bytes)
            Posix.close(fd)
        }
        func exists(_ name: String) -> Bool { access(dir + "/" + name, F_OK) == 0 }
    }

    func exec(_ args: [String], environment: [String: String] = [:]) -> CommandResult {
        runCommand([tendBinary, "exec"] + args, environment: environment, timeout: 20)
    }

    func lines(_ s: String) -> [String] { s.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty } }

    // MARK: setuidgid

    @Test(.enabled(if: isRoot, "switching users needs root"))
    func userTakesTheAccountsIdsAndGroups() throws {
        let nobody = try #require(Posix.user(named: "nobody"), "no user nobody on this machine")
        let r = exec(["--user", "nobody", "--", "/bin/sh", "-c", "id -u; id -g; id -G"])
        #expect(r.status == 0, "\(r.stderr)")
        let expectedGroups = Set(Posix.groups(ofUser: "nobody", primary: nobody.gid).map(String.init))
        let out = lines(r.stdout)
        #expect(out.count == 3)
        #expect(out.first == String(nobody.uid))
        #expect(out.dropFirst().first == String(nobody.gid))
        #expect(Set((out.last ?? "").split(separator: " ").map(String.init)) == expectedGroups)
        // Root's own supplementary groups are gone (initgroups replaced them).
        #expect(!(out.last ?? "").split(separator: " ").contains("0") || nobody.gid == 0)

        // USER:GROUP:GROUP: exactly these groups, the first the primary.
        let daemonGid = try #require(Posix.group(named: "daemon"), "no group daemon")
        let admGid = try #require(Posix.group(named: "adm"), "no group adm")
        let g = exec(["--user", "nobody:daemon:adm", "/bin/sh", "-c", "id -u; id -g; id -G"])
        #expect(g.status == 0, "\(g.stderr)")
        #expect(lines(g.stdout) == [String(nobody.uid), String(daemonGid), "\(daemonGid) \(admGid)"])
        // :UID:GID, numbers not looked up (an id no account has).
        let n = exec(["--user", ":4242:4343:4444", "/bin/sh", "-c", "id -u; id -g; id -G"])
        #expect(lines(n.stdout) == ["4242", "4343", "4343 4444"], "\(n.stderr)")
        // --env-user only sets $UID and $GID.
        let e = exec(["--env-user", "nobody:daemon", "/bin/sh", "-c", "echo $UID $GID; id -u"])
        #expect(lines(e.stdout) == ["\(nobody.uid) \(daemonGid)", "0"], "\(e.stderr)")
    }

    @Test func aBadUserOrGroupIsAFailedStep() {
        let r = exec(["--user", "no-such-user-tend", "--", "/bin/true"])
        #expect(r.status == 111)
        #expect(r.stderr.contains("unknown account no-such-user-tend"), "\(r.stderr)")
        let g = exec(["--user", "root:no-such-group-tend", "--", "/bin/true"])
        #expect(g.status == 111)
        #expect(g.stderr.contains("unknown group no-such-group-tend"), "\(g.stderr)")
        // Malformed: a usage error.
        for bad in ["nobody:", ":12", ":x:1", ""] {
            #expect(exec(["--user", bad, "--", "/bin/true"]).status == 100, "--user '\(bad)'")
        }
    }

    // MARK: envdir

    @Test func envDirSetsFirstLinesAndRemovesForEmptyFiles() throws {
        let s = Scratch()
        let env = s.dir + "/env"
        _ = mkdir(env, 0o755)
        s.write("env/PLAIN", Array("value one  \t \nsecond line\n".utf8))
        s.write("env/EMPTY", [])
        s.write("env/BLANKLINE", Array("\nignored\n".utf8))
        s.write("env/NULS", [UInt8(ascii: "a"), 0, UInt8(ascii: "b")])
        s.write("env/NONEWLINE", Array("last".utf8))
        s.write("env/.HIDDEN", Array("skipped".utf8))
        _ = mkdir(env + "/SUBDIR", 0o755)
        let r = exec(["--env-dir", env, "--", "/usr/bin/env", "-0"], environment: ["EMPTY": "was set", "PLAIN": "old"])
        #expect(r.status == 0, "\(r.stderr)")
        var vars: [String: String] = [:]
        for entry in r.stdout.split(separator: "\0") {
            guard let eq = entry.firstIndex(of: "=") else { continue }
            vars[String(entry[..<eq])] = String(entry[entry.index(after: eq)...])
        }
        #expect(vars["PLAIN"] == "value one")
        #expect(vars["EMPTY"] == nil)
        #expect(vars["BLANKLINE"] == "")
        #expect(vars["NULS"] == "a\nb")
        #expect(vars["NONEWLINE"] == "last")
        #expect(vars[".HIDDEN"] == nil && vars["SUBDIR"] == nil)
        #expect(vars["PATH"] != nil, "the rest of the environment is kept")

        // PATH set by the directory is the one CMD is looked up in.
        let bin = s.dir + "/bin"
        _ = mkdir(bin, 0o755)
        s.write("bin/hello-tend", Array("#!/bin/sh\necho found\n".utf8))
        _ = chmod(bin + "/hello-tend", 0o755)
        s.write("env/PATH", Array((bin + ":/usr/bin:/bin\n").utf8))
        let p = exec(["--env-dir", env, "hello-tend"])
        #expect(p.status == 0 && p.stdout == "found\n", "\(p.stderr)")
    }

    @Test func aMissingEnvDirOrABadNameIsAFailedStep() {
        let s = Scratch()
        let r = exec(["--env-dir", s.dir + "/missing", "--", "/bin/true"])
        #expect(r.status == 111)
        #expect(r.stderr.contains("unable to open environment directory \(s.dir)/missing"), "\(r.stderr)")
        _ = mkdir(s.dir + "/env", 0o755)
        s.write("env/A=B", Array("x".utf8))
        let bad = exec(["--env-dir", s.dir + "/env", "--", "/bin/true"])
        #expect(bad.status == 111)
        #expect(bad.stderr.contains("A=B"), "\(bad.stderr)")
    }

    // MARK: softlimit

    @Test func limitsSetTheSoftLimitOnly() {
        var nofile = rlimit()
        _ = getrlimit(__rlimit_resource_t(UInt32(Spawner.resourceNumber(.nofile))), &nofile)
        let hard = nofile.rlim_max == rlim_t.max ? "unlimited" : String(nofile.rlim_max)
        let r = exec(["--limit-nofile", "99", "--limit-as", "1G", "--limit-core", "0", "--",
                      "/bin/sh", "-c", "ulimit -n; ulimit -Hn; ulimit -v; ulimit -c"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(lines(r.stdout) == ["99", hard, "1048576", "0"])
        // Above the hard limit: the hard limit; `=`: the hard limit.
        if nofile.rlim_max != rlim_t.max {
            let above = exec(["--limit-nofile", String(nofile.rlim_max + 1000), "/bin/sh", "-c", "ulimit -n"])
            #expect(lines(above.stdout) == [hard], "\(above.stderr)")
        }
        let eq = exec(["--limit-nofile", "=", "/bin/sh", "-c", "ulimit -n"])
        #expect(lines(eq.stdout) == [hard], "\(eq.stderr)")
        // --limit-mem: data, stack, locked memory and address space at once; a specific option wins.
        // Each lowered to its hard limit (locked memory's is often small), in KiB as the shell prints it.
        func expected(_ r: ResourceLimit, _ bytes: UInt64) -> String {
            var rl = rlimit()
            _ = getrlimit(__rlimit_resource_t(UInt32(Spawner.resourceNumber(r))), &rl)
            return String(min(bytes, UInt64(rl.rlim_max)) / 1024)
        }
        let mem = exec(["--limit-mem", "64M", "--limit-stack", "8M", "/bin/sh", "-c", "ulimit -d; ulimit -s; ulimit -l; ulimit -v"])
        #expect(lines(mem.stdout) == [expected(.data, 64 << 20), expected(.stack, 8 << 20), expected(.memlock, 64 << 20),
                                      expected(.as, 64 << 20)], "\(mem.stderr)")
        for bad in ["abc", "-1", "99999999999999999999", "1X", "18446744073709551615T"] {
            let b = exec(["--limit-nofile=\(bad)", "/bin/true"])
            #expect(b.status == 100, "--limit-nofile \(bad): \(b.stderr)")
        }
    }

    // MARK: umask, nice, session, argv0, chroot, closing stdio

    @Test func umaskNiceSessionAndArgv0() throws {
        let u = exec(["--umask", "027", "/bin/sh", "-c", "umask"])
        #expect(u.stdout == "0027\n", "\(u.stderr)")
        #expect(exec(["--umask", "0888", "/bin/true"]).status == 100)

        // The niceness field (19th) of the exec'd process's /proc/self/stat, after the parenthesised name.
        func niceness(_ r: CommandResult) -> Int? {
            guard let close = r.stdout.lastIndex(of: ")") else { return nil }
            let fields = r.stdout[r.stdout.index(after: close)...].split(separator: " ")
            return fields.count > 16 ? Int(fields[16]) : nil
        }
        errno = 0
        let mine = Int(getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0))
        let up = exec(["--nice", "5", "/bin/cat", "/proc/self/stat"])
        #expect(niceness(up) == min(19, mine + 5), "\(up.stdout) \(up.stderr)")
        if Self.isRoot {
            let down = exec(["--nice", "-3", "/bin/cat", "/proc/self/stat"])
            #expect(niceness(down) == max(-20, mine - 3), "\(down.stderr)")
        }
        #expect(exec(["--nice", "x", "/bin/true"]).status == 100)

        // pgrphack: a new session led by CMD itself. The shell forks tend exec, so it is not a leader before.
        let probe = "\(tendBinary) exec %@ /bin/cat /proc/self/stat; :"
        func session(_ option: String) -> (pid: Int, sid: Int)? {
            let r = runCommand(["/bin/sh", "-c", probe.replacingPlaceholder(option)])
            guard let close = r.stdout.lastIndex(of: ")"), let pid = Int(r.stdout.prefix { $0 != " " }) else { return nil }
            let f = r.stdout[r.stdout.index(after: close)...].split(separator: " ")
            return f.count > 3 ? Int(f[3]).map { (pid, $0) } : nil
        }
        let led = try #require(session("--pgrphack"))
        #expect(led.sid == led.pid)
        let notLed = try #require(session("--umask=022"))
        #expect(notLed.sid != notLed.pid)

        // argv0: the exec'd program's argv[0], from /proc.
        let a = exec(["--argv0", "renamed", "--", "/bin/cat", "/proc/self/cmdline"])
        #expect(a.stdout == "renamed\0/proc/self/cmdline\0", "\(a.stderr)")
        // The closed descriptor is really closed in CMD.
        let c = exec(["--close-stderr", "/bin/sh", "-c", "if [ -e /proc/self/fd/2 ]; then echo open; else echo closed; fi"])
        #expect(c.stdout == "closed\n")
        let o = exec(["/bin/sh", "-c", "if [ -e /proc/self/fd/2 ]; then echo open; else echo closed; fi"])
        #expect(o.stdout == "open\n")
    }

    @Test(.enabled(if: isRoot, "chroot needs root"))
    func chrootChangesTheRoot() {
        let s = Scratch()
        let r = exec(["--chroot", "/", "--", "/bin/sh", "-c", "pwd"])
        #expect(r.stdout == "/\n", "\(r.stderr)")
        // An empty new root has no /bin/true: the exec fails, with chpst's code.
        let empty = exec(["--chroot", s.dir, "--", "/bin/true"])
        #expect(empty.status == 111)
        #expect(empty.stderr.contains("unable to run /bin/true"), "\(empty.stderr)")
        let missing = exec(["--chroot", s.dir + "/nowhere", "--", "/bin/true"])
        #expect(missing.status == 111 && missing.stderr.contains("unable to change directory"), "\(missing.stderr)")
    }

    // MARK: setlock

    /// Starts `argv` in the background and returns its pid, or nil.
    func background(_ argv: [String]) -> Int32? {
        guard let (pid, pidfd) = spawnProcess(argv, environment: Posix.environment(), stdio: [-1, -1, -1]) else { return nil }
        if pidfd >= 0 { Posix.close(pidfd) }
        return pid
    }

    /// Waits (bounded) for `pid` to exit and returns its exit status.
    func reap(_ pid: Int32, timeout: Double = 10) -> Int32? {
        var status: Int32 = 0
        var code: Int32?
        waitUntil(timeout) {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { code = (status >> 8) & 0xff }
            return r == pid
        }
        if code == nil {
            _ = kill(pid, SIGKILL)
            _ = waitpid(pid, &status, 0)
        }
        return code
    }

    @Test func theLockIsHeldForTheCommandsLifetime() throws {
        let s = Scratch()
        let lockFile = s.dir + "/lock"
        let holder = try #require(background([tendBinary, "exec", "--lock", lockFile, "--", "/bin/sh", "-c",
                                                "touch \(s.dir)/held; while [ ! -e \(s.dir)/release ]; do sleep 0.01; done"]))
        #expect(waitUntil(10) { s.exists("held") })
        var st = stat()
        #expect(stat(lockFile, &st) == 0 && st.st_mode & 0o777 == 0o600, "created with mode 0600")

        let busy = exec(["--lock", lockFile, "--lock-nowait", "--", "/bin/true"])
        #expect(busy.status == 111)
        #expect(busy.stderr.contains("unable to lock \(lockFile)"), "\(busy.stderr)")
        if Self.hasFlock {
            #expect(runCommand(["/usr/bin/flock", "-n", lockFile, "/bin/true"]).status == 1, "flock(1) sees the lock held")
        }
        // Without --lock-nowait: waits, and runs once the holder is gone.
        let waiter = try #require(background([tendBinary, "exec", "--lock", lockFile, "/bin/sh", "-c", "touch \(s.dir)/got"]))
        #expect(!s.exists("got"))
        s.write("release", [])
        #expect(reap(holder) == 0)
        #expect(reap(waiter) == 0)
        #expect(s.exists("got"))
        #expect(exec(["--lock", lockFile, "--lock-nowait", "/bin/true"]).status == 0)
        #expect(exec(["--lock-nowait", "/bin/true"]).status == 100, "--lock-nowait alone is a usage error")
        let unopenable = exec(["--lock", s.dir + "/no/such/dir/lock", "/bin/true"])
        #expect(unopenable.status == 111 && unopenable.stderr.contains("unable to open lock"), "\(unopenable.stderr)")
    }

    // MARK: Exit codes

    @Test func usageErrorsExit100AndFailedStepsExit111() {
        #expect(exec([]).status == 100)
        #expect(exec(["--umask", "022"]).status == 100)
        #expect(exec(["--umask", "022", "--"]).status == 100)
        let unknown = exec(["--no-such-option", "/bin/true"])
        #expect(unknown.status == 100 && unknown.stderr.contains("no-such-option"), "\(unknown.stderr)")
        let missing = exec(["--", "/no/such/program"])
        #expect(missing.status == 111)
        #expect(missing.stderr.contains("unable to run /no/such/program"), "\(missing.stderr)")
        #expect(exec(["no-such-program-tend"]).status == 111)
        // Otherwise CMD's own status, and CMD's arguments are its own, options or not.
        #expect(exec(["/bin/sh", "-c", "exit 7"]).status == 7)
        let args = exec(["/bin/echo", "--user", "x", "--", "-n"])
        #expect(args.stdout == "--user x -- -n\n", "\(args.stderr)")
        #expect(exec(["--help"]).status == 0)
    }

    /// Every option that takes a value takes the next word as it (`--nice -5`, a value that starts with a dash,
    /// included): the command line is split into options and CMD before it is parsed, so the splitter must
    /// know each one. Read from the command's own description of itself.
    @Test func everyValueOptionTakesTheNextWord() throws {
        let r = runCommand([tendBinary, "--experimental-dump-help"])
        let root = try #require(try JSON.parse(r.stdout)["command"])
        let exec = try #require(root["subcommands"]?.array?.first { $0["commandName"]?.string == "exec" })
        var checked = 0
        for a in exec["arguments"]?.array ?? [] where a["kind"]?.string == "option" {
            for n in a["names"]?.array ?? [] where n["kind"]?.string == "long" {
                let name = "--" + (n["name"]?.string ?? "")
                // The value is taken (so there is no command left), whatever its validity.
                let t = self.exec([name, "-1"])
                #expect(t.status == 100, "\(name)")
                #expect(!t.stderr.contains("Unknown option") && !t.stderr.contains("Missing value"), "\(name): \(t.stderr)")
                checked += 1
            }
        }
        #expect(checked >= 15)
        // And every flag is one word: the command after it still runs.
        let s = Scratch()
        var flags = 0
        for a in exec["arguments"]?.array ?? [] where a["kind"]?.string == "flag" {
            for n in a["names"]?.array ?? [] where n["kind"]?.string == "long" && !["help", "version"].contains(n["name"]?.string ?? "") {
                let name = "--" + (n["name"]?.string ?? "")
                let t = self.exec([name, "--lock", s.dir + "/lock", "/bin/true"])
                #expect(t.status == 0, "\(name): \(t.stderr)")
                flags += 1
            }
        }
        #expect(flags >= 6)
        let unknown = self.exec(["--no-such-option", "/bin/true"])
        #expect(unknown.stderr.contains("no-such-option"), "\(unknown.stderr)")
    }

    // MARK: Against the real tools

    /// What a process can see of its own state, printed by the same probe under chpst and tend exec.
    static let probe = """
        id -u; id -g; id -G; umask; ulimit -n; ulimit -d; ulimit -s; ulimit -l; ulimit -v; ulimit -c; ulimit -f; \
        ulimit -p 2>/dev/null || true; \
        cut -d' ' -f19 /proc/self/stat; tr '\\0' ' ' < /proc/$$/cmdline; echo; env | sort
        """

    @Test(.enabled(if: hasChpst, "needs runit's chpst (installed by .ci/run)"))
    func theSameOptionsGiveTheSameStateAsChpst() {
        let s = Scratch()
        _ = mkdir(s.dir + "/env", 0o755)
        s.write("env/GREETING", Array("hello there \t\nmore\n".utf8))
        s.write("env/DROPPED", [])
        s.write("env/NULS", [UInt8(ascii: "x"), 0, UInt8(ascii: "y")])
        let env = ["DROPPED": "before"]
        let userPair: ([String], [String]) = Self.isRoot ? (["-u", "nobody"], ["--user", "nobody"]) : ([], [])
        let cases: [([String], [String])] = [
            (["-e", s.dir + "/env"], ["--env-dir", s.dir + "/env"]),
            (["-o", "77", "-d", "300000000", "-c", "0", "-f", "1000000"],
             ["--limit-nofile", "77", "--limit-data", "300000000", "--limit-core", "0", "--limit-fsize", "1000000"]),
            (["-m", "400000000"], ["--limit-mem", "400000000"]),
            (["-n", "4"], ["--nice", "4"]),
            (["-b", "probe"], ["--argv0", "probe"]),
            (userPair.0 + ["-e", s.dir + "/env", "-o", "50", "-n", "+2"],
             userPair.1 + ["--env-dir", s.dir + "/env", "--limit-nofile", "50", "--nice", "+2"]),
        ]
        for (theirs, ours) in cases {
            let c = runCommand([Self.chpst] + theirs + ["/bin/sh", "-c", Self.probe], environment: env)
            let t = exec(ours + ["--", "/bin/sh", "-c", Self.probe], environment: env)
            #expect(c.status == 0 && t.status == 0, "chpst \(theirs): \(c.stderr) / tend exec \(ours): \(t.stderr)")
            #expect(t.stdout == c.stdout, "chpst \(theirs) and tend exec \(ours) differ")
        }
        // The same exit codes for the same failures.
        let failures: [([String], [String])] = [
            ([], []),                                                         // no command: usage
            (["-o", "many", "/bin/true"], ["--limit-nofile", "many", "/bin/true"]),
            (["/no/such/program"], ["/no/such/program"]),
            (["-u", "no-such-user-tend", "/bin/true"], ["--user", "no-such-user-tend", "/bin/true"]),
            (["-e", s.dir + "/missing", "/bin/true"], ["--env-dir", s.dir + "/missing", "/bin/true"]),
            (["-/", s.dir + "/missing", "/bin/true"], ["--chroot", s.dir + "/missing", "/bin/true"]),
            (["/bin/sh", "-c", "exit 3"], ["/bin/sh", "-c", "exit 3"]),
        ]
        for (theirs, ours) in failures {
            let c = runCommand([Self.chpst] + theirs).status
            let t = exec(ours).status
            #expect(c == t, "chpst \(theirs) exited \(c), tend exec \(ours) \(t)")
        }
    }

    @Test(.enabled(if: hasDaemontools, "needs daemontools' envdir, setuidgid, softlimit, setlock and pgrphack (installed by .ci/run)"))
    func theDaemontoolsToolsAgree() throws {
        let s = Scratch()
        _ = mkdir(s.dir + "/env", 0o755)
        s.write("env/GREETING", Array("hi  \nrest\n".utf8))
        s.write("env/GONE", [])
        let env = ["GONE": "x"]
        func same(_ theirs: [String], _ ours: [String], _ probe: String = Self.probe) {
            let d = runCommand(theirs + ["/bin/sh", "-c", probe], environment: env)
            let t = exec(ours + ["--", "/bin/sh", "-c", probe], environment: env)
            #expect(d.status == 0 && t.status == 0, "\(theirs): \(d.stderr) / \(ours): \(t.stderr)")
            #expect(t.stdout == d.stdout, "\(theirs) and tend exec \(ours) differ")
        }
        same(["/usr/bin/envdir", s.dir + "/env"], ["--env-dir", s.dir + "/env"])
        same(["/usr/bin/softlimit", "-o", "60", "-m", "500000000", "-c", "0"],
             ["--limit-nofile", "60", "--limit-mem", "500000000", "--limit-core", "0"])
        same(["/usr/bin/softlimit", "-o", "="], ["--limit-nofile", "="])
        if Self.isRoot { same(["/usr/bin/setuidgid", "nobody"], ["--user", "nobody"]) }
        // pgrphack: the shell forks each, so both start as non-leaders and end as leaders of their own session.
        for tool in ["/usr/bin/pgrphack", "\(tendBinary) exec --pgrphack"] {
            let r = runCommand(["/bin/sh", "-c", "\(tool) /bin/sh -c 'echo $$; cut -d\" \" -f6 /proc/$$/stat'; :"])
            let l = lines(r.stdout)
            #expect(l.count == 2 && l[0] == l[1], "\(tool): \(r.stdout) \(r.stderr)")
        }
        // setlock and tend exec take the same lock: each sees the other's.
        let lockFile = s.dir + "/lock"
        let theirs = try #require(background(["/usr/bin/setlock", lockFile, "/bin/sh", "-c",
                                                "touch \(s.dir)/held1; while [ ! -e \(s.dir)/go1 ]; do sleep 0.01; done"]))
        #expect(waitUntil(10) { s.exists("held1") })
        #expect(exec(["--lock", lockFile, "--lock-nowait", "/bin/true"]).status == 111)
        s.write("go1", [])
        #expect(reap(theirs) == 0)
        let ours = try #require(background([tendBinary, "exec", "--lock", lockFile, "/bin/sh", "-c",
                                              "touch \(s.dir)/held2; while [ ! -e \(s.dir)/go2 ]; do sleep 0.01; done"]))
        #expect(waitUntil(10) { s.exists("held2") })
        let refused = runCommand(["/usr/bin/setlock", "-n", lockFile, "/bin/true"]).status
        #expect(refused == 111)
        #expect(exec(["--lock", lockFile, "--lock-nowait", "/bin/true"]).status == refused)
        s.write("go2", [])
        #expect(reap(ours) == 0)
        // The same exit codes as the daemontools tools for the same failures.
        #expect(runCommand(["/usr/bin/envdir", s.dir + "/missing", "/bin/true"]).status == exec(["--env-dir", s.dir + "/missing", "/bin/true"]).status)
        #expect(runCommand(["/usr/bin/setuidgid", "no-such-user-tend", "/bin/true"]).status == exec(["--user", "no-such-user-tend", "/bin/true"]).status)
        #expect(runCommand(["/usr/bin/softlimit", "-o", "x", "/bin/true"]).status == exec(["--limit-nofile", "x", "/bin/true"]).status)
        #expect(runCommand(["/usr/bin/pgrphack"]).status == exec([]).status)
    }
}

extension String {
    fileprivate func replacingPlaceholder(_ value: String) -> String {
        guard let r = firstRange(of: "%@") else { return self }
        return String(self[..<r.lowerBound]) + value + String(self[r.upperBound...])
    }
}
