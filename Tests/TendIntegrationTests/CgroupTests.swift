import Glibc
import Testing
import TendModel
import TendSystem
import TendControl

/// Services in cgroups of their own below a directory the test makes (`tend daemon --cgroup DIR`), removed
/// afterwards. Skipped where no cgroup2 directory is writable.
@Suite(.serialized)
struct CgroupTests {
    /// A writable cgroup2 hierarchy: the unified one of a hybrid host, or /sys/fs/cgroup itself.
    static let hierarchy: String? = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"].first { (d: String) in
        access(d + "/cgroup.controllers", F_OK) == 0 && access(d + "/cgroup.procs", W_OK) == 0
    }

    /// The test's own cgroup below the hierarchy, and the v1 directories tend makes at the same path.
    final class TestCgroup {
        let path: String
        let name: String
        init?() {
            guard let h = CgroupTests.hierarchy else { return nil }
            name = "tend-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            path = h + "/" + name
            guard mkdir(path, 0o755) == 0 else { return nil }
        }
        deinit {
            for root in [path] + ["memory", "pids", "cpu"].map({ "/sys/fs/cgroup/\($0)/\(name)" }) {
                for sub in ExecDirectoriesList.subdirectories(root) { _ = rmdir(root + "/" + sub) }
                _ = rmdir(root)
            }
        }
    }

    static func harness(_ cg: TestCgroup, _ units: [(String, String)]) -> DaemonHarness {
        let h = DaemonHarness()
        for (name, text) in units { h.writeUnit(name, text) }
        h.start(extraArgs: ["--no-start", "--cgroup", cg.path])
        return h
    }

    /// KillMode=control-group (the default) reaches a daemon that left the unit's session with setsid.
    @Test(.enabled(if: hierarchy != nil, "needs a writable cgroup2 hierarchy"))
    func stopKillsADaemonThatLeftWithSetsid() throws {
        let cg = try #require(TestCgroup())
        let pidFile = "/tmp/tend-escaped-\(getpid())"
        defer { _ = unlink(pidFile) }
        let h = Self.harness(cg, [("escape.service", "[Service]\nExecStart=/bin/sh -c 'setsid sh -c \"echo $$$$ > \(pidFile); exec sleep 300\" & exec sleep 200'\n")])
        #expect(h.tend("start", "escape").status == 0)
        #expect(waitUntil(5) { !h.readFile(pidFile).isEmpty })
        let escaped = try #require(Int32(h.readFile(pidFile).filter(\.isNumber)))
        let members = h.readFile(cg.path + "/escape.service/cgroup.procs")
        #expect(members.split(separator: "\n").contains(Substring(String(escaped))), "\(members)")
        #expect(ProcessTable.stat(escaped)?.session == escaped, "it has a session of its own")
        #expect(h.tend("stop", "escape").status == 0)
        #expect(!processExists(escaped), "the escaped daemon is killed with the unit")
        #expect(access(cg.path + "/escape.service", F_OK) != 0, "the unit's cgroup is removed once it is empty")
    }

    /// TasksMax= stops a fork bomb.
    @Test(.enabled(if: hierarchy != nil, "needs a writable cgroup2 hierarchy"))
    func tasksMaxStopsAForkBomb() throws {
        let cg = try #require(TestCgroup())
        let h = Self.harness(cg, [("bomb.service", """
            [Service]
            TasksMax=8
            MemoryMax=64M
            ExecStart=/bin/sh -c '(i=0; while [ $i -lt 40 ]; do sleep 300 & i=$((i+1)); done) 2>&1; echo forked; exec sleep 300'

            """)])
        #expect(h.tend("start", "bomb").status == 0)
        #expect(waitUntil(10) { h.tend("logs", "bomb", "-o", "cat").stdout.contains("forked") })
        let count = h.readFile(cg.path + "/bomb.service/cgroup.procs").split(separator: "\n").count
        #expect(count > 0 && count <= 8, "\(count) processes")
        let limited = ["/sys/fs/cgroup/pids/\(cg.name)/bomb.service/pids.max", cg.path + "/bomb.service/pids.max"]
            .contains { h.readFile($0) == "8\n" }
        #expect(limited)
        let memory = ["/sys/fs/cgroup/memory/\(cg.name)/bomb.service/memory.limit_in_bytes", cg.path + "/bomb.service/memory.max"]
            .contains { h.readFile($0) == "67108864\n" }
        #expect(memory, "MemoryMax=64M written")
        #expect(h.tend("stop", "bomb").status == 0)
        #expect(h.readFile(cg.path + "/bomb.service/cgroup.procs").isEmpty)
    }

    /// MemoryMax= is enforced: a service that allocates past it is killed by the kernel, reported as oom-kill
    /// (status, JSON), and `RestartPreventExitStatus=oom-kill` keeps it down under `Restart=on-failure`; an
    /// operator's kill -9 of another is a signal, and restarted.
    @Test(.enabled(if: hierarchy != nil, "needs a writable cgroup2 hierarchy"))
    func memoryMaxKillsAServiceThatGrowsPastItAsOOMKill() throws {
        let cg = try #require(TestCgroup())
        let h = Self.harness(cg, [("hog.service", """
            [Service]
            MemoryMax=64M
            MemorySwapMax=0
            Restart=on-failure
            RestartSec=50ms
            RestartPreventExitStatus=oom-kill
            ExecStart=/usr/bin/awk 'BEGIN { s = "x"; while (1) s = s s }'

            """), ("victim.service", "[Service]\nMemoryMax=64M\nRestart=on-failure\nRestartSec=50ms\nRestartPreventExitStatus=oom-kill\nExecStart=/bin/sleep 300\n")])
        _ = h.tend("start", "hog")
        #expect(waitUntil(20) { h.active("hog") == "failed" })
        let status = h.tend("status", "hog", "-n", "0").stdout
        #expect(status.contains("Active: failed (Result: oom-kill)"), "\(status)")
        #expect(status.contains("code=killed, signal=KILL"), "\(status)")
        #expect(h.status("hog")?["result"]?.string == "oom-kill")
        #expect(h.status("hog")?["nRestarts"]?.int == 0, "not restarted after an OOM kill")
        #expect(h.tend("logs", "hog", "-o", "cat").stdout.contains("killed by the OOM killer"))

        #expect(h.tend("start", "victim").status == 0)
        let main = h.mainPID("victim")
        #expect(main > 0 && kill(main, SIGKILL) == 0)
        #expect(waitUntil(10) { (h.status("victim")?["nRestarts"]?.int ?? 0) >= 1 && h.active("victim") == "active" },
                "a kill -9 is no OOM kill: restarted")
        #expect(h.tend("stop", "victim").status == 0)
    }
}

/// Directory listing for the clean-up.
enum ExecDirectoriesList {
    static func subdirectories(_ path: String) -> [String] {
        guard let d = opendir(path) else { return [] }
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let name = withUnsafePointer(to: e.pointee.d_name) { $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) } }
            if e.pointee.d_type == UInt8(DT_DIR), name != ".", name != ".." { out.append(name) }
        }
        return out
    }
}
