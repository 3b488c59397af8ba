import Glibc
import Testing
import TendControl
import TendModel
import TendServer
import TendSystem

@testable import TendEngine

/// The control server's subscriptions in one process: a real manager and server on their event loop, clients
/// on the same thread (non-blocking reads), events published straight into the manager's observers. Checks the
/// filter, the cut-off of a subscriber that doesn't read, and that every subscription leaves the manager's
/// observers when its client goes.
@Suite struct ControlServerTests {
    @Test func subscriptionsFilterAreCutOffAndLeaveNoObserver() throws {
        var template = Array("/tmp/tend-unit-XXXXXX".utf8CString)
        let root = String(cString: template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }!)
        defer { _ = system("rm -rf '\(root)'") }
        try Posix.mkdirs(root + "/units")
        try Posix.mkdirs(root + "/state")
        let manager = try Manager(options: ManagerOptions(unitPaths: [root + "/units"], stateDir: root + "/state",
                                                          logDir: root + "/logs"))
        manager.logHandler = { _, _ in }
        defer { manager.finishLogs() }
        let server = try ControlServer(manager: manager, path: root + "/state/" + ControlProtocol.socketName)
        defer { server.close() }

        // A reads and wants web.service only; B wants everything and never reads.
        var a: ControlClient? = try ControlClient(stateDir: root + "/state")
        let b = try ControlClient(stateDir: root + "/state")
        try a!.send(.subscribe(units: ["web"]))
        try b.send(.subscribe(units: []))

        let web = EngineEvent.unitChanged(unit: "web.service", activeState: .activating, subState: "start", result: "success")
        let other = EngineEvent.jobFinished(unit: "db.service", job: "start", result: .done)
        var linesOfA: [JSON] = []
        var observersWhileSubscribed = false
        var cutOff = false
        var phase = 0
        let giveUp = Posix.monotonicNow + TimeSpan(usec: 20_000_000)
        final class Owner {}
        let owner = Owner()

        func readA() {
            while let line = try? a?.readLine(timeout: 0) {
                if let j = try? JSON.parse(line) { linesOfA.append(j) }
            }
        }

        func tick() {
            switch phase {
            case 0 where server.subscribers == 2:
                observersWhileSubscribed = !manager.observers.isEmpty
                manager.observers.publish(web)
                manager.observers.publish(other)
                // ~100 bytes each: past maxEventBacklog and the socket's buffers for B; A's filter drops them.
                for i in 0..<(3 * ControlProtocol.maxEventBacklog / 100) {
                    manager.observers.publish(.jobFinished(unit: "flood-\(i % 7).service", job: "start", result: .done))
                }
                cutOff = server.subscribers == 1
                phase = 1
            case 1:
                readA()
                if linesOfA.count >= 2 {
                    phase = 2
                    // A goes away too: the last subscription ends.
                    a = nil
                }
            case 2 where server.subscribers == 0:
                manager.loop.stop()
                return
            default: break
            }
            if Posix.monotonicNow > giveUp {
                manager.loop.stop()
                return
            }
            manager.loop.setDeadline(ObjectIdentifier(owner), at: Posix.monotonicNow + TimeSpan(usec: 5_000), tick)
        }
        manager.loop.setDeadline(ObjectIdentifier(owner), at: Posix.monotonicNow, tick)
        manager.loop.run()

        #expect(observersWhileSubscribed)
        #expect(cutOff, "the subscriber that doesn't read is cut off as soon as its backlog is full")
        #expect(phase == 2 && server.subscribers == 0)
        #expect(manager.observers.isEmpty, "no observer is left behind")
        #expect(linesOfA.count == 2)
        #expect(linesOfA.first?["ok"] == .bool(true))
        #expect(try SubscribeReply(reply: linesOfA[0]).units == ["web.service"])
        let event = try ControlEvent(json: linesOfA[1])
        #expect(event.unit == "web.service" && event.change == .state(active: .activating, sub: "start", result: "success"))
        _ = b
    }
}
