import Glibc
import Testing
import TendModel
import TendSystem
import TendControl

/// Execution directories and sandboxing (systemd.exec(5)) carried out on real processes.
@Suite(.serialized)
struct SandboxTests {
    static let isRoot = getuid() == 0
    static let nobody = Posix.user(named: "nobody")

    static func stat(_ path: String) -> stat? {
        var st = Glibc.stat()
        return lstat(path, &st) == 0 ? st : nil
    }

    /// `RuntimeDirectory=` exists with its mode and `User=` as owner while the service runs and goes when it
    /// stops; `StateDirectory=` stays. Both are in the environment.
    @Test(.enabled(if: isRoot && nobody != nil, "needs root (directories in /run and /var/lib, User=nobody)"))
    func runtimeDirectoryIsOwnedByTheUserWhileRunningAndGoneAfter() throws {
        let h = DaemonHarness()
        let name = "tend-test-php-\(getpid())"
        defer {
            ExecDirectories.removeTree("/run/" + name)
            ExecDirectories.removeTree("/var/lib/" + name)
        }
        h.writeUnit("php.service", """
            [Service]
            User=nobody
            RuntimeDirectory=\(name) \(name)/sessions
            RuntimeDirectoryMode=0750
            StateDirectory=\(name)
            ExecStart=/bin/sh -c 'echo "run=$RUNTIME_DIRECTORY state=$STATE_DIRECTORY"; touch $STATE_DIRECTORY/mine && exec sleep 1000'

            """)
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "php").status == 0)
        #expect(h.waitFor("php", sub: "running"))
        let st = try #require(Self.stat("/run/" + name))
        #expect(st.st_uid == Self.nobody!.uid)
        #expect(st.st_gid == Self.nobody!.gid)
        #expect(st.st_mode & 0o7777 == 0o750)
        #expect(Self.stat("/run/\(name)/sessions")?.st_uid == Self.nobody!.uid)
        #expect(waitUntil(10) {
            h.tend("logs", "php", "-o", "cat").stdout.contains("run=/run/\(name):/run/\(name)/sessions state=/var/lib/\(name)")
        })
        #expect(waitUntil(5) { Self.stat("/var/lib/\(name)/mine")?.st_uid == Self.nobody!.uid })
        #expect(h.tend("stop", "php").status == 0)
        #expect(Self.stat("/run/" + name) == nil, "the runtime directory is removed after stop")
        #expect(Self.stat("/var/lib/" + name)?.st_uid == Self.nobody!.uid, "the state directory stays")
    }

    /// `RuntimeDirectoryPreserve=yes` keeps it after stop.
    @Test(.enabled(if: isRoot, "needs root (directories in /run)"))
    func preservedRuntimeDirectoryStays() throws {
        let h = DaemonHarness()
        let name = "tend-test-keep-\(getpid())"
        defer { ExecDirectories.removeTree("/run/" + name) }
        h.writeUnit("keep.service", """
            [Service]
            Type=oneshot
            RuntimeDirectory=\(name)
            RuntimeDirectoryPreserve=yes
            ExecStart=/bin/sh -c 'echo x > $RUNTIME_DIRECTORY/file'

            """)
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "keep").status == 0)
        #expect(h.readFile("/run/\(name)/file") == "x\n")
    }
}

extension SandboxTests {
    static let env = SandboxProbe.current

