import Testing
import TendModel

@testable import TendControl

/// The control protocol's codec (docs/control-protocol.md): every request, reply, event and error survives the
/// wire, malformed input gets the right code, and each code has its one exit status.
struct ControlProtocolTests {
    static let requests: [ControlRequest] = JobVerb.allCases.flatMap { verb in
        [ControlRequest.job(verb, units: ["web"], noBlock: false), .job(verb, units: ["a", "b.service"], noBlock: true)]
    } + [
        .status(units: [], lines: 10), .status(units: ["web", "db"], lines: 0), .list(all: false), .list(all: true),
        .show(units: ["web"]), .cat(units: ["web", "db"]), .kill(units: ["web"], signal: 15, who: .all),
        .kill(units: ["web"], signal: 10, who: .main), .resetFailed(units: []), .resetFailed(units: ["web"]),
        .daemonReload, .daemonReexec, .enable(units: ["web"]), .disable(units: ["web", "db"]), .isEnabled(units: ["web"]),
        .dependencies, .unitsChanged, .ping, .subscribe(units: []), .subscribe(units: ["web"]), .subscribe(units: ["web"], logs: true),
    ]

    @Test(arguments: requests)
    func everyRequestRoundTrips(_ request: ControlRequest) throws {
        let line = request.bytes()
        #expect(line.last == 10)
        #expect(line.dropLast().contains(10) == false, "one line per request")
        #expect(try ControlRequest(line: line.dropLast()) == request)
        #expect(try ControlRequest(json: request.json) == request)
        #expect(request.json["cmd"]?.string == request.command)
    }

    @Test func everyCommandIsCovered() {
        #expect(Set(Self.requests.map(\.command)) == Set(ControlRequest.commands))
    }

