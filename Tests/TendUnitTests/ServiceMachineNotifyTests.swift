import Testing

@testable import TendModel
@testable import TendSystem
@testable import TendEngine

/// Type=notify, notify-reload, the watchdog and the other sd_notify events, with a fake clock.
@Suite struct ServiceMachineNotifyTests {
    func notifyService(_ change: (inout ServiceConfig) -> Void = { _ in }) -> MachineDriver {
        MachineDriver(serviceConfig {
            $0.type = .notify
            change(&$0)
        })
    }

    @Test func notifyServiceIsActivatingUntilReady() {
        var d = notifyService()
        d.send(.start)
        #expect(d.state == .start)
        #expect(d.activeState == .activating)
        #expect(d.jobs.isEmpty)
        d.advance(.seconds(1))
        d.send(.notify(.ready))
        #expect(d.state == .running)
        #expect(d.jobs == [.init(.start, true)])
    }

    @Test func neverReadyFailsAfterTimeoutStartSecWithResultTimeout() {
        var d = notifyService { $0.timeoutStart = .seconds(5) }
        d.send(.start)
        d.advance(.seconds(4))
        #expect(d.state == .start)
        d.advance(.seconds(1))
        #expect(d.state == .stopSigterm)
        #expect(d.kills.first == .init(.all, 15))
        d.settle()
        #expect(d.state == .failed)
        #expect(d.result == .timeout)
        #expect(d.jobs == [.init(.start, false)])
    }

    @Test func cleanExitBeforeReadyIsAProtocolFailure() {
        var d = notifyService()
        d.send(.start)
        d.exitMain(.exited(0))
        d.settle()
        #expect(d.state == .failed)
        #expect(d.result == .protocol)
    }

    @Test func extendTimeoutKeepsASlowStarterAlive() {
        var d = notifyService { $0.timeoutStart = .seconds(2) }
        d.send(.start)
        d.advance(.seconds(1))
        d.send(.notify(.extendTimeout(3_000_000)))  // until t=4s
        d.advance(.milliseconds(2500))  // t=3.5s: past the original limit
        #expect(d.state == .start)
        d.send(.notify(.ready))
        #expect(d.state == .running)
    }

    @Test func extendTimeoutNeverShortensTheLimit() {
        var d = notifyService { $0.timeoutStart = .seconds(10) }
        d.send(.start)
        d.send(.notify(.extendTimeout(1_000_000)))
        d.advance(.seconds(5))
        #expect(d.state == .start)
    }

    @Test func watchdogMissKillsWithSIGABRTAndRestartsOnWatchdog() {
        var d = notifyService {
            $0.watchdog = .seconds(2)
            $0.restart = .onWatchdog
            $0.timeoutStop = .seconds(5)
        }
        d.send(.start)
        d.send(.notify(.ready))
        #expect(d.watchdog == MachineDriver.origin + .seconds(2))
        d.advance(.milliseconds(1500))
        d.send(.notify(.watchdogPing))
        d.advance(.milliseconds(1900))
        #expect(d.state == .running, "a ping re-arms the watchdog")
        d.advance(.milliseconds(200))
        #expect(d.state == .stopWatchdog)
        #expect(d.kills.first == .init(.all, 6))
        d.exitMain(.killed(6))
        d.settle()
        #expect(d.result == .watchdog)
        #expect(d.state == .autoRestart)
    }

    @Test func watchdogEscalatesToFinalKillAfterTimeoutAbortSec() {
        var d = notifyService {
            $0.watchdog = .seconds(1)
            $0.timeoutAbort = .seconds(3)
            $0.timeoutStop = .seconds(30)
        }
        d.send(.start)
        d.send(.notify(.ready))
        d.advance(.seconds(1))
        #expect(d.state == .stopWatchdog)
        d.advance(.seconds(3))
        #expect(d.state == .stopSigkill)
        #expect(d.kills.contains(.init(.all, 9)))
    }

