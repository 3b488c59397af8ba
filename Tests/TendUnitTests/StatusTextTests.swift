import Testing
import TendControl
@testable import TendFormat

@Suite struct StatusTextTests {
    @Test func bytesAsSystemdPrintsThem() {
        #expect(StatusText.bytes(0) == "0B")
        #expect(StatusText.bytes(1023) == "1023B")
        #expect(StatusText.bytes(901_120) == "880.0K")
        #expect(StatusText.bytes(6_100_000) == "5.8M")
        #expect(StatusText.bytes(6_081_740) == "5.7M", "truncated, as systemd does")
        #expect(StatusText.bytes(1 << 30) == "1.0G")
    }

    @Test func liveProcessesAfterTheExitsOfEachCommand() {
        var u = UnitInfo(unit: "web.service", load: "loaded", active: "active", sub: "running", description: "Web")
        u.mainPID = 10
        u.processes = [.init(pid: 7, command: "ExecStart=/bin/web", code: "exited", status: 1, text: "code=exited, status=1/FAILURE")]
        u.processTree = [.init(pid: 10, ppid: 1, command: "/bin/web"), .init(pid: 11, ppid: 10, command: "worker")]
        u.tasks = 3
        u.memoryBytes = 2 << 20
        let s = StatusText.render(u, now: 0)
        #expect(s.contains("    Process: 7 ExecStart=/bin/web (code=exited, status=1/FAILURE)\n   Main PID: 10\n"))
        #expect(s.contains("      Tasks: 3\n     Memory: 2.0M\n  Processes: ├─10 /bin/web\n             └─11 worker\n"))
    }
}
