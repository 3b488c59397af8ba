import Testing

@testable import TendModel
@testable import TendSystem
@testable import TendEngine

/// Command chains, stopping and killing, service types, timeouts, restart/reload jobs and stale timers.
@Suite struct ServiceMachineLifecycleTests {
    // MARK: Command chains

    @Test func execStartPreChainRunsInOrderBeforeMain() {
        var d = MachineDriver(serviceConfig { $0.execStartPre = [cmd("/bin/pre1"), cmd("/bin/pre2")] })
        d.send(.start)
        #expect(d.state == .startPre)
        #expect(d.activeState == .activating)
        #expect(d.controlCommands == ["/bin/pre1"])
        #expect(d.timer == MachineDriver.origin + .seconds(90))
        d.exitControl(.exited(0))
        #expect(d.controlCommands == ["/bin/pre1", "/bin/pre2"])
        #expect(d.mainSpawnsCount == 0)
        d.exitControl(.exited(0))
        #expect(d.state == .running)
        #expect(d.mainSpawnsCount == 1)
        #expect(d.jobs == [.init(.start, true)])
        #expect(d.timer == nil)
    }

    @Test func failingExecStartPreFailsStartAndRunsExecStopPost() {
        var d = MachineDriver(
            serviceConfig {
                $0.execStartPre = [cmd("/bin/pre1"), cmd("/bin/pre2")]
                $0.execStop = [cmd("/bin/stop")]
                $0.execStopPost = [cmd("/bin/cleanup")]
                $0.restart = .no
            })
        d.send(.start)
        d.exitControl(.exited(1))
        #expect(d.result == .exitCode)
        #expect(d.jobs == [.init(.start, false)])
        d.settle()
        #expect(d.state == .stopPost)
        d.exitControl(.exited(0))
        d.settle()
        #expect(d.state == .failed)
        #expect(d.result == .exitCode)
        // ExecStop= is only for a service that started; ExecStopPost= always runs.
        #expect(d.controlCommands == ["/bin/pre1", "/bin/cleanup"])
        #expect(d.mainSpawnsCount == 0)
        #expect(d.jobs == [.init(.start, false)])
    }

    @Test func dashPrefixIgnoresExecStartPreFailure() {
        var d = MachineDriver(serviceConfig { $0.execStartPre = [cmd("-/bin/pre1"), cmd("/bin/pre2")] })
        d.send(.start)
        d.exitControl(.exited(3))
        #expect(d.state == .startPre)
        #expect(d.controlCommands == ["/bin/pre1", "/bin/pre2"])
        d.exitControl(.exited(0))
        #expect(d.state == .running)
        #expect(d.result == .success)
        #expect(d.machine.processLog.first?.ignoredFailure == true)
    }

    @Test func execStartPostRunsAfterMainAndThenServiceIsActive() {
        var d = MachineDriver(serviceConfig { $0.execStartPost = [cmd("/bin/post")] })
        d.send(.start)
        #expect(d.state == .startPost)
        #expect(d.activeState == .activating)
        #expect(d.machine.mainPID != nil)
        #expect(d.jobs == [])
        d.exitControl(.exited(0))
        #expect(d.state == .running)
        #expect(d.jobs == [.init(.start, true)])
        #expect(d.spawns.map(\.kind) == [.execStart, .execStartPost])
    }

    @Test func failingExecStartPostStopsServiceWithExitCode() {
        var d = MachineDriver(
            serviceConfig {
                $0.execStartPost = [cmd("/bin/post")]
                $0.execStopPost = [cmd("/bin/cleanup")]
            })
        d.send(.start)
        d.exitControl(.exited(2))
        #expect(d.jobs == [.init(.start, false)])
        d.settle()
        d.exitControl(.exited(0))
        d.settle()
        #expect(d.state == .failed)
        #expect(d.result == .exitCode)
    }

