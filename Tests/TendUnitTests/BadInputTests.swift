import Testing
@testable import TendEngine
@testable import TendModel
import TendSystem
import TendTestSupport

/// Values that used to trap the manager or the CLI (issue: "nothing a unit file, a request or a local user can
/// do crashes the manager"): each is now an error or a refusal.
@Suite struct BadInputTests {
    @Test func realTimeSignalOffsetsAreCheckedBeforeTheyAreAdded() {
        #expect(Signals.number(named: "RTMIN+2147483644") == nil)
        #expect(Signals.number(named: "SIGRTMIN+2147483647") == nil)
        #expect(Signals.number(named: "RTMAX-2147483647") == nil)
        #expect(Signals.number(named: "RTMIN+30") == 64)
        #expect(Signals.number(named: "RTMIN+31") == nil)
        #expect(Signals.number(named: "RTMAX-30") == 34)
        #expect(Signals.number(named: "RTMAX-31") == nil)
    }

    static func load(_ text: String) -> UnitLoadResult {
        var config = ServiceConfig(name: UnitName(parsing: "x.service")!)
        var diagnostics: [Diagnostic] = []
        parseUnitText(text, file: "/u/x.service", into: &config,
                      context: SpecifierContext(userName: "u", uid: 1000, home: "/home/u", runtimeDir: "/run/user/1000",
                                                stateDir: "/s", cacheDir: "/c", logsDir: "/l", configDir: "/e",
                                                hostName: "h"),
                      diagnostics: &diagnostics)
        return UnitLoadResult(config: config, diagnostics: diagnostics)
    }

    @Test(arguments: [
        "KillSignal=RTMIN+2147483644", "ReloadSignal=SIGRTMIN+2147483647", "RestartKillSignal=RTMAX-2147483647",
        "SuccessExitStatus=RTMIN+2147483644", "RestartPreventExitStatus=SIGRTMIN+2147483640",
        "RestartForceExitStatus=RTMIN+99999999999", "LineMax=8E", "LineMax=17M",
    ])
    func aValueOutOfRangeIsAnErrorWithItsLine(_ line: String) {
        let r = Self.load("[Service]\nExecStart=/bin/true\n\(line)\n")
        #expect(r.hasErrors, "\(line)")
        #expect(r.diagnostics.contains { $0.description.contains("/u/x.service:3") }, "\(line): \(r.diagnostics)")
    }

    @Test func lineMaxUpToItsLimitIsAccepted() {
        let r = Self.load("[Service]\nExecStart=/bin/true\nLineMax=16M\n")
        #expect(!r.hasErrors)
        #expect(r.config?.lineMax == 16 << 20)
    }

    @Test func aRestartBackoffNearTheLargestSpanDoesNotTrap() {
        var c = ServiceConfig(name: UnitName(parsing: "x.service")!)
        c.restartSec = TimeSpan(usec: .max - 2)
        c.restartMaxDelay = TimeSpan(usec: .max - 1)
        c.restartSteps = 3
        let m = ServiceMachine(config: c, now: MonotonicInstant(ns: 1))
        #expect(m.nextRestartDelay.usec >= c.restartSec.usec)
        #expect(m.nextRestartDelay.usec <= c.restartMaxDelay.usec)
    }

    @Test(arguments: ["@1e300", "@inf", "@1e14", "+600000y"])
    func sinceValuesPastAnyLogAreRefused(_ text: String) {
        #expect(TimeParsing.parse(text, now: 1_800_000_000_000_000) == nil, "\(text)")
    }

    @Test func mainPIDMayNotNameTheManagerOrPID1() throws {
        let f = try FakeManager(units: ["svc.service": "[Service]\nType=notify\nNotifyAccess=all\nExecStart=/usr/bin/svc\n"])
        #expect(!f.job(.start, "svc").finished)
        let pid = try #require(f.system.running("/usr/bin/svc").first?.pid)
        let socket = try #require(f.unit("svc")?.notifyPath)
        f.system.notify(socket, "MAINPID=\(f.system.managerPID)", from: pid, uid: 0)
        f.system.notify(socket, "MAINPID=1", from: pid, uid: 0)
        #expect(f.unit("svc")?.machine?.mainPID == pid)
        f.system.notify(socket, "READY=1", from: pid)
        #expect(f.sub("svc") == "running")
        #expect(f.job(.stop, "svc").ok)
        #expect(!f.system.signalLog.contains { $0.pid == f.system.managerPID || $0.pid == 1 })
    }

    /// With a deep state directory the notify sockets get abstract names: random ones, and a name someone else
    /// already holds is replaced by another instead of failing the start.
    @Test func abstractNotifyNamesAreRandomAndATakenOneIsReplaced() throws {
        let deep = "/tmp/" + String(repeating: "d", count: 120)
        let f = try FakeManager(units: [
            "a.service": "[Service]\nType=notify\nExecStart=/usr/bin/a\n",
            "b.service": "[Service]\nType=notify\nExecStart=/usr/bin/b\n",
        ], stateDir: deep, prepare: { $0.takenAbstractNames = 1 })
        _ = f.job(.start, "a")
        _ = f.job(.start, "b")
        let a = try #require(f.unit("a")?.notifyPath)
        let b = try #require(f.unit("b")?.notifyPath)
        #expect(a.hasPrefix("@tend/\(f.system.managerPID)/") && b.hasPrefix("@tend/\(f.system.managerPID)/"))
        #expect(a != b)
        let suffix = a.split(separator: "-").last.map(String.init) ?? ""
        #expect(suffix.count >= 8 && UInt64(suffix, radix: 16) != nil, "\(a)")
        #expect(f.system.running("/usr/bin/a").count == 1, "the start went on after the taken name")
    }

    /// A flood of refused datagrams (NotifyAccess=all, from a process that isn't the service's) costs one look
    /// at the process table per sender and wakeup, not one per datagram; the service's own READY=1 still counts.
    @Test func aNotifyFloodFromAStrangerIsRefusedCheaply() throws {
        let f = try FakeManager(units: ["svc.service": "[Service]\nType=notify\nNotifyAccess=all\nExecStart=/usr/bin/svc\n"])
        _ = f.job(.start, "svc")
        let pid = try #require(f.system.running("/usr/bin/svc").first?.pid)
        let socket = try #require(f.unit("svc")?.notifyPath)
        let before = f.system.processLookups
        f.system.notify(socket, Array(repeating: "STATUS=flood", count: 400), from: 999_999)
        #expect(f.unit("svc")?.notifyRejected == 400)
        #expect(f.system.processLookups - before <= 2, "\(f.system.processLookups - before) lookups")
        f.system.notify(socket, ["STATUS=serving", "READY=1"], from: pid)
        #expect(f.sub("svc") == "running")
    }
}
