import CTend
import Glibc
import Testing
import TendControl
import TendModel
import TendSystem

/// The control protocol against a real daemon: subscriptions (`tend watch` and a raw client) see the exact
/// events of a start and a stop, end with their client, and a slow subscriber is cut off; malformed and
/// oversized requests get their error codes and leave the manager serving.
@Suite struct ControlTests {
    static let service = "[Service]\nExecStart=/bin/sleep 1000\n"

    func ping(_ h: DaemonHarness) -> PingReply? { try? ControlClient.call(stateDir: h.state, .ping, as: PingReply.self) }

    /// The events of one unit, as `active(sub)` for states (consecutive equal active states folded into the
    /// first) and `job:result` for jobs.
    func summary(_ events: [ControlEvent]) -> [String] {
        var out: [String] = []
        var lastActive: ActiveState?
        for e in events {
            switch e.change {
            case .state(let active, let sub, _):
                if active != lastActive { out.append("\(active.rawValue)(\(sub))") }
                lastActive = active
            case .job(let job, let result):
                out.append("\(job):\(result.rawValue)")
            case .log(_, _, let text):
                out.append("log:\(text)")
            }
        }
        return out
    }

    static let startThenStop = ["activating(start)", "active(running)", "start:done", "deactivating(stop-sigterm)",
                                "inactive(dead)", "stop:done"]

    @Test func watchAndARawSubscriptionSeeStartAndStopInOrder() throws {
        let h = DaemonHarness()
        h.writeUnit("web.service", Self.service)
        h.writeUnit("other.service", Self.service)
        h.start(extraArgs: ["--no-start"])
        #expect(ping(h)?.subscribers == 0)
        #expect(ping(h)?.version == ControlProtocol.version)

        // `tend watch web -o json` into a file, and an unfiltered subscription of our own.
        let file = h.root + "/watch.out"
        let watcher = h.spawnBackground([tendBinary, "watch", "web", "--output", "json"], stdout: file)
        #expect(watcher > 0)
        defer {
            if watcher > 0 {
                _ = kill(watcher, SIGKILL)
                var st: Int32 = 0
                _ = waitpid(watcher, &st, 0)
            }
        }
        var raw: ControlClient? = try ControlClient(stateDir: h.state)
        let ack = try raw!.subscribe(units: [])
        #expect(ack.version == ControlProtocol.version && ack.units.isEmpty)
        // Both subscriptions are registered before anything happens (the watcher's is the observable condition).
        #expect(waitUntil(10) { ping(h)?.subscribers == 2 })

        #expect(h.tend("start", "web").status == 0)
        #expect(h.tend("start", "other").status == 0)
        #expect(h.tend("stop", "web").status == 0)

        // The raw client: every unit's events; web's are exactly the start and the stop.
        var received: [ControlEvent] = []
        while !received.contains(where: { $0.unit == "web.service" && $0.change == .job(job: "stop", result: .done) }) {
            guard let e = try raw!.nextEvent(timeout: 10_000) else { break }
            received.append(e)
        }
        #expect(summary(received.filter { $0.unit == "web.service" }) == Self.startThenStop)
        #expect(summary(received.filter { $0.unit == "other.service" }) == ["activating(start)", "active(running)", "start:done"])
        #expect(received.allSatisfy { $0.time > 0 })

        // `tend watch web`: only web, one JSON line per event, each line as soon as it happened.
        var lines: [String] = []
        #expect(waitUntil(10) {
            lines = h.readFile(file).split(separator: "\n").map(String.init)
            return lines.last?.contains(#""job":"stop""#) == true
        })
        let watched = lines.compactMap { try? ControlEvent(json: JSON.parse($0)) }
        #expect(watched.count == lines.count, "every line is an event")
        #expect(watched.allSatisfy { $0.unit == "web.service" })
        #expect(summary(watched) == Self.startThenStop)
        #expect(watched.map(\.change) == received.filter { $0.unit == "web.service" }.map(\.change))