    @Test func execStopRunsOnManualStop() {
        var d = MachineDriver(
            serviceConfig {
                $0.execStop = [cmd("/bin/stop1"), cmd("/bin/stop2")]
                $0.execStopPost = [cmd("/bin/cleanup")]
            })
        d.send(.start)
        d.send(.stop)
        #expect(d.state == .stop)
        #expect(d.kills == [])
        d.exitControl(.exited(0))
        d.exitControl(.exited(0))
        #expect(d.state == .stopSigterm)
        #expect(d.kills.first == .init(.all, 15))
        d.settle()
        #expect(d.state == .stopPost)
        d.exitControl(.exited(0))
        d.settle()
        #expect(d.state == .dead)
        #expect(d.controlCommands == ["/bin/stop1", "/bin/stop2", "/bin/cleanup"])
        #expect(d.jobs == [.init(.start, true), .init(.stop, true)])
    }

    @Test func execStopRunsWhenMainProcessExitsOnItsOwn() {
        var d = MachineDriver(
            serviceConfig {
                $0.execStop = [cmd("/bin/stop")]
                $0.execStopPost = [cmd("/bin/cleanup")]
            })
        d.send(.start)
        d.exitMain(.exited(0))
        #expect(d.state == .stop)
        d.exitControl(.exited(0))
        d.settle()
        d.exitControl(.exited(0))
        d.settle()
        #expect(d.state == .dead)
        #expect(d.controlCommands == ["/bin/stop", "/bin/cleanup"])
    }

    /// systemd's `service_enter_running`: a main process that failed sends the service straight to
    /// stop-sigterm; ExecStop= is skipped and ExecStopPost= still runs.
    @Test func crashedMainProcessSkipsExecStopButRunsExecStopPost() {
        var d = MachineDriver(
            serviceConfig {
                $0.execStop = [cmd("/bin/stop")]
                $0.execStopPost = [cmd("/bin/cleanup")]
            })
        d.send(.start)
        d.exitMain(.exited(1))
        #expect(d.state == .stopSigterm)
        d.settle()
        #expect(d.state == .stopPost)
        d.exitControl(.exited(0))
        d.settle()
        #expect(d.state == .failed)
        #expect(d.result == .exitCode)
        #expect(d.controlCommands == ["/bin/cleanup"])
    }

    @Test func failingExecStopPostMakesResultExitCode() {
        var d = MachineDriver(serviceConfig { $0.execStopPost = [cmd("/bin/cleanup")] })
        d.send(.start)
        d.send(.stop)
        d.settle()
        d.exitControl(.exited(1))
        d.settle()
        #expect(d.state == .failed)
        #expect(d.result == .exitCode)
        #expect(d.jobs == [.init(.start, true), .init(.stop, true)])
    }

    // MARK: Stopping and killing

    @Test(arguments: [
        (KillMode.controlGroup, [MachineDriver.Kill(.all, 15), .init(.all, 18)]),
        (.process, [.init(.main, 15), .init(.main, 18)]),
        (.mixed, [.init(.main, 15), .init(.main, 18)]),
        (.none, []),
    ])
    func stopSendsKillSignalPerKillMode(mode: KillMode, expected: [MachineDriver.Kill]) {
        var d = MachineDriver(serviceConfig { $0.killMode = mode })
        d.send(.start)
        d.send(.stop)
        #expect(d.kills == expected)
        if mode == .none {
            // Nothing is signalled and nothing is waited for.
            #expect(d.state == .dead)
        } else {
            #expect(d.state == .stopSigterm)
            #expect(d.timer == d.now + .seconds(90))
        }
    }

    @Test func mixedKillModeSendsFinalSIGKILLToAll() {
        var d = MachineDriver(serviceConfig { $0.killMode = .mixed })
        d.send(.start)
        d.send(.stop)
        #expect(d.machine.awaitedProcesses == .main)
        d.advance(.seconds(90))
        #expect(d.state == .stopSigkill)
        #expect(d.kills == [.init(.main, 15), .init(.main, 18), .init(.all, 9)])
        #expect(d.machine.awaitedProcesses == .all)
    }

