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
