import Testing

@testable import TendModel
@testable import TendSystem
@testable import TendEngine

struct NotifyMessageTests {
    @Test func parsesEveryKnownKey() throws {
        let text = """
            READY=1
            STATUS=Serving 3 clients
            MAINPID=4242
            WATCHDOG=1
            WATCHDOG_USEC=2000000
            EXTEND_TIMEOUT_USEC=5000000
            ERRNO=2
            BUSERROR=org.freedesktop.DBus.Error.Failed
            EXIT_STATUS=3
            NOTIFYACCESS=all
            RESTART_RESET=1
            FDSTORE=1
            FDNAME=listener
            FDPOLL=0
            X_CUSTOM=ignored
            """
        let m = try NotifyMessage.parse(Array(text.utf8))
        #expect(m.ready && m.watchdogPing && m.restartReset && m.fdStore)
        #expect(m.status == "Serving 3 clients")
        #expect(m.mainPID == 4242)
        #expect(m.watchdogUsec == 2_000_000)
        #expect(m.extendTimeoutUsec == 5_000_000)
        #expect(m.errno == 2 && m.exitStatus == 3)
        #expect(m.busError == "org.freedesktop.DBus.Error.Failed")
        #expect(m.notifyAccess == .all)
        #expect(m.fdName == "listener" && m.fdPoll == false)
    }

    @Test func reloadingStoppingBarrierAndTrigger() throws {
        let m = try NotifyMessage.parse(Array("RELOADING=1\nMONOTONIC_USEC=123\n".utf8))
        #expect(m.reloading && m.monotonicUsec == 123)
        #expect(try NotifyMessage.parse(Array("STOPPING=1".utf8)).stopping)
        #expect(try NotifyMessage.parse(Array("BARRIER=1".utf8)).barrier)
        #expect(try NotifyMessage.parse(Array("WATCHDOG=trigger".utf8)).watchdogTrigger)
    }

    @Test func trailingNewlinesAndSeparateDatagramsAsRedisSendsThem() throws {
        #expect(try NotifyMessage.parse(Array("READY=1\n".utf8)).ready)
        #expect(try NotifyMessage.parse(Array("STATUS=Ready to accept connections\n".utf8)).status
            == "Ready to accept connections")
    }

    @Test func latin1StatusIsShownLossilyNotDropped() throws {
        let bytes: [UInt8] = Array("STATUS=caf".utf8) + [0xE9] + Array(" ok".utf8)
        let m = try NotifyMessage.parse(bytes)
        #expect(m.status == "caf\u{FFFD} ok")
    }

    @Test(arguments: [
        "READY=2", "MAINPID=abc", "MAINPID=1", "MAINPID=-5", "WATCHDOG=0", "WATCHDOG_USEC=-1", "NOTIFYACCESS=some",
        "FDNAME=a:b", "no equals sign", "EXIT_STATUS=300", "ERRNO=-1", "EXTEND_TIMEOUT_USEC=soon",
    ])
    func malformedMessagesAreRefusedWhole(_ text: String) {
        #expect(throws: NotifyMessage.ParseError.self) { try NotifyMessage.parse(Array(("STATUS=x\n" + text).utf8)) }
    }

    @Test func emptyAndJunk() {
        #expect(throws: NotifyMessage.ParseError.empty) { try NotifyMessage.parse([UInt8]()) }
        #expect(throws: NotifyMessage.ParseError.empty) { try NotifyMessage.parse(Array("\n\n".utf8)) }
        #expect(throws: NotifyMessage.ParseError.self) { try NotifyMessage.parse([0, 1, 2, 255, 254]) }
    }

    @Test func unknownKeysAloneAreAValidMessage() throws {
        let m = try NotifyMessage.parse(Array("X_FOO=1\nSOMETHING_NEW=yes".utf8))
        #expect(m == NotifyMessage())
    }
}

/// Random datagrams (capped at the 4096 bytes the manager reads) never crash the parser, and whatever parses
/// has only known values.
@Test func randomDatagramsNeverCrashTheParser() {
    var rng = SystemRandomNumberGenerator()
    let keys = ["READY", "STATUS", "MAINPID", "WATCHDOG", "WATCHDOG_USEC", "FDNAME", "NOTIFYACCESS", "ERRNO", "X_Y", ""]
    let values = ["1", "0", "trigger", "-1", "99999999999999999999", "all", "a:b", "", "\u{0}", "é", "12abc"]
    for _ in 0..<5000 {
        var bytes: [UInt8] = []
        for _ in 0..<Int.random(in: 0..<8, using: &rng) {
            if Bool.random(using: &rng) {
                bytes += Array((keys.randomElement(using: &rng)! + "=" + values.randomElement(using: &rng)!).utf8)
            } else {
                bytes += (0..<Int.random(in: 0..<32, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            }
            bytes.append(10)
        }
        if let m = try? NotifyMessage.parse(bytes.prefix(NotifyMessage.maxSize)) {
            if let p = m.mainPID { #expect(p > 1) }
            if let n = m.fdName { #expect(!n.contains(":")) }
        }
    }
}