    @Test func killSignalAndSendSIGHUPAreSent() {
        var d = MachineDriver(
            serviceConfig {
                $0.killSignal = 2
                $0.sendSIGHUP = true
            })
        d.send(.start)
        d.send(.stop)
        #expect(d.kills == [.init(.all, 2), .init(.all, 18), .init(.all, 1)])
        // Death by KillSignal= is the expected end of a stop.
        d.exitMain(.killed(2))
        d.processesGone()
        d.settle()
        #expect(d.state == .dead)
        #expect(d.result == .success)
    }

    @Test func stopTimeoutEscalatesToSIGKILL() {
        var d = MachineDriver(
            serviceConfig {
                $0.timeoutStop = .seconds(5)
                $0.finalKillSignal = 3
            })
        d.send(.start)
        d.send(.stop)
        #expect(d.timer == d.now + .seconds(5))
        d.advance(.seconds(4))
        #expect(d.state == .stopSigterm)
        d.advance(.seconds(1))
        #expect(d.state == .stopSigkill)
        // SIGCONT follows every signal but SIGKILL (systemd's cg_kill with CGROUP_SIGCONT).
        #expect(d.kills == [.init(.all, 15), .init(.all, 18), .init(.all, 3), .init(.all, 18)])
        #expect(d.result == .timeout)
        d.exitMain(.killed(3))
        d.processesGone()
        d.settle()
        #expect(d.state == .failed)
        #expect(d.result == .timeout)
        #expect(d.jobs == [.init(.start, true), .init(.stop, true)])
        #expect(d.timer == nil)
    }

    @Test func sendSIGKILLNoNeverSendsFinalKillSignal() {
        var d = MachineDriver(
            serviceConfig {
                $0.timeoutStop = .seconds(5)
                $0.sendSIGKILL = false
            })
        d.send(.start)
        d.send(.stop)
        d.advance(.seconds(5))
        #expect(d.state == .finalSigterm)
        #expect(d.result == .timeout)
        d.advance(.seconds(5))
        #expect(d.state == .failed)
        #expect(d.result == .timeout)
        #expect(!d.kills.contains { $0.signal == 9 })
        #expect(d.jobs == [.init(.start, true), .init(.stop, true)])
    }

    @Test func stopOfServiceDyingOfSIGTERMEndsDeadWithSuccess() {
        var d = MachineDriver(serviceConfig { $0.restart = .always })
        d.send(.start)
        d.send(.stop)
        d.exitMain(.killed(15))
        #expect(d.state == .stopSigterm)
        d.processesGone()
        #expect(d.state == .finalSigterm)
        d.processesGone()
        #expect(d.state == .dead)
        #expect(d.result == .success)
        #expect(d.timer == nil)
        #expect(d.jobs == [.init(.start, true), .init(.stop, true)])
        #expect(d.machine.lastMainExit == .killed(15))
    }

    @Test func stopOfStoppedServiceFinishesAtOnce() {
        var d = MachineDriver(serviceConfig())
        d.send(.stop)
        #expect(d.jobs == [.init(.stop, true)])
        #expect(d.state == .dead)
    }

    /// systemd's service_stop(): during start-post the start has not succeeded, so ExecStop= is skipped.
    @Test func stopDuringStartPostSkipsExecStop() {
        var d = MachineDriver(
            serviceConfig {
                $0.execStartPost = [cmd("/bin/post")]
                $0.execStop = [cmd("/bin/stop")]
            })
        d.send(.start)
        d.send(.stop)
        #expect(d.state == .stopSigterm)
        #expect(d.jobs == [.init(.start, false)])
        d.settle()
        #expect(d.state == .dead)
        #expect(d.controlCommands == ["/bin/post"])
        #expect(d.jobs == [.init(.start, false), .init(.stop, true)])
    }

    @Test func stopDuringStartFailsStartJobAndKills() {
        var d = MachineDriver(serviceConfig { $0.type = .forking })
        d.send(.start)
        d.send(.stop)
        #expect(d.state == .stopSigterm)
        d.settle()
        #expect(d.state == .dead)
        #expect(d.jobs == [.init(.start, false), .init(.stop, true)])
    }

    // MARK: Types