    @Test func watchdogTriggerActsAtOnce() {
        var d = notifyService { $0.watchdog = .seconds(60) }
        d.send(.start)
        d.send(.notify(.ready))
        d.send(.notify(.watchdogTrigger))
        #expect(d.state == .stopWatchdog)
        #expect(d.result == .watchdog)
    }

    @Test func watchdogUsecChangesTheIntervalAndZeroTurnsItOff() {
        var d = notifyService { $0.watchdog = .seconds(10) }
        d.send(.start)
        d.send(.notify(.ready))
        d.send(.notify(.watchdogUsec(500_000)))
        #expect(d.watchdog == MachineDriver.origin + .milliseconds(500))
        d.send(.notify(.watchdogUsec(0)))
        #expect(d.watchdog == nil)
        d.advance(.seconds(60))
        #expect(d.state == .running)
    }

    @Test func watchdogIsNotArmedBeforeStartupCompletes() {
        var d = notifyService { $0.watchdog = .seconds(1) }
        d.send(.start)
        #expect(d.watchdog == nil)
        d.advance(.milliseconds(999))
        d.send(.notify(.ready))
        #expect(d.watchdog != nil)
    }

    @Test func stopCancelsTheWatchdog() {
        var d = notifyService { $0.watchdog = .seconds(1) }
        d.send(.start)
        d.send(.notify(.ready))
        d.send(.stop)
        #expect(d.watchdog == nil)
    }

    @Test func mainPIDMessageSwitchesTheTrackedProcess() {
        var d = notifyService()
        d.send(.start)
        let first = d.machine.mainPID
        d.send(.notify(.mainPID(777)))
        d.send(.notify(.ready))
        #expect(d.machine.mainPID == 777)
        #expect(first != 777)
        d.exit(777, .exited(1))
        #expect(d.result == .exitCode)
    }

    @Test func stoppingWaitsForTheServiceWithoutSignalling() {
        var d = notifyService { $0.restart = .no }
        d.send(.start)
        d.send(.notify(.ready))
        d.send(.notify(.stopping))
        #expect(d.state == .stopSigterm)
        #expect(d.kills.isEmpty)
        d.exitMain(.exited(0))
        d.settle()
        #expect(d.state == .dead)
        #expect(d.result == .success)
    }

    @Test func notifyReloadSendsReloadSignalAndWaitsForReady() {
        var d = MachineDriver(serviceConfig { $0.type = .notifyReload })
        d.send(.start)
        d.send(.notify(.ready))
        d.send(.reload)
        #expect(d.state == .reload)
        #expect(d.kills == [.init(.main, 1)])
        d.send(.notify(.reloading))
        #expect(d.state == .reload)
        d.send(.notify(.ready))
        #expect(d.state == .running)
        #expect(d.jobs == [.init(.start, true), .init(.reload, true)])
    }

    @Test func serviceInitiatedReloadShowsAsReloading() {
        var d = notifyService()
        d.send(.start)
        d.send(.notify(.ready))
        d.send(.notify(.reloading))
        #expect(d.activeState == .reloading)
        d.send(.notify(.ready))
        #expect(d.state == .running)
    }

    @Test func restartResetClearsTheCounter() {
        var d = notifyService {
            $0.restart = .always
            $0.restartSec = .zero
            $0.startLimitInterval = .zero
        }
        d.send(.start)
        d.send(.notify(.ready))
        d.exitMain(.exited(1))
        d.settle()
        d.advance(.milliseconds(1))
        #expect(d.machine.restartCount == 1)
        d.send(.notify(.restartReset))
        #expect(d.machine.restartCount == 0)
    }

    @Test func readyFromAnotherStateIsIgnored() {
        var d = MachineDriver(serviceConfig())
        d.send(.notify(.ready))
        #expect(d.state == .dead)
        d.send(.start)
        d.send(.notify(.ready))
        #expect(d.state == .running)
        #expect(d.jobs == [.init(.start, true)])
    }
}