    @Test func theWireIsTheOldOne() throws {
        // What older clients sent keeps working, and what we send reads the same.
        #expect(try ControlRequest(line: Array(#"{"cmd":"start","units":["web"],"noBlock":true}"#.utf8))
            == .job(.start, units: ["web"], noBlock: true))
        #expect(try ControlRequest(line: Array(#"{"cmd":"stop","units":["web"]}"#.utf8)) == .job(.stop, units: ["web"], noBlock: false))
        #expect(try ControlRequest(line: Array(#"{"cmd":"status"}"#.utf8)) == .status(units: [], lines: 10))
        #expect(try ControlRequest(line: Array(#"{"cmd":"kill","units":["x"],"who":"main","signal":9}"#.utf8))
            == .kill(units: ["x"], signal: 9, who: .main))
        #expect(try ControlRequest(line: Array(#"{"cmd":"ping","version":1,"extra":[1,2]}"#.utf8)) == .ping)
        #expect(ControlRequest.job(.start, units: ["web"], noBlock: false).json.serialized()
            == #"{"cmd":"start","units":["web"],"noBlock":false}"#)
    }

    static let malformed: [(String, ControlErrorCode)] = [
        ("", .malformedRequest), ("garbage", .malformedRequest), ("{", .malformedRequest), ("[1]", .malformedRequest),
        ("\"start\"", .malformedRequest), ("{}", .malformedRequest), (#"{"cmd":5}"#, .malformedRequest),
        (#"{"cmd":null}"#, .malformedRequest), (#"{"cmd":"frobnicate"}"#, .unknownCommand),
        (#"{"cmd":"START"}"#, .unknownCommand), (#"{"cmd":"start"}"#, .invalidArgument),
        (#"{"cmd":"start","units":[]}"#, .invalidArgument), (#"{"cmd":"enable","units":[]}"#, .invalidArgument),
        (#"{"cmd":"start","units":"web"}"#, .malformedRequest), (#"{"cmd":"start","units":[1]}"#, .malformedRequest),
        (#"{"cmd":"start","units":["web"],"noBlock":"yes"}"#, .malformedRequest),
        (#"{"cmd":"status","lines":"ten"}"#, .malformedRequest), (#"{"cmd":"status","lines":-1}"#, .malformedRequest),
        (#"{"cmd":"status","lines":1.5}"#, .malformedRequest), (#"{"cmd":"list","all":1}"#, .malformedRequest),
        (#"{"cmd":"kill","units":["x"],"signal":0}"#, .invalidArgument),
        (#"{"cmd":"kill","units":["x"],"signal":65}"#, .invalidArgument),
        (#"{"cmd":"kill","units":["x"],"signal":4294967311}"#, .invalidArgument),
        (#"{"cmd":"kill","units":["x"],"signal":-9223372036854775808}"#, .invalidArgument),
        (#"{"cmd":"kill","units":["x"],"who":"everyone"}"#, .invalidArgument),
        (#"{"cmd":"kill","units":["x"],"signal":"TERM"}"#, .malformedRequest),
        (#"{"cmd":"subscribe","units":{"a":1}}"#, .malformedRequest),
    ]

    @Test(arguments: malformed)
    func malformedInputGetsItsCode(_ text: String, _ code: ControlErrorCode) {
        do {
            let r = try ControlRequest(line: Array(text.utf8))
            Issue.record("\(text) decoded as \(r)")
        } catch {
            #expect(error.code == code, "\(text): \(error.message)")
            #expect(!error.message.isEmpty)
        }
    }

    @Test func randomBytesNeverCrashTheDecoder() {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array(#"{}[]",:0123456789.-etrufalsn \cmdunitsstartkilljob"#.utf8)
        for _ in 0..<3000 {
            let bytes = (0..<Int.random(in: 0..<80, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            _ = try? ControlRequest(line: bytes)
        }
    }

    @Test func errorCodesHaveTheirExitStatuses() {
        let table: [ControlErrorCode: Int32] = [
            .malformedRequest: 1, .requestTooLarge: 1, .unknownCommand: 1, .invalidArgument: 1, .accessDenied: 4,
            .unitNotFound: 5, .noSuchUnit: 4, .badUnitName: 1, .badSetting: 1, .jobFailed: 1, .notActive: 1,
            .noMainProcess: 1, .noUnitFiles: 1, .installFailed: 1, .shuttingDown: 1, .connectionFailed: 1,
            .protocolError: 1, .timedOut: 1, .failed: 1,
        ]
        #expect(Set(table.keys) == Set(ControlErrorCode.allCases), "every code is in the table (and the docs)")
        for (code, exit) in table {
            #expect(code.exitStatus == exit, "\(code.rawValue)")
            #expect(ControlError(code, "x").exitStatus == exit)
        }
        // Stable strings: these are the protocol.
        #expect(ControlErrorCode.unitNotFound.rawValue == "unit-not-found")
        #expect(ControlErrorCode.malformedRequest.rawValue == "malformed-request")
        #expect(ControlErrorCode(rawValue: "access-denied") == .accessDenied)
    }

    @Test func errorsRoundTrip() throws {
        let single = ControlError(.badSetting, "Unit bad.service has a bad setting:\nbad.service:3: Restart=", unit: "bad.service")
        #expect(ControlError(json: try JSON.parse(single.json.serialized())) == single)
        #expect(single.json["ok"] == .bool(false))
        #expect(single.json["exit"] == .int(1))
        let both = ControlError.combined([
            ControlError(.jobFailed, "Job for a.service failed.", unit: "a.service"),
            ControlError(.unitNotFound, "Unit nope.service not found.", unit: "nope.service"),
        ])!
        #expect(both.code == .unitNotFound && both.exitStatus == 5)
        #expect(both.message == "Job for a.service failed.\nUnit nope.service not found.")
        #expect(ControlError(json: both.json) == both)
        #expect(ControlError.combined([]) == nil)
        #expect(ControlError.combined([single]) == single)
    }

    @Test func unknownCodesKeepTheWiresExitStatus() throws {
        let newer = ControlError(json: try JSON.parse(#"{"ok":false,"error":"Quota.","code":"over-quota","exit":7}"#))
        #expect(newer.code == .failed && newer.exitStatus == 7 && newer.message == "Quota.")
        let older = ControlError(json: try JSON.parse(#"{"ok":false,"error":"Unit x not found.","exit":5}"#))
        #expect(older.exitStatus == 5)
        // A known code decides, whatever `exit` says.
        let known = ControlError(json: try JSON.parse(#"{"ok":false,"error":"e","code":"no-such-unit","exit":1}"#))
        #expect(known.code == .noSuchUnit && known.exitStatus == 4)
    }

    func roundTrip<R: ControlReply>(_ reply: R) throws {
        let line = reply.json.serialized()
        #expect(try R(reply: JSON.parse(line)) == reply, "\(line)")
        #expect(reply.json["ok"] == .bool(true))
    }

    @Test func everyReplyRoundTrips() throws {
        try roundTrip(OKReply())
        var full = UnitInfo(unit: "web.service", load: "loaded", active: "failed", sub: "failed", description: "Web")
        full.mainPID = 0
        full.fragmentPath = "/u/web.service"
        full.dropIns = ["/u/web.service.d/a.conf"]
        full.enabled = "enabled"
        full.result = "exit-code"
        full.since = 1_796_191_458_036_902
        full.controlPID = 0
        full.nRestarts = 3
        full.execMain = UnitInfo.ExecMain(pid: 41, code: "exited", status: 1, statusText: "code=exited, status=1/FAILURE")
        full.processes = [UnitInfo.ProcessEntry(pid: 40, command: "ExecStartPre=/bin/check", code: "exited", status: 0,
                                                text: "code=exited, status=0/SUCCESS")]
        full.statusText = "Serving \"x\""
        full.notify = UnitInfo.NotifyCounters(access: "main", accepted: 2, rejected: 1, malformed: 0)
        full.diagnostics = ["/u/web.service:3: Restart=: invalid value"]
        full.log = ["2026-11-22T02:50:01.123456Z out 41 hello"]
        var brief = UnitInfo(unit: "a.target", load: "loaded", active: "active", sub: "active", description: "A")
        brief.mainPID = 0
        try roundTrip(StatusReply(units: [full, brief], missing: ["nope.service"]))
        #expect(throws: ControlError.self) {
            try StatusReply(reply: JSON.parse(#"{"ok":true,"units":[{"active":"active"}]}"#))
        }
        try roundTrip(StatusReply(units: []))
        try roundTrip(ShowReply(units: [[UnitProperty("Id", "web.service"), UnitProperty("ExecStart", "/bin/a ; /bin/b")], []]))
        try roundTrip(CatReply(texts: ["# /u/web.service\n[Service]\nExecStart=/bin/true\n", ""]))
        try roundTrip(InstallReply(changes: [InstallChange(kind: .created, path: "/u/multi-user.target.wants/web.service",
                                                           target: "/u/web.service"),
                                             InstallChange(kind: .removed, path: "/u/x.wants/db.service")],
                                   notes: ["db.service has no [Install] section."], unitDir: "/u"))
        try roundTrip(InstallReply(changes: []))
        try roundTrip(IsEnabledReply(states: ["enabled", "static", "not-found"]))
        var timeline = AnalyzeUnit(name: "a.service", activeState: "active", subState: "running", activating: 0.25,
                                   active: 0.5, heldBy: "db.service", edges: [.requires: ["db.service"], .after: ["db.service"]])
        timeline.description = "A"
        timeline.jobResult = "done"
        var idle = AnalyzeUnit(name: "b.target", activeState: "inactive")
        idle.description = "B"
        try roundTrip(DependenciesReply(units: [timeline, idle],
                                        now: 1.25, unitPaths: ["/u"]))
        try roundTrip(DependenciesReply(units: [], now: nil, unitPaths: []))
        try roundTrip(PingReply(pid: 42, logDir: "/var/log/tend", subscribers: 3, rejected: 2, unitPaths: ["/etc/tend/units"]))
        try roundTrip(SubscribeReply(units: ["web.service"]))
    }

    @Test func aFailedReplyIsThrownAsItsError() throws {
        let e = ControlError(.noSuchUnit, "Unit nope not found.", unit: "nope")
        #expect(throws: e) { try ShowReply(reply: e.json) }
        #expect { try OKReply(reply: JSON.parse(#"{"units":[]}"#)) } throws: { ($0 as? ControlError)?.code == .protocolError }
        #expect { try CatReply(reply: JSON.parse(#"{"ok":true,"texts":[1]}"#)) } throws: {
            ($0 as? ControlError)?.code == .protocolError
        }
    }

    @Test func pingCarriesTheProtocolVersion() {
        let ping = PingReply(pid: 1, logDir: "/l", subscribers: 0, rejected: 0)
        #expect(ping.json["version"] == .int(ControlProtocol.version))
        #expect(ping.json["tend"] == .string(tendVersion))
        #expect(ping.json["logDir"] == .string("/l"))  // `tend logs` reads it from here
    }

    static let events: [ControlEvent] = [
        ControlEvent(unit: "web.service", change: .state(active: .activating, sub: "start", result: "success"), time: 1),
        ControlEvent(unit: "web.service", change: .state(active: .failed, sub: "failed", result: "exit-code"), time: 2),
        ControlEvent(unit: "web.service", change: .job(job: "start", result: .done), time: 1_796_191_458_037_472),
        ControlEvent(unit: "a.target", change: .job(job: "stop", result: .dependency), time: 0),
        ControlEvent(unit: "web.service", change: .log(stream: "stderr", pid: 4242, text: "a \"quoted\" line ✓"), time: 3),
    ]

    @Test(arguments: events)
    func eventsRoundTrip(_ event: ControlEvent) throws {
        #expect(try ControlEvent(json: JSON.parse(event.json.serialized())) == event)
    }

    @Test func eventsHaveTheirDocumentedShape() throws {
        #expect(Self.events[0].json.serialized()
            == #"{"event":"unit","unit":"web.service","active":"activating","sub":"start","result":"success","time":1}"#)
        #expect(Self.events[2].json.serialized()
            == #"{"event":"job","unit":"web.service","job":"start","result":"done","time":1796191458037472}"#)
        #expect { try ControlEvent(json: JSON.parse(#"{"event":"unit","unit":"x","active":"sleepy"}"#)) } throws: {
            ($0 as? ControlError)?.code == .protocolError
        }
        #expect { try ControlEvent(json: JSON.parse(#"{"event":"party","unit":"x"}"#)) } throws: {
            ($0 as? ControlError)?.code == .protocolError
        }
    }
}

extension ControlRequest: CustomTestStringConvertible {
    public var testDescription: String { json.serialized() }
}

extension ControlEvent: CustomTestStringConvertible {
    public var testDescription: String { json.serialized() }
}