    @Test func simpleIsActiveRightAfterSpawn() {
        var d = MachineDriver(serviceConfig())
        d.send(.start)
        #expect(d.state == .running)
        #expect(d.activeState == .active)
        #expect(d.machine.mainPID == d.mainSpawns.first?.pid)
        #expect(d.jobs == [.init(.start, true)])
        #expect(d.timer == nil)
    }

    @Test func execIsNotActiveWhileSetupFailed() {
        var d = MachineDriver(
            serviceConfig {
                $0.type = .exec
                $0.execStopPost = [cmd("/bin/cleanup")]
            })
        d.setupFails = { kind, _ in kind == .execStart }
        d.send(.start)
        #expect(d.state == .start)
        #expect(d.activeState == .activating)
        #expect(d.jobs == [])
        d.exitMain(.exited(203))
        #expect(d.jobs == [.init(.start, false)])
        d.settle()
        d.exitControl(.exited(0))
        d.settle()
        #expect(d.state == .failed)
        #expect(d.result == .exitCode)
        #expect(d.jobs == [.init(.start, false)])
    }

    @Test func execIsActiveOnceExecSucceeded() {
        var d = MachineDriver(serviceConfig { $0.type = .exec })
        d.send(.start)
        #expect(d.state == .running)
        #expect(d.jobs == [.init(.start, true)])
        #expect(d.timer == nil)
    }

    @Test func oneshotRunsExecStartCommandsInOrderAndRemainsExited() {
        var d = MachineDriver(
            serviceConfig {
                $0.type = .oneshot
                $0.execStart = [cmd("/bin/one"), cmd("/bin/two")]
                $0.remainAfterExit = true
            })
        d.send(.start)
        #expect(d.state == .start)
        #expect(d.activeState == .activating)
        #expect(d.mainSpawns.map(\.command) == ["/bin/one"])
        d.exitMain(.exited(0))
        #expect(d.state == .start)
        #expect(d.mainSpawns.map(\.command) == ["/bin/one", "/bin/two"])
        #expect(d.jobs == [])
        d.exitMain(.exited(0))
        #expect(d.state == .exited)
        #expect(d.activeState == .active)
        #expect(d.jobs == [.init(.start, true)])
        #expect(d.timer == nil)
        d.send(.stop)
        d.settle()
        #expect(d.state == .dead)
        #expect(d.jobs == [.init(.start, true), .init(.stop, true)])
    }

    @Test func oneshotWithoutRemainAfterExitEndsDeadAndStartJobSucceeds() {
        var d = MachineDriver(
            serviceConfig {
                $0.type = .oneshot
                $0.execStart = [cmd("/bin/one")]
            })
        d.send(.start)
        d.exitMain(.exited(0))
        d.settle()
        #expect(d.state == .dead)
        #expect(d.result == .success)
        #expect(d.jobs == [.init(.start, true)])
        #expect(d.timer == nil)
    }

    @Test func oneshotFailingCommandStopsTheChain() {
        var d = MachineDriver(
            serviceConfig {
                $0.type = .oneshot
                $0.execStart = [cmd("/bin/one"), cmd("/bin/two")]
            })
        d.send(.start)
        d.exitMain(.exited(4))
        d.settle()
        #expect(d.state == .failed)
        #expect(d.result == .exitCode)
        #expect(d.mainSpawns.map(\.command) == ["/bin/one"])
        #expect(d.jobs == [.init(.start, false)])
    }

    @Test func oneshotKilledBySIGTERMIsAFailure() {
        var d = MachineDriver(
            serviceConfig {
                $0.type = .oneshot
                $0.execStart = [cmd("/bin/one")]
            })
        d.send(.start)
        d.exitMain(.killed(15))
        d.settle()
        #expect(d.state == .failed)
        #expect(d.result == .signal)
    }

