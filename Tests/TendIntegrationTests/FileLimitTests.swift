import Glibc
import Testing
import TendModel
import TendSystem
import TendControl

/// The manager raises its own open-files limit to the hard limit (it holds several descriptors per service)
/// and gives services the limit it started with, unless they set `LimitNOFILE=`, as systemd does.
@Suite(.serialized)
struct FileLimitTests {
    static let prlimit: String? = ["/usr/bin/prlimit", "/bin/prlimit"].first { (p: String) in access(p, X_OK) == 0 }

    @Test(.enabled(if: prlimit != nil, "needs prlimit (util-linux) to start the manager with a small limit"))
    func manyServicesStartUnderASmallSoftLimitAndServicesGetItBack() throws {
        let h = DaemonHarness()
        for i in 0..<250 {
            h.writeUnit("s\(i).service", "[Service]\nExecStart=/bin/sleep 1000\n")
        }
        h.writeUnit("probe.service", "[Service]\nExecStart=/bin/sh -c 'echo soft=$(ulimit -Sn) hard=$(ulimit -Hn); exec sleep 1000'\n")
        h.writeUnit("own.service", "[Service]\nLimitNOFILE=100:200\nExecStart=/bin/sh -c 'echo soft=$(ulimit -Sn) hard=$(ulimit -Hn); exec sleep 1000'\n")
        h.start(wrapper: [Self.prlimit!, "--nofile=256:4096"])
        #expect(waitUntil(30) {
            let r = h.tend(["list", "--output", "json"])
            return r.stdout.components(separatedBy: "\"running\"").count - 1 == 252
        }, "all 252 services running")
        let limits = h.readFile("/proc/\(h.managerPID)/limits")
        let line = limits.split(separator: "\n").first { $0.hasPrefix("Max open files") } ?? ""
        #expect(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst(3).prefix(2) == ["4096", "4096"], "\(line)")
        #expect(waitUntil(10) { h.tend("logs", "probe", "-o", "cat").stdout.contains("soft=256 hard=4096") })
        #expect(waitUntil(10) { h.tend("logs", "own", "-o", "cat").stdout.contains("soft=100 hard=200") })
    }
}

extension FileLimitTests {
    /// Out of descriptors, the manager turns a client away with an answer (a reserve descriptor gives it the
    /// room), instead of leaving the connection pending and spinning on a listener that stays readable.
    @Test(.enabled(if: prlimit != nil, "needs prlimit (util-linux) to start the manager with a small limit"))
    func outOfDescriptorsAClientGetsAnAnswerAndTheManagerDoesNotSpin() throws {
        let h = DaemonHarness()
        // soft = hard: nothing to raise. Subscriptions held open use up the manager's descriptors one by one.
        h.start(extraArgs: ["--no-start"], wrapper: [Self.prlimit!, "--nofile=48:48"])
        var held: [ControlClient] = []
        var refusal: ControlError?
        for _ in 0..<60 where refusal == nil {
            let c = try ControlClient(stateDir: h.state)
            do {
                _ = try c.subscribe(units: [])
                held.append(c)
            } catch {
                refusal = error
            }
        }
        #expect(refusal?.message.contains("out of file descriptors") == true, "\(String(describing: refusal)) after \(held.count)")
        #expect(held.count > 5)
        // While clients keep being turned away, the manager sleeps between them.
        let before = Self.cpuTicks(h.managerPID)
        for _ in 0..<5 { _ = h.tend(["list"], timeout: 5) }
        usleep(500_000)
        #expect(Self.cpuTicks(h.managerPID) - before < 20, "CPU ticks (10 ms) used while refusing clients")
        // Once a client goes, the manager answers again.
        held.removeLast()
        #expect(waitUntil(5) { h.tend("list").status == 0 })
    }

    static func cpuTicks(_ pid: Int32) -> Int {
        guard let bytes = Posix.readFile("/proc/\(pid)/stat") else { return 0 }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return 0 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        return (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
    }
}

extension FileLimitTests {
    /// `status -n` is bounded: the manager reads the records on its only thread.
    @Test func statusLogTailsAreCappedAt1000Records() throws {
        let h = DaemonHarness()
        h.writeUnit("chatty.service", "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'seq 1 3000'\n")
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "chatty").status == 0)
        #expect(waitUntil(10) { h.tend("logs", "chatty", "-o", "cat").stdout.contains("\n3000\n") })
        let r = h.tend(["status", "chatty", "--output", "json", "-n", "100000000"])
        let log = (try? JSON.parse(r.stdout))?.array?.first?["log"]?.array ?? []
        #expect(log.count == ControlProtocol.maxStatusLines, "\(r.stderr) \(r.stdout.prefix(300))")
        #expect(log.contains { $0.string?.hasSuffix(" 3000") == true })
    }
}

extension FileLimitTests {
    /// Debian's redis-server.service asks for LimitNOFILE=65535; in a container without CAP_SYS_RESOURCE that is
    /// above what may be had. As systemd's setrlimit_closest(), the service gets the closest limit and starts,
    /// and the log (so `tend status`) says so, instead of failing with 205/LIMITS.
    @Test(.enabled(if: prlimit != nil && access("/usr/bin/setpriv", X_OK) == 0 && getuid() == 0,
                   "needs root, prlimit and setpriv to drop CAP_SYS_RESOURCE"))
    func aLimitAboveTheHardLimitIsLoweredToTheClosestAndSaid() throws {
        let h = DaemonHarness()
        h.writeUnit("redisish.service", """
            [Service]
            LimitNOFILE=65535
            ExecStart=/bin/sh -c 'echo soft=$(ulimit -Sn) hard=$(ulimit -Hn); exec sleep 1000'
            """)
        h.start(wrapper: [Self.prlimit!, "--nofile=1024:4096", "/usr/bin/setpriv", "--bounding-set", "-sys_resource",
                          "--inh-caps", "-sys_resource", "--"])
        #expect(h.waitFor("redisish", sub: "running"))
        #expect(waitUntil(10) { h.tend("logs", "redisish", "-o", "cat").stdout.contains("soft=4096 hard=4096") })
        let status = h.tend("status", "redisish", "-n", "20").stdout
        #expect(status.contains("LimitNOFILE=65535 is above the hard limit 4096"), "\(status)")
        #expect(status.contains("using 4096:4096"))
    }
}
