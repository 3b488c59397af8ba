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