    @Test func forkingParentExitResolvesMainPID() {
        var d = MachineDriver(serviceConfig { $0.type = .forking })
        d.send(.start)
        #expect(d.state == .start)
        #expect(d.timer == d.now + .seconds(90))
        d.exitMain(.exited(0))
        #expect(d.resolveRequests == 1)
        #expect(d.state == .start)
        d.send(.mainPIDResolved(4242))
        #expect(d.state == .running)
        #expect(d.machine.mainPID == 4242)
        #expect(d.jobs == [.init(.start, true)])
        #expect(d.timer == nil)
        // The daemon is now the main process: its death is the service's.
        d.exit(4242, .killed(9))
        d.settle()
        #expect(d.state == .failed)
        #expect(d.result == .signal)
    }

    @Test func forkingWithPIDFileAndNoPIDFailsWithProtocol() {
        var d = MachineDriver(
            serviceConfig {
                $0.type = .forking
                $0.pidFile = "/run/test.pid"
            })
        d.send(.start)
        d.exitMain(.exited(0))
        d.send(.mainPIDResolved(nil))
        #expect(d.jobs == [.init(.start, false)])
        d.settle()
        #expect(d.state == .failed)
        #expect(d.result == .protocol)
    }

    @Test func forkingParentFailureFailsStart() {
        var d = MachineDriver(serviceConfig { $0.type = .forking })
        d.send(.start)
        d.exitMain(.exited(1))
        #expect(d.resolveRequests == 0)
        d.settle()
        #expect(d.state == .failed)
        #expect(d.result == .exitCode)
    }

    // MARK: Timeouts

    @Test func startTimeoutOfForkingKillsAndFailsWithTimeout() {
        var d = MachineDriver(
            serviceConfig {
                $0.type = .forking
                $0.timeoutStart = .seconds(5)
            })
        d.send(.start)
        d.advance(.seconds(5))
        #expect(d.state == .stopSigterm)
        #expect(d.result == .timeout)
        #expect(d.kills == [.init(.all, 15), .init(.all, 18)])
        #expect(d.jobs == [.init(.start, false)])
        d.settle()
        #expect(d.state == .failed)
        #expect(d.result == .timeout)
    }

    @Test func startPreTimeoutFailsWithTimeout() {
        var d = MachineDriver(
            serviceConfig {
                $0.execStartPre = [cmd("/bin/slow")]
                $0.timeoutStart = .seconds(3)
            })
        d.send(.start)
        d.advance(.seconds(3))
        #expect(d.state == .stopSigterm)
        d.settle()
        #expect(d.state == .failed)
        #expect(d.result == .timeout)
        #expect(d.mainSpawnsCount == 0)
    }

    @Test func runtimeMaxSecStopsServiceWithTimeout() {
        var d = MachineDriver(serviceConfig { $0.runtimeMax = .seconds(30) })
        d.send(.start)
        #expect(d.timer == d.now + .seconds(30))
        d.advance(.seconds(29))
        #expect(d.state == .running)
        d.advance(.seconds(1))
        #expect(d.state == .stopSigterm)
        d.settle()
        #expect(d.state == .failed)
        #expect(d.result == .timeout)
    }

    // MARK: Restart and start jobs during a stop

    @Test func restartOfRunningServiceStopsThenStarts() {
        var d = MachineDriver(serviceConfig())
        d.send(.start)
        let first = d.machine.mainPID
        d.clearRecords()
        d.send(.restart)
        #expect(d.state == .stopSigterm)
        #expect(d.kills == [.init(.all, 15), .init(.all, 18)])
        d.settle()
        #expect(d.state == .running)
        #expect(d.machine.mainPID != first)
        #expect(d.mainSpawnsCount == 1)
        #expect(d.jobs == [.init(.restart, true)])
    }

    @Test func restartUsesRestartKillSignal() {
        var d = MachineDriver(serviceConfig { $0.restartKillSignal = 10 })
        d.send(.start)
        d.clearRecords()
        d.send(.restart)
        #expect(d.kills.first == .init(.all, 10))
        d.exitMain(.killed(10))
        d.settle()
        #expect(d.state == .running)
        #expect(d.jobs == [.init(.restart, true)])
    }

    @Test func restartWithExecStopRunsStopCommands() {
        var d = MachineDriver(serviceConfig { $0.execStop = [cmd("/bin/stop")] })
        d.send(.start)
        d.clearRecords()
        d.send(.restart)
        #expect(d.state == .stop)
        d.exitControl(.exited(0))
        d.settle()
        #expect(d.state == .running)
        #expect(d.jobs == [.init(.restart, true)])
    }

