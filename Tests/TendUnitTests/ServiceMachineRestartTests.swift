import Testing

@testable import TendModel
@testable import TendSystem
@testable import TendEngine

/// `Restart=`, the exit-status lists, `RestartSec=` and its backoff, and the start rate limit.
@Suite struct ServiceMachineRestartTests {
    /// How the main process of a service ends, one row of the table in systemd.service(5).
    enum Ending: String, CaseIterable, CustomStringConvertible {
        case cleanExit, cleanSIGTERM, cleanSIGHUP, cleanSIGINT, cleanSIGPIPE
        case uncleanExitCode, uncleanSIGKILL, uncleanSIGSEGV, coreDump, startTimeout
        var description: String { rawValue }

        var cause: ExitCause? {
            switch self {
            case .cleanExit: return .exited(0)
            case .cleanSIGTERM: return .killed(15)
            case .cleanSIGHUP: return .killed(1)
            case .cleanSIGINT: return .killed(2)
            case .cleanSIGPIPE: return .killed(13)
            case .uncleanExitCode: return .exited(1)
            case .uncleanSIGKILL: return .killed(9)
            case .uncleanSIGSEGV: return .killed(11)
            case .coreDump: return .dumped(11)
            case .startTimeout: return nil
            }
        }
        var expectedResult: ServiceResult {
            switch self {
            case .cleanExit, .cleanSIGTERM, .cleanSIGHUP, .cleanSIGINT, .cleanSIGPIPE: return .success
            case .uncleanExitCode: return .exitCode
            case .uncleanSIGKILL, .uncleanSIGSEGV: return .signal
            case .coreDump: return .coreDump
            case .startTimeout: return .timeout
            }
        }
        /// The row of the table this ending falls in.
        var row: Row {
            switch self {
            case .cleanExit, .cleanSIGTERM, .cleanSIGHUP, .cleanSIGINT, .cleanSIGPIPE: return .clean
            case .uncleanExitCode: return .uncleanExit
            case .uncleanSIGKILL, .uncleanSIGSEGV, .coreDump: return .uncleanSignal
            case .startTimeout: return .timeout
            }
        }
    }
    enum Row { case clean, uncleanExit, uncleanSignal, timeout, watchdog }

    /// The table of systemd.service(5), transcribed: which policies restart for which row.
    static func tableSaysRestart(_ policy: RestartPolicy, _ row: Row) -> Bool {
        switch row {
        case .clean: return [.always, .onSuccess].contains(policy)
        case .uncleanExit: return [.always, .onFailure].contains(policy)
        case .uncleanSignal: return [.always, .onFailure, .onAbnormal, .onAbort].contains(policy)
        case .timeout: return [.always, .onFailure, .onAbnormal].contains(policy)
        case .watchdog: return [.always, .onFailure, .onAbnormal, .onWatchdog].contains(policy)
        }
    }

    @Test(arguments: RestartPolicy.allCases, Ending.allCases)
    func restartTableOfSystemdServiceManPage(policy: RestartPolicy, ending: Ending) {
        var d = MachineDriver(
            serviceConfig {
                $0.restart = policy
                // The timeout row needs a start that can time out: a forking parent that never exits.
                if ending == .startTimeout { $0.type = .forking }
            })
        d.send(.start)
        if let cause = ending.cause {
            #expect(d.state == .running)
            d.exitMain(cause)
        } else {
            #expect(d.state == .start)
            d.advance(.seconds(90))
            #expect(d.state == .stopSigterm)
        }
        d.settle()
        #expect(d.result == ending.expectedResult)
        if Self.tableSaysRestart(policy, ending.row) {
            #expect(d.state == .autoRestart)
            #expect(d.timer == d.now + .milliseconds(100))
        } else {
            #expect(d.state == (ending.expectedResult == .success ? .dead : .failed))
            #expect(d.timer == nil)
        }
    }

    /// Watchdog results come with a later issue; the table row is checked on the policy function itself.
    @Test(arguments: RestartPolicy.allCases)
    func watchdogRowOfRestartTable(policy: RestartPolicy) {
        #expect(ServiceMachine.policyRestarts(policy, result: .watchdog) == Self.tableSaysRestart(policy, .watchdog))
    }

    @Test(arguments: [ServiceResult.success, .exitCode, .signal, .coreDump, .timeout, .watchdog])
    func policyRestartsMatchesTheTable(result: ServiceResult) {
        let row: Row
        switch result {
        case .success: row = .clean
        case .exitCode: row = .uncleanExit
        case .signal, .coreDump: row = .uncleanSignal
        case .timeout: row = .timeout
        default: row = .watchdog
        }
        for policy in RestartPolicy.allCases {
            #expect(ServiceMachine.policyRestarts(policy, result: result) == Self.tableSaysRestart(policy, row))
        }
    }