        // Each client going away ends its subscription.
        raw = nil
        #expect(waitUntil(10) { ping(h)?.subscribers == 1 })
        _ = kill(watcher, SIGTERM)
        var status: Int32 = 0
        #expect(waitUntil(10) { waitpid(watcher, &status, WNOHANG) == watcher })
        #expect(waitUntil(10) { ping(h)?.subscribers == 0 })
    }

    /// `"logs": true`: the records a unit writes arrive on the stream as they are captured, with their stream,
    /// pid and text, after the state change that started the writer and before the one it caused.
    @Test func aSubscriptionWithLogsGetsTheRecordsAsTheyAreCaptured() throws {
        let h = DaemonHarness()
        h.writeUnit("talker.service", "[Service]\nType=oneshot\nStandardError=journal\nExecStart=/bin/sh -c 'echo hello; echo oops >&2'\n")
        h.writeUnit("quiet.service", "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo not this one'\n")
        h.start(extraArgs: ["--no-start"])
        let client = try ControlClient(stateDir: h.state)
        _ = try client.subscribe(units: ["talker"], logs: true)
        #expect(h.tend("start", "quiet").status == 0)
        #expect(h.tend("start", "talker").status == 0)
        var received: [ControlEvent] = []
        while !received.contains(where: { $0.change == .job(job: "start", result: .done) }) {
            guard let e = try client.nextEvent(timeout: 10_000) else { break }
            received.append(e)
        }
        #expect(received.allSatisfy { $0.unit == "talker.service" })
        let logs = received.compactMap { e -> String? in
            if case .log(let stream, let pid, let text) = e.change, stream != "tend" {
                return "\(stream) \(pid > 0) \(text)"
            }
            return nil
        }
        #expect(logs.sorted() == ["stderr true oops", "stdout true hello"])
        let texts = summary(received)
        // The output arrives between the start of the command and the job's end.
        let firstLog = texts.firstIndex { $0.hasPrefix("log:") && !$0.contains("Start") } ?? 0
        #expect(texts.first == "activating(start)")
        #expect(firstLog > 0 && firstLog < texts.firstIndex(of: "start:done")!)
    }

    @Test func watchTextLinesAndTheEndOfTheStream() throws {
        let h = DaemonHarness()
        h.writeUnit("web.service", Self.service)
        h.start(extraArgs: ["--no-start"])
        let file = h.root + "/watch.txt"
        let watcher = h.spawnBackground([tendBinary, "watch"], stdout: file)
        #expect(waitUntil(10) { ping(h)?.subscribers == 1 })
        #expect(h.tend("start", "web").status == 0)
        #expect(waitUntil(10) { h.readFile(file).contains("web.service: start job done") })
        let text = h.readFile(file)
        #expect(text.contains("web.service: activating (start)\n"))
        #expect(text.contains("web.service: active (running)\n"))
        // The manager stopping ends the stream: watch prints the stop and exits 0.
        #expect(h.stop() == 0)
        var status: Int32 = 0
        #expect(waitUntil(10) { waitpid(watcher, &status, WNOHANG) == watcher })
        #expect((status >> 8) & 0xff == 0)
        #expect(h.readFile(file).contains("web.service: inactive (dead)\n"))
    }

    @Test func aSubscriberThatDoesNotReadIsCutOff() throws {
        let h = DaemonHarness()
        // Restarts as fast as it can, without a start limit: a stream of events.
        h.writeUnit("flap.service", """
            [Unit]
            StartLimitIntervalSec=0
            [Service]
            ExecStart=/bin/true
            Restart=always
            RestartSec=0
            """)
        h.start(extraArgs: ["--no-start"])
        let slow = try ControlClient(stateDir: h.state)
        _ = try slow.subscribe(units: ["flap"])
        #expect(ping(h)?.subscribers == 1)
        #expect(h.tend("start", "--no-block", "flap").status == 0)
        // More than maxEventBacklog (plus the socket's buffers) piles up; the manager drops the subscriber.
        #expect(waitUntil(60) { ping(h)?.subscribers == 0 })
        #expect(h.tend("stop", "flap").status == 0)
        // What reached the socket before the cut reads as events (the last line may be cut short), then the
        // stream ends.
        var lines: [[UInt8]] = []
        while let line = try slow.readLine(timeout: 10_000) { lines.append(line) }
        let events = lines.compactMap { try? ControlEvent(json: JSON.parse($0)) }
        #expect(events.count >= lines.count - 1)
        #expect(events.count > 10)
        #expect(events.allSatisfy { $0.unit == "flap.service" })
        #expect(ping(h) != nil, "the manager still serves")
    }

    /// Writes raw bytes on a fresh connection and returns the reply line, bounded.
    func rawExchange(_ h: DaemonHarness, _ bytes: [UInt8]) -> JSON? {
        let fd = ctend_unix_connect(h.state + "/" + ControlProtocol.socketName)
        guard fd >= 0 else { return nil }
        defer { Posix.close(fd) }
        _ = try? Posix.write(fd, bytes)
        var reply: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        let deadline = Posix.monotonicNow + TimeSpan(usec: 10_000_000)
        while !reply.contains(10) && Posix.monotonicNow < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&p, 1, 100)
            let n = buf.withUnsafeMutableBytes { b -> Int in (try? Posix.read(fd, into: b)).flatMap { $0 } ?? -1 }
            if n == 0 { break }
            if n > 0 { reply += buf[0..<n] }
        }
        guard let nl = reply.firstIndex(of: 10) else { return nil }
        return try? JSON.parse(reply[..<nl])
    }

    @Test func malformedRequestsAreCountedAndAnsweredWithTheirCode() {
        let h = DaemonHarness()
        h.writeUnit("web.service", Self.service)
        h.start(extraArgs: ["--no-start"])
        let before = ping(h)?.rejected ?? -1
        let cases: [(String, String)] = [
            ("garbage\n", "malformed-request"), ("[1,2]\n", "malformed-request"), ("{\"units\":[]}\n", "malformed-request"),
            ("{\"cmd\":\"start\",\"units\":\"web\"}\n", "malformed-request"), ("{\"cmd\":\"explode\"}\n", "unknown-command"),
            ("{\"cmd\":\"start\",\"units\":[]}\n", "invalid-argument"),
        ]
        for (text, code) in cases {
            let reply = rawExchange(h, Array(text.utf8))
            #expect(reply?["ok"] == .bool(false), "\(text)")
            #expect(reply?["code"]?.string == code, "\(text)")
            #expect(reply?["exit"] == .int(1), "\(text)")
        }
        let huge = rawExchange(h, [UInt8](repeating: UInt8(ascii: "x"), count: ControlProtocol.maxRequest + 10))
        #expect(huge?["code"]?.string == "request-too-large")
        #expect(ping(h)?.rejected == before + cases.count + 1)
        // The errors the engine's answers map to, with systemctl's exit statuses.
        let missing = rawExchange(h, ControlRequest.job(.start, units: ["nope"], noBlock: false).bytes())
        #expect(missing?["code"]?.string == "unit-not-found" && missing?["exit"] == .int(5))
        let show = rawExchange(h, ControlRequest.show(units: ["nope"]).bytes())
        #expect(show?["code"]?.string == "no-such-unit" && show?["exit"] == .int(4))
        let idle = rawExchange(h, ControlRequest.kill(units: ["web"], signal: SIGTERM, who: .all).bytes())
        #expect(idle?["code"]?.string == "not-active")
        #expect(h.tend("start", "web").status == 0)
    }

    @Test func connectionFailuresHaveTheirOwnCode() {
        let h = DaemonHarness()
        #expect(throws: ControlError.self) { try ControlClient(stateDir: h.state) }
        do {
            _ = try ControlClient(stateDir: h.state)
        } catch {
            #expect(error.code == .connectionFailed && error.exitStatus == 1)
        }
        let r = h.tend("watch")
        #expect(r.status == 1)
        #expect(r.stderr.contains("is tend daemon running?"))
    }
}