    @Test func restartWithKillModeNoneStartsAtOnce() {
        var d = MachineDriver(serviceConfig { $0.killMode = .none })
        d.send(.start)
        let first = d.machine.mainPID
        d.clearRecords()
        d.send(.restart)
        #expect(d.state == .running)
        #expect(d.machine.mainPID != first)
        #expect(d.kills == [])
        #expect(d.jobs == [.init(.restart, true)])
    }

    @Test func restartDuringReloadFailsReloadAndRestarts() {
        var d = MachineDriver(serviceConfig { $0.execReload = [cmd("/bin/reload")] })
        d.send(.start)
        d.send(.reload)
        d.clearRecords()
        d.send(.restart)
        #expect(d.state == .stopSigterm)
        d.settle()
        #expect(d.state == .running)
        #expect(d.jobs == [.init(.reload, false), .init(.restart, true)])
    }

    @Test func restartWhileStartIsWaitingForStopCancelsTheStart() {
        var d = MachineDriver(serviceConfig())
        d.send(.start)
        d.send(.stop)
        d.send(.start)
        d.clearRecords()
        d.send(.restart)
        d.settle()
        #expect(d.state == .running)
        #expect(d.mainSpawnsCount == 1)
        #expect(d.jobs == [.init(.start, false), .init(.stop, true), .init(.restart, true)])
    }

    @Test func restartOfStoppedServiceStarts() {
        var d = MachineDriver(serviceConfig())
        d.send(.restart)
        #expect(d.state == .running)
        #expect(d.jobs == [.init(.restart, true)])
    }

    @Test func startWhileStoppingIsCarriedOutAfterStop() {
        var d = MachineDriver(serviceConfig())
        d.send(.start)
        d.clearRecords()
        d.send(.stop)
        #expect(d.state == .stopSigterm)
        d.send(.start)
        #expect(d.state == .stopSigterm)
        #expect(d.jobs == [])
        d.settle()
        #expect(d.state == .running)
        #expect(d.mainSpawnsCount == 1)
        #expect(d.jobs == [.init(.stop, true), .init(.start, true)])
    }

    @Test func stopDuringAutoRestartCancelsRestart() {
        var d = MachineDriver(
            serviceConfig {
                $0.restart = .always
                $0.restartSec = .seconds(5)
            })
        d.send(.start)
        d.exitMain(.exited(1))
        d.settle()
        #expect(d.state == .autoRestart)
        d.clearRecords()
        d.send(.stop)
        // systemd's service_stop(): auto-restart goes straight to dead.
        #expect(d.state == .dead)
        #expect(d.timer == nil)
        #expect(d.jobs == [.init(.stop, true)])
        d.advance(.seconds(10))
        #expect(d.mainSpawnsCount == 0)
    }

    @Test func startDuringAutoRestartStartsAtOnce() {
        var d = MachineDriver(
            serviceConfig {
                $0.restart = .always
                $0.restartSec = .seconds(5)
            })
        d.send(.start)
        d.exitMain(.exited(1))
        d.settle()
        d.clearRecords()
        d.send(.start)
        #expect(d.state == .running)
        #expect(d.jobs == [.init(.start, true)])
        d.advance(.seconds(10))
        #expect(d.mainSpawnsCount == 1)
    }

    // MARK: Reload

    @Test func reloadRunsExecReloadAndFinishesJob() {
        var d = MachineDriver(serviceConfig { $0.execReload = [cmd("/bin/kill -HUP $MAINPID")] })
        d.send(.start)
        let pid = d.machine.mainPID
        d.send(.reload)
        #expect(d.state == .reload)
        #expect(d.activeState == .reloading)
        #expect(d.controlCommands == ["/bin/kill -HUP $MAINPID"])
        d.exitControl(.exited(0))
        #expect(d.state == .running)
        #expect(d.machine.mainPID == pid)
        #expect(d.jobs == [.init(.start, true), .init(.reload, true)])
    }