    /// `PrivateTmp=yes`: the service's /tmp is its own (a file written there is not in the host's /tmp), shared
    /// by its commands, and gone after stop.
    @Test(.enabled(if: env.mountNamespaces, "needs mount namespaces (root): \(env.mountNamespaceProblem ?? "")"))
    func privateTmpIsTheServicesOwn() throws {
        let h = DaemonHarness()
        let name = "tend-private-\(getpid())"
        defer { _ = unlink("/tmp/" + name) }
        h.writeUnit("tmp.service", """
            [Service]
            PrivateTmp=yes
            ExecStartPre=/bin/sh -c 'echo pre > /tmp/\(name)'
            ExecStart=/bin/sh -c 'cat /tmp/\(name); echo main > /var/tmp/\(name); exec sleep 1000'

            """)
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "tmp").status == 0)
        #expect(h.waitFor("tmp", sub: "running"))
        #expect(waitUntil(10) { h.tend("logs", "tmp", "-o", "cat").stdout.contains("pre") }, "ExecStart= sees ExecStartPre='s /tmp")
        #expect(Self.stat("/tmp/" + name) == nil, "not in the host's /tmp")
        #expect(Self.stat("/var/tmp/" + name) == nil, "not in the host's /var/tmp")
        let kept = h.state + "/private/tmp.service/tmp/" + name
        #expect(h.readFile(kept) == "pre\n")
        #expect(h.tend("stop", "tmp").status == 0)
        #expect(Self.stat(h.state + "/private/tmp.service") == nil, "removed after stop")
    }

    /// `ProtectSystem=strict` makes /usr (and everything else but the API file systems and the unit's own
    /// directories) read-only; `ReadWritePaths=` opens a hole; `InaccessiblePaths=` hides a directory.
    @Test(.enabled(if: env.mountNamespaces, "needs mount namespaces (root): \(env.mountNamespaceProblem ?? "")"))
    func protectSystemStrictMakesUsrReadOnly() throws {
        let h = DaemonHarness()
        let open = h.root + "/open"
        let hidden = h.root + "/hidden"
        try Posix.mkdirs(open)
        try Posix.mkdirs(hidden)
        h.writeFile(hidden + "/secret", "s\n")
        h.writeUnit("strict.service", """
            [Service]
            Type=oneshot
            ProtectSystem=strict
            ReadWritePaths=\(open)
            InaccessiblePaths=\(hidden)
            ExecStart=/bin/sh -c 'touch /usr/tend-probe 2>/dev/null && echo usr=writable || echo usr=read-only; \\
                touch \(h.root)/x 2>/dev/null && echo root=writable || echo root=read-only; \\
                echo ok > \(open)/file && echo open=writable; cat \(hidden)/secret 2>/dev/null || echo hidden=unreadable; \\
                echo > /dev/null && echo dev=writable'

            """)
        h.start(extraArgs: ["--no-start"])
        let r = h.tend("start", "strict")
        #expect(r.status == 0, "\(r.stderr)")
        let out = h.tend("logs", "strict", "-o", "cat").stdout
        #expect(out.contains("usr=read-only"), "\(out)")
        #expect(out.contains("root=read-only"), "\(out)")
        #expect(out.contains("open=writable"), "\(out)")
        #expect(out.contains("hidden=unreadable"), "\(out)")
        #expect(out.contains("dev=writable"), "\(out)")
        #expect(Self.stat("/usr/tend-probe") == nil)
        #expect(h.readFile(open + "/file") == "ok\n")
    }

    /// A path that must exist and doesn't fails the start at step NAMESPACE, saying which.
    @Test(.enabled(if: env.mountNamespaces, "needs mount namespaces (root): \(env.mountNamespaceProblem ?? "")"))
    func aMissingReadOnlyPathFailsWithItsName() throws {
        let h = DaemonHarness()
        h.writeUnit("missing.service", "[Service]\nReadOnlyPaths=/nonexistent-tend\nExecStart=/bin/true\n")
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "missing").status != 0)
        let s = h.tend("status", "missing").stdout
        #expect(s.contains("/nonexistent-tend: No such file or directory"), "\(s)")
        #expect(s.contains("226/NAMESPACE"), "\(s)")
    }

    /// `OOMScoreAdjust=`, `NoNewPrivileges=`, `PrivateNetwork=`, `CapabilityBoundingSet=`, `AmbientCapabilities=`
    /// and `RestrictNamespaces=` as the kernel reports them to the service.
    @Test(.enabled(if: isRoot && env.networkNamespaces && nobody != nil, "needs root with network namespaces"))
    func credentialsAndNamespacesAsTheKernelSeesThem() throws {
        let h = DaemonHarness()
        h.writeUnit("caps.service", """
            [Service]
            Type=oneshot
            User=nobody
            OOMScoreAdjust=\(Self.env.canLowerOOMScore ? -300 : 300)
            NoNewPrivileges=yes
            PrivateNetwork=yes
            CapabilityBoundingSet=CAP_NET_BIND_SERVICE CAP_NET_RAW
            AmbientCapabilities=CAP_NET_BIND_SERVICE
            RestrictNamespaces=yes
            ExecStart=/bin/sh -c 'echo oom=$(cat /proc/self/oom_score_adj); grep -E "^(NoNewPrivs|CapBnd|CapAmb|Seccomp):" /proc/self/status; \\
                cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d " " | tr "\\n" " "; echo; \\
                unshare -n true 2>/dev/null && echo unshare=allowed || echo unshare=refused'

            """)
        h.start(extraArgs: ["--no-start"])
        let r = h.tend("start", "caps")
        #expect(r.status == 0, "\(r.stderr)")
        let out = h.tend("logs", "caps", "-o", "cat").stdout
        #expect(out.contains("oom=\(Self.env.canLowerOOMScore ? -300 : 300)"), "\(out)")
        #expect(out.contains("NoNewPrivs:\t1"), "\(out)")
        #expect(out.contains("CapBnd:\t0000000000002400"), "\(out)")
        #expect(out.contains("CapAmb:\t0000000000000400"), "\(out)")
        #expect(out.contains("Seccomp:\t2"), "\(out)")
        #expect(out.contains("\nlo \n") || out.hasPrefix("lo \n") || out.contains("lo \n"), "only loopback: \(out)")
        #expect(!out.contains("eth0"), "\(out)")
        if access("/usr/bin/unshare", X_OK) == 0 { #expect(out.contains("unshare=refused"), "\(out)") }
    }
}