    @Test func cleanSignalIsNotCleanForOneshot() {
        // is_clean_exit with EXIT_CLEAN_COMMAND: a oneshot command killed by SIGTERM failed.
        #expect(!ServiceMachine.isClean(.killed(15), success: ExitStatusSet(), daemon: false))
        #expect(ServiceMachine.isClean(.killed(15), success: ExitStatusSet(), daemon: true))
        #expect(!ServiceMachine.isClean(.dumped(15), success: ExitStatusSet(signals: [15]), daemon: true))
    }

    // MARK: Exit status lists

    @Test func successExitStatusCountsAsSuccess() {
        var d = MachineDriver(
            serviceConfig {
                $0.restart = .onFailure
                $0.successExitStatus = ExitStatusSet(statuses: [42])
            })
        d.send(.start)
        d.exitMain(.exited(42))
        d.settle()
        #expect(d.state == .dead)
        #expect(d.result == .success)
        #expect(d.timer == nil)
        #expect(d.mainSpawnsCount == 1)
    }

    @Test func successExitStatusSignalCountsAsSuccess() {
        var d = MachineDriver(
            serviceConfig {
                $0.restart = .onFailure
                $0.successExitStatus = ExitStatusSet(signals: [10])
            })
        d.send(.start)
        d.exitMain(.killed(10))
        d.settle()
        #expect(d.state == .dead)
        #expect(d.result == .success)
    }

    /// NRestarts counts a restart when it is scheduled, as the log line says, not when it begins.
    @Test func restartCountGoesUpWhenTheRestartIsScheduled() {
        var d = MachineDriver(
            serviceConfig {
                $0.restart = .always
                $0.restartSec = .seconds(5)
            })
        d.send(.start)
        d.exitMain(.exited(1))
        d.settle()
        #expect(d.state == .autoRestart)
        #expect(d.machine.restartCount == 1)
        #expect(d.logs.contains { $0.contains("restart counter is at 1") })
        d.advance(.seconds(6))
        #expect(d.machine.restartCount == 1, "starting the scheduled restart doesn't count it again")
        #expect(d.mainSpawnsCount == 2)
    }

    /// Restarts are also counted by the result that caused them, and those counts survive a manual start (which
    /// resets NRestarts).
    @Test func restartsAreCountedByCause() {
        var d = MachineDriver(
            serviceConfig {
                $0.restart = .always
                $0.restartSec = .seconds(1)
                $0.startLimitInterval = .zero
            })
        d.send(.start)
        d.exitMain(.exited(1))
        d.settle()
        d.advance(.seconds(2))
        d.exitMain(.killed(9))
        d.settle()
        d.advance(.seconds(2))
        d.exitMain(.exited(0))
        d.settle()
        #expect(d.machine.restartsByCause == ["exit-code": 1, "signal": 1, "success": 1])
        d.send(.stop)
        d.settle()
        d.send(.start)
        d.settle()
        #expect(d.machine.restartCount == 0)
        #expect(d.machine.restartsByCause == ["exit-code": 1, "signal": 1, "success": 1])
    }

    @Test func restartPreventExitStatusKeepsServiceDownUnderAlways() {
        var d = MachineDriver(
            serviceConfig {
                $0.restart = .always
                $0.restartPreventExitStatus = ExitStatusSet(signals: [9])
            })
        d.send(.start)
        d.exitMain(.killed(9))
        d.settle()
        #expect(d.state == .failed)
        #expect(d.result == .signal)
        #expect(d.timer == nil)
        d.advance(.seconds(10))
        #expect(d.mainSpawnsCount == 1)
    }

    @Test func restartPreventExitStatusDoesNotMatchOtherStatuses() {
        var d = MachineDriver(
            serviceConfig {
                $0.restart = .always
                $0.restartPreventExitStatus = ExitStatusSet(statuses: [3], signals: [9])
            })
        d.send(.start)
        d.exitMain(.exited(1))
        d.settle()
        #expect(d.state == .autoRestart)
    }