    @Test func failingReloadKeepsServiceRunning() {
        var d = MachineDriver(serviceConfig { $0.execReload = [cmd("/bin/reload")] })
        d.send(.start)
        d.send(.reload)
        d.exitControl(.exited(1))
        #expect(d.state == .running)
        #expect(d.result == .success)
        #expect(d.jobs == [.init(.start, true), .init(.reload, false)])
        #expect(d.kills == [])
    }

    @Test func reloadWithoutExecReloadFails() {
        var d = MachineDriver(serviceConfig())
        d.send(.start)
        d.send(.reload)
        #expect(d.state == .running)
        #expect(d.jobs == [.init(.start, true), .init(.reload, false)])
    }

    @Test func reloadOfStoppedServiceFails() {
        var d = MachineDriver(serviceConfig { $0.execReload = [cmd("/bin/reload")] })
        d.send(.reload)
        #expect(d.state == .dead)
        #expect(d.jobs == [.init(.reload, false)])
    }

    @Test func stopDuringReloadFailsReloadJobOnce() {
        var d = MachineDriver(serviceConfig { $0.execReload = [cmd("/bin/reload")] })
        d.send(.start)
        d.send(.reload)
        d.send(.stop)
        d.settle()
        #expect(d.state == .dead)
        #expect(d.jobs == [.init(.start, true), .init(.reload, false), .init(.stop, true)])
    }

    // MARK: Timers and jobs

    @Test func staleTimerIsIgnored() {
        var d = MachineDriver(serviceConfig { $0.type = .forking })
        d.send(.start)
        d.advance(.seconds(10))
        d.fireStaleTimer()
        #expect(d.state == .start)
        #expect(d.result == .success)
        d.send(.stop)
        d.settle()
        #expect(d.state == .dead)
        d.fireStaleTimer()
        #expect(d.state == .dead)
    }

    @Test func timerAfterCancelIsIgnored() {
        var d = MachineDriver(
            serviceConfig {
                $0.restart = .always
                $0.restartSec = .seconds(5)
            })
        d.send(.start)
        d.exitMain(.exited(1))
        d.settle()
        d.send(.stop)
        d.advance(.seconds(6))
        d.fireStaleTimer()
        #expect(d.state == .dead)
        #expect(d.mainSpawnsCount == 1)
    }

    /// Every job finishes exactly once, whatever interrupts it. A request that replaces a job in progress
    /// cancels it (`ok: false`), as systemd cancels a replaced job; a second start merges into the first.
    /// The service has an ExecStartPre= so that requests arrive while the start is in progress.
    @Test(arguments: [
        ([ServiceEvent.start, .stop], [MachineDriver.Job(.start, false), .init(.stop, true)]),
        ([.start, .restart], [.init(.start, false), .init(.restart, true)]),
        ([.start, .restart, .stop], [.init(.start, false), .init(.restart, false), .init(.stop, true)]),
        ([.start, .stop, .start], [.init(.start, false), .init(.stop, true), .init(.start, true)]),
        ([.start, .stop, .restart], [.init(.start, false), .init(.stop, true), .init(.restart, true)]),
        ([.start, .start], [.init(.start, true)]),
        ([.restart, .restart], [.init(.restart, false), .init(.restart, true)]),
        ([.start, .reload, .restart], [.init(.reload, false), .init(.start, false), .init(.restart, true)]),
    ])
    func jobsFinishExactlyOnce(requests: [ServiceEvent], expected: [MachineDriver.Job]) {
        var d = MachineDriver(
            serviceConfig {
                $0.execStartPre = [cmd("/bin/pre")]
                $0.execReload = [cmd("/bin/reload")]
            })
        for r in requests { d.send(r) }
        // Let everything run to its end: commands succeed, processes die when signalled.
        for _ in 0..<20 {
            if d.state.isKillState {
                d.settle()
            } else if d.machine.controlPID != nil {
                d.exitControl(.exited(0))
            } else {
                break
            }
        }
        #expect(d.jobs == expected)
        #expect(d.state == .running || d.state == .dead)
    }
}
