import Testing

@testable import TendModel

/// A service directory as the engine runs it: runsv's rules as settings of the one state machine (driven on a
/// fake clock), and the s6-style extra files, each bad one refused with its file:line.
@Suite struct ServiceDirectoryConfigTests {
    static let name = ServiceDirectoryConfig.unitName("web", role: .service)

    static func config(_ files: ServiceDirectoryFiles = ServiceDirectoryFiles()) -> (ServiceConfig, [String]) {
        ServiceDirectoryConfig.make(name: name, directory: "/service/web", files: files)
    }

    @Test func namesOfThePair() {
        #expect(ServiceDirectoryConfig.unitName("web", role: .service).description == "web.dir")
        #expect(ServiceDirectoryConfig.unitName("web", role: .log).description == "web.log.dir")
        #expect(UnitName(parsing: "web.dir")?.suffix == "dir")
    }

    @Test func runsvDefaults() {
        let (c, problems) = Self.config()
        #expect(problems.isEmpty)
        #expect(c.execStart.map(\.words) == [["/service/web/run"]])
        #expect(c.execStart.first?.noExpansion == true, "a $ in a directory name is not a variable")
        #expect(c.execStopPost.isEmpty, "no finish, no ExecStopPost=")
        #expect(c.workingDirectory == "/service/web")
        #expect(c.restart == .always && c.restartSec == .zero && c.shortRunPause == .seconds(1))
        #expect(c.startLimitBurst == 0, "runsv has no start limit")
        #expect(c.killMode == .process && c.killSignal == 15 && !c.sendSIGKILL && c.timeoutStop.isInfinite)
        #expect(c.type == .simple && c.readinessFD == nil)
    }

    @Test func extraFiles() {
        var f = ServiceDirectoryFiles()
        f.hasFinish = true
        f.timeoutKill = "2500"
        f.notificationFD = "5"
        f.maxDeathTally = "3"
        f.downSignal = "HUP"
        let (c, problems) = Self.config(f)
        #expect(problems.isEmpty)
        #expect(c.execStopPost.map(\.words) == [["/service/web/finish"]])
        #expect(c.execStopPost.first?.ignoreFailure == true)
        #expect(c.timeoutStop == .milliseconds(2500) && c.sendSIGKILL)
        #expect(c.readinessFD == 5 && c.type == .notify)
        #expect(c.processLogLimit == 3)
        #expect(c.killSignal == 1)
    }

    @Test func badExtraFilesAreIgnoredWithTheirPlace() {
        var f = ServiceDirectoryFiles()
        f.timeoutKill = "soon"
        f.notificationFD = "2"
        f.maxDeathTally = "99999999999999999999999"
        f.downSignal = "SIGNOPE"
        let (c, problems) = Self.config(f)
        #expect(problems == [
            "/service/web/timeout-kill:1: \"soon\" is not a number of milliseconds; ignored",
            "/service/web/notification-fd:1: \"2\" is not a descriptor number from 3 to 1023; ignored",
            "/service/web/max-death-tally:1: \"99999999999999999999999\" is not a number from 0 to 4096; ignored",
            "/service/web/down-signal:1: \"SIGNOPE\" is not a signal; ignored",
        ])
        #expect(!c.sendSIGKILL && c.readinessFD == nil && c.processLogLimit == 16 && c.killSignal == 15)
        // Overflowing milliseconds are refused, not wrapped.
        f = ServiceDirectoryFiles()
        f.timeoutKill = String(UInt64.max)
        #expect(Self.config(f).1.count == 1)
        f.timeoutKill = "0"
        #expect(Self.config(f).1.isEmpty && !Self.config(f).0.sendSIGKILL, "0: no kill, as s6")
    }

    /// runsv: at once after a run that lived a second or more, after 1 s when it lived less.
    @Test func restartPauseFollowsHowLongRunLived() {
        var d = MachineDriver(Self.config().0)
        d.send(.start)
        #expect(d.state == .running)
        d.advance(.seconds(2))
        d.exitMain(.exited(0))
        #expect(d.state == .autoRestart)
        #expect(d.timer == d.now, "lived 2 s: restarted at once")
        d.advance(.zero)
        #expect(d.state == .running)
        d.advance(.milliseconds(200))
        d.exitMain(.exited(1))
        #expect(d.state == .autoRestart)
        #expect(d.timer == d.now + .seconds(1), "lived 0.2 s: a 1 s pause")
        d.advance(.milliseconds(999))
        #expect(d.state == .autoRestart)
        d.advance(.milliseconds(1))
        #expect(d.state == .running)
        #expect(d.machine.restartCount == 2)
    }

    @Test func processLogKeepsMaxDeathTallyEntries() {
        func ended(tally: String?) -> Int {
            var f = ServiceDirectoryFiles()
            f.hasFinish = true
            f.maxDeathTally = tally
            var d = MachineDriver(Self.config(f).0)
            d.send(.start)
            d.advance(.seconds(2))
            d.exitMain(.exited(0))
            d.exitControl(.exited(0))  // finish
            return d.machine.processLog.count
        }
        #expect(ended(tally: nil) == 2, "run and finish")
        #expect(ended(tally: "1") == 1)
    }
}