    @Test func restartForceExitStatusRestartsUnderRestartNo() {
        var d = MachineDriver(
            serviceConfig {
                $0.restart = .no
                $0.restartForceExitStatus = ExitStatusSet(statuses: [75])
            })
        d.send(.start)
        d.exitMain(.exited(75))
        d.settle()
        #expect(d.state == .autoRestart)
        d.advance(.milliseconds(100))
        #expect(d.state == .running)
        #expect(d.mainSpawnsCount == 2)
        #expect(d.machine.restartCount == 1)
    }

    // MARK: RestartSec= and its backoff

    @Test func restartSecArmsTheExactDeadline() {
        var d = MachineDriver(
            serviceConfig {
                $0.restart = .always
                $0.restartSec = .seconds(5)
            })
        d.send(.start)
        d.advance(.seconds(1))
        d.exitMain(.exited(1))
        d.settle()
        let crashedAt = d.now
        #expect(d.state == .autoRestart)
        #expect(d.timer == crashedAt + .seconds(5))
        #expect(d.machine.nextRestartDelay == .seconds(5))
        d.advance(TimeSpan(usec: 4_999_999))
        #expect(d.state == .autoRestart)
        #expect(d.mainSpawnsCount == 1)
        d.advance(TimeSpan(usec: 1))
        #expect(d.state == .running)
        #expect(d.mainSpawnsCount == 2)
        #expect(d.machine.restartCount == 1)
        #expect(d.activeState == .active)
    }

    /// Crashes the running service at once and returns the delay armed for the restart.
    static func crashAndMeasureDelay(_ d: inout MachineDriver) -> TimeSpan? {
        d.exitMain(.exited(1))
        d.settle()
        guard d.state == .autoRestart, let t = d.timer else { return nil }
        let delay = TimeSpan(usec: t.usec(since: d.now))
        d.advance(delay)
        return delay
    }

    @Test func restartStepsGrowDelayTowardsRestartMaxDelaySec() {
        var d = MachineDriver(
            serviceConfig {
                $0.restart = .always
                $0.restartSec = .seconds(1)
                $0.restartSteps = 3
                $0.restartMaxDelay = .seconds(8)
                $0.startLimitInterval = .zero
            })
        d.send(.start)
        var delays: [TimeSpan] = []
        for _ in 0..<6 {
            guard let delay = Self.crashAndMeasureDelay(&d) else {
                Issue.record("no restart scheduled in \(d.state)")
                return
            }
            delays.append(delay)
            #expect(d.state == .running)
        }
        // systemd: RestartSec= × (max/RestartSec=)^(i/steps), then the maximum.
        #expect(delays == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(8), .seconds(8)])
    }

    @Test func restartSecZeroHasNoBackoff() {
        var d = MachineDriver(
            serviceConfig {
                $0.restart = .always
                $0.restartSec = .zero
                $0.restartSteps = 3
                $0.restartMaxDelay = .seconds(8)
                $0.startLimitInterval = .zero
            })
        d.send(.start)
        for _ in 0..<4 {
            #expect(Self.crashAndMeasureDelay(&d) == .zero)
            #expect(d.state == .running)
        }
    }

    /// final-sigterm timing out with SendSIGKILL=no leaves processes behind: systemd enters failed and does
    /// not restart.
    @Test func finalSigtermTimeoutWithoutSIGKILLDoesNotRestart() {
        var d = MachineDriver(
            serviceConfig {
                $0.restart = .always
                $0.sendSIGKILL = false
                $0.timeoutStop = .seconds(5)
            })
        d.send(.start)
        d.exitMain(.exited(1))
        #expect(d.state == .stopSigterm)
        d.advance(.seconds(5))
        #expect(d.state == .finalSigterm)
        d.advance(.seconds(5))
        #expect(d.state == .failed)
        #expect(d.result == .exitCode)
        #expect(d.timer == nil)
        #expect(!d.kills.contains { $0.signal == 9 })
    }

    @Test func manualStartResetsBackoff() {
        var d = MachineDriver(
            serviceConfig {
                $0.restart = .always
                $0.restartSec = .seconds(1)
                $0.restartSteps = 2
                $0.restartMaxDelay = .seconds(4)
                $0.startLimitInterval = .zero
            })
        d.send(.start)
        _ = Self.crashAndMeasureDelay(&d)
        _ = Self.crashAndMeasureDelay(&d)
        d.send(.stop)
        d.settle()
        #expect(d.state == .dead)
        d.send(.start)
        #expect(Self.crashAndMeasureDelay(&d) == .seconds(1))
    }