extension SandboxTests {
    static let setpriv: String? = ["/usr/bin/setpriv", "/bin/setpriv"].first { (p: String) in access(p, X_OK) == 0 }

    /// A manager that is not root (started as nobody through setpriv) runs a sandboxed unit anyway and says
    /// exactly what it did not apply: in the unit's log, `tend status`, `tend show`, `tend analyze security` and
    /// `tend verify --environment`. NoNewPrivileges= needs no privilege and is applied.
    @Test(.enabled(if: isRoot && nobody != nil && setpriv != nil, "needs root (to become nobody) and setpriv (util-linux)"))
    func withoutPrivilegesTheServiceRunsAndSaysWhatWasNotApplied() throws {
        let h = DaemonHarness()
        let user = Self.nobody!
        let unit = h.units + "/plain.service"
        h.writeUnit("plain.service", """
            [Service]
            WorkingDirectory=/
            PrivateTmp=yes
            ProtectSystem=strict
            NoNewPrivileges=yes
            ExecStart=/bin/sh -c 'grep NoNewPrivs /proc/self/status; exec sleep 1000'

            """)
        #expect(runCommand(["/bin/chown", "-R", "\(user.uid):\(user.gid)", h.root]).status == 0)
        let asNobody = [Self.setpriv!, "--reuid=\(user.uid)", "--regid=\(user.gid)", "--clear-groups"]
        // The client talks only to a manager of root or its own user: the commands run as nobody too.
        func tend(_ args: String...) -> CommandResult {
            runCommand(asNobody + [tendBinary] + args, environment: ["TEND_STATE_DIR": h.state])
        }
        let daemon = h.spawnBackground(asNobody + [tendBinary, "daemon", "--units", h.units, "--state-dir", h.state,
                                                   "--log-dir", h.logs, "--no-start"], stdout: h.root + "/daemon.out")
        defer {
            _ = kill(daemon, SIGTERM)
            var status: Int32 = 0
            if !waitUntil(15, { waitpid(daemon, &status, WNOHANG) == daemon }) {
                _ = kill(daemon, SIGKILL)
                _ = waitpid(daemon, &status, 0)
            }
        }
        #expect(daemon > 0 && waitUntil(10) { tend("list").status == 0 }, "the manager as nobody comes up")
        #expect(tend("start", "plain").status == 0)
        let privateTmp = "PrivateTmp=yes: not applied (the manager is not root)"
        let strict = "ProtectSystem=strict: not applied (the manager is not root)"
        #expect(waitUntil(10) {
            let log = tend("logs", "plain", "-o", "cat").stdout
            return log.contains("NoNewPrivs:\t1") && log.contains(privateTmp)
        }, "\(tend("logs", "plain", "-o", "cat").stdout)")
        let status = tend("status", "plain").stdout
        #expect(status.contains("Active: active (running)"), "\(status)")
        #expect(status.contains("Sandbox: \(privateTmp)") && status.contains("Sandbox: \(strict)"), "\(status)")
        let show = tend("show", "plain", "-p", "SandboxNotApplied", "--value").stdout
        #expect(show == "\(privateTmp); \(strict)\n", "\(show)")
        let analysis = tend("analyze", "security", "plain").stdout
        #expect(analysis.contains("✗ PrivateTmp") && analysis.contains("NOT APPLIED (the manager is not root)"), "\(analysis)")
        #expect(analysis.contains("✓ NoNewPrivileges"), "\(analysis)")
        #expect(analysis.contains("- PrivateNetwork"), "\(analysis)")

        let verify = runCommand(asNobody + [tendBinary, "verify", "--environment", unit])
        #expect(verify.status == 0, "\(verify.stderr)")
        #expect(verify.stdout.contains("mount namespaces (PrivateTmp=, ProtectSystem=, ProtectHome=, *Paths=, PrivateDevices=): no (the manager is not root)"), "\(verify.stdout)")
        #expect(verify.stdout.contains("\(unit): \(privateTmp)"), "\(verify.stdout)")
        let asRoot = runCommand([tendBinary, "verify", "--environment"])
        #expect(asRoot.stdout.contains("root: yes"), "\(asRoot.stdout)")
    }

    /// `PrivateDevices=yes`: a /dev with the pseudo devices only; `ProtectHome=yes` hides /root.
    @Test(.enabled(if: env.mountNamespaces, "needs mount namespaces (root): \(env.mountNamespaceProblem ?? "")"))
    func privateDevicesAndProtectHome() throws {
        let h = DaemonHarness()
        h.writeUnit("dev.service", """
            [Service]
            Type=oneshot
            PrivateDevices=yes
            ProtectHome=yes
            ExecStart=/bin/sh -c 'ls /dev | tr "\\n" " "; echo; echo x > /dev/null && echo null=ok; head -c 4 /dev/urandom | wc -c; \\
                echo root=$(stat -c %%a /root) entries=$(ls -A /root | wc -l); grep CapBnd /proc/self/status'

            """)
        h.start(extraArgs: ["--no-start"])
        let r = h.tend("start", "dev")
        #expect(r.status == 0, "\(r.stderr)")
        let out = h.tend("logs", "dev", "-o", "cat").stdout
        let devices = out.split(separator: "\n").first.map { Set($0.split(separator: " ").map(String.init)) } ?? []
        #expect(devices.isSuperset(of: ["null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "fd", "stdin", "ptmx"]), "\(out)")
        #expect(!devices.contains { $0.hasPrefix("sd") || $0.hasPrefix("nvme") || $0.hasPrefix("vd") || $0 == "mem" }, "\(out)")
        #expect(out.contains("null=ok") && out.contains("\n4\n"), "\(out)")
        #expect(out.contains("root=0 entries=0"), "/root is hidden behind an empty node of mode 0000: \(out)")
        let bndLine = out.split(separator: "\n").first { $0.hasPrefix("CapBnd:") }.map { String($0.dropFirst(7)).filter { $0.isHexDigit } }
        let bnd = bndLine.flatMap { UInt64($0, radix: 16) }
        #expect(bnd.map { $0 & ((1 << 27) | (1 << 17)) == 0 } == true, "no CAP_MKNOD, CAP_SYS_RAWIO: \(out)")
    }
}

extension SandboxTests {
    /// Removing a runtime directory removes symbolic links in it, never what they point to.
    @Test func removeTreeNeverFollowsSymbolicLinks() throws {
        let h = DaemonHarness()
        let outside = h.root + "/outside"
        let tree = h.root + "/run/app"
        try Posix.mkdirs(outside)
        try Posix.mkdirs(tree + "/sub/deeper")
        h.writeFile(outside + "/keep", "k\n")
        h.writeFile(tree + "/sub/deeper/file", "x\n")
        #expect(symlink(outside, tree + "/link") == 0)
        #expect(symlink(outside, tree + "/sub/link") == 0)
        ExecDirectories.removeTree(tree)
        #expect(Self.stat(tree) == nil)
        #expect(h.readFile(outside + "/keep") == "k\n")
        // A symbolic link given as the tree itself goes, its target stays.
        #expect(symlink(outside, h.root + "/alias") == 0)
        ExecDirectories.removeTree(h.root + "/alias")
        #expect(Self.stat(h.root + "/alias") == nil && h.readFile(outside + "/keep") == "k\n")
    }
}