    @Test func backoffResetsAfterStableRun() {
        var d = MachineDriver(
            serviceConfig {
                $0.restart = .always
                $0.restartSec = .seconds(1)
                $0.restartSteps = 3
                $0.restartMaxDelay = .seconds(8)
                $0.startLimitInterval = .zero
            })
        d.send(.start)
        #expect(Self.crashAndMeasureDelay(&d) == .seconds(1))
        #expect(Self.crashAndMeasureDelay(&d) == .seconds(2))
        #expect(Self.crashAndMeasureDelay(&d) == .seconds(4))
        // Up for longer than RestartMaxDelaySec=: the next failure starts the series over.
        d.advance(.seconds(9))
        #expect(Self.crashAndMeasureDelay(&d) == .seconds(1))
        #expect(Self.crashAndMeasureDelay(&d) == .seconds(2))
    }

    @Test func backoffKeepsGrowingAfterShortRun() {
        var d = MachineDriver(
            serviceConfig {
                $0.restart = .always
                $0.restartSec = .seconds(1)
                $0.restartSteps = 3
                $0.restartMaxDelay = .seconds(8)
                $0.startLimitInterval = .zero
            })
        d.send(.start)
        #expect(Self.crashAndMeasureDelay(&d) == .seconds(1))
        d.advance(.seconds(7))
        #expect(Self.crashAndMeasureDelay(&d) == .seconds(2))
    }

    // MARK: Start limit

    @Test func sixthStartWithinTenSecondsHitsStartLimit() {
        var d = MachineDriver(serviceConfig { $0.restart = .always })
        d.send(.start)
        for _ in 0..<4 {
            #expect(Self.crashAndMeasureDelay(&d) == .milliseconds(100))
            #expect(d.state == .running)
        }
        #expect(d.mainSpawnsCount == 5)
        // The sixth start, 0.5 s after the first: refused.
        #expect(Self.crashAndMeasureDelay(&d) == .milliseconds(100))
        #expect(d.state == .failed)
        #expect(d.result == .startLimitHit)
        #expect(d.mainSpawnsCount == 5)
        #expect(d.timer == nil)
        d.advance(.seconds(60))
        #expect(d.state == .failed)
        #expect(d.mainSpawnsCount == 5)
    }

    @Test func manualStartAfterStartLimitHitIsRefusedWithinInterval() {
        var d = MachineDriver(serviceConfig { $0.restart = .always })
        d.send(.start)
        for _ in 0..<5 { _ = Self.crashAndMeasureDelay(&d) }
        #expect(d.result == .startLimitHit)
        d.clearRecords()
        d.send(.start)
        #expect(d.state == .failed)
        #expect(d.jobs == [.init(.start, false)])
        #expect(d.mainSpawnsCount == 0)
    }

    @Test func startLimitIntervalZeroDisablesStartLimit() {
        var d = MachineDriver(
            serviceConfig {
                $0.restart = .always
                $0.startLimitInterval = .zero
            })
        d.send(.start)
        for _ in 0..<20 {
            _ = Self.crashAndMeasureDelay(&d)
            #expect(d.state == .running)
        }
        #expect(d.mainSpawnsCount == 21)
        #expect(d.machine.restartCount == 20)
    }

    @Test func startLimitWindowStartsOverAfterInterval() {
        var d = MachineDriver(serviceConfig { $0.restart = .no })
        for _ in 0..<5 {
            d.send(.start)
            d.exitMain(.exited(1))
            d.settle()
        }
        #expect(d.state == .failed)
        #expect(d.result == .exitCode)
        d.advance(.seconds(11))
        d.send(.start)
        #expect(d.state == .running)
    }

    @Test func resetFailedClearsStartLimit() {
        var d = MachineDriver(serviceConfig { $0.restart = .always })
        d.send(.start)
        for _ in 0..<5 { _ = Self.crashAndMeasureDelay(&d) }
        #expect(d.result == .startLimitHit)
        d.send(.resetFailed)
        #expect(d.state == .dead)
        #expect(d.result == .success)
        #expect(d.machine.restartCount == 0)
        d.clearRecords()
        d.send(.start)
        #expect(d.state == .running)
        #expect(d.jobs == [.init(.start, true)])
    }

    @Test func manualStopPreventsAutomaticRestart() {
        var d = MachineDriver(serviceConfig { $0.restart = .always })
        d.send(.start)
        d.send(.stop)
        d.settle()
        #expect(d.state == .dead)
        #expect(d.timer == nil)
        d.advance(.seconds(5))
        #expect(d.mainSpawnsCount == 1)
    }
}

extension MachineDriver {
    var mainSpawnsCount: Int { mainSpawns.count }
    var activeState: ActiveState { machine.activeState }
}
