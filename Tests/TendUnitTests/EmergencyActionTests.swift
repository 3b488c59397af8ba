import Testing

@testable import TendModel

/// `SuccessAction=`, `FailureAction=`, `StartLimitAction=` and their exit statuses: parsing, and which state
/// change asks the manager for what (systemd's unit_notify rules).
@Suite struct EmergencyActionTests {
    @Test func actionsAndStatusesParse() {
        let (config, diags) = parseUnit(
            """
            [Unit]
            SuccessAction=exit
            FailureAction=exit-force
            StartLimitAction=none
            FailureActionExitStatus=75
            SuccessActionExitStatus=0
            [Service]
            ExecStart=/bin/true
            """)
        #expect(diags.isEmpty, "\(texts(diags))")
        #expect(config.successAction == .exit)
        #expect(config.failureAction == .exitForce)
        #expect(config.startLimitAction == EmergencyAction.none)
        #expect(config.failureActionExitStatus == 75)
        #expect(config.successActionExitStatus == 0)
    }

    @Test func hostActionsAreTakenAsExitWithAWarningAndNonsenseIsAnError() {
        let (config, diags) = parseUnit(
            """
            [Unit]
            FailureAction=reboot-force
            SuccessAction=poweroff
            StartLimitAction=explode
            FailureActionExitStatus=256
            SuccessActionExitStatus=-1
            [Service]
            ExecStart=/bin/true
            StartLimitAction=exit
            """)
        #expect(config.failureAction == .exitForce)
        #expect(config.successAction == .exit)
        #expect(config.startLimitAction == .exit, "the old [Service] spelling is read too")
        #expect(config.failureActionExitStatus == nil)
        #expect(
            texts(diags) == [
                "web.service:2: warning: FailureAction=: reboot-force is not something tend does: the manager exits instead (exit-force), as systemd does in a container",
                "web.service:3: warning: SuccessAction=: poweroff is not something tend does: the manager exits instead (exit), as systemd does in a container",
                #"web.service:4: StartLimitAction=: unknown value "explode" (expected none, exit or exit-force)"#,
                #"web.service:5: FailureActionExitStatus=: invalid exit status "256" (expected 0…255, or empty)"#,
                #"web.service:6: SuccessActionExitStatus=: invalid exit status "-1" (expected 0…255, or empty)"#,
            ])
    }

    @Test func anEmptyValueResets() {
        let (config, _) = parseUnit("[Unit]\nFailureAction=exit\nFailureAction=\nFailureActionExitStatus=3\nFailureActionExitStatus=\n[Service]\nExecStart=/bin/true\n")
        #expect(config.failureAction == EmergencyAction.none)
        #expect(config.failureActionExitStatus == nil)
    }

    @Test func aSuccessActionAloneIsEnoughForAOneshot() {
        let (_, diags) = parseUnit("[Unit]\nSuccessAction=exit\n[Service]\nType=oneshot\n")
        #expect(diags.isEmpty, "\(texts(diags))")
    }

    func config(_ text: String) -> ServiceConfig { parseUnit("[Unit]\n" + text + "\n[Service]\nExecStart=/bin/true\n").config }

    @Test func failureActionOnEnteringFailedWithTheMainExitStatusByDefault() {
        let c = config("FailureAction=exit")
        let r = EmergencyRequest.forChange(c, from: .active, to: .failed, result: .exitCode, mainExit: .exited(3))
        #expect(r == EmergencyRequest(action: .exit, exitStatus: 3, reason: "unit failed"))
        let killed = EmergencyRequest.forChange(c, from: .active, to: .failed, result: .signal, mainExit: .killed(9))
        #expect(killed?.exitStatus == nil, "no exit code to pass on: the manager's default")
        #expect(EmergencyRequest.forChange(c, from: .failed, to: .failed, result: .exitCode, mainExit: .exited(3)) == nil)
        #expect(EmergencyRequest.forChange(c, from: .active, to: .inactive, result: .success, mainExit: .exited(0)) == nil)
        #expect(EmergencyRequest.forChange(c, from: .active, to: .activating, result: .exitCode, mainExit: .exited(1)) == nil,
                "an automatic restart is not a failure")
    }

    @Test func theConfiguredStatusWins() {
        let c = config("FailureAction=exit\nFailureActionExitStatus=75")
        let r = EmergencyRequest.forChange(c, from: .deactivating, to: .failed, result: .exitCode, mainExit: .exited(3))
        #expect(r?.exitStatus == 75)
    }

    @Test func successActionOnGoingInactiveNotFromFailed() {
        let c = config("SuccessAction=exit-force\nSuccessActionExitStatus=4")
        #expect(EmergencyRequest.forChange(c, from: .active, to: .inactive, result: .success, mainExit: .exited(0))
                == EmergencyRequest(action: .exitForce, exitStatus: 4, reason: "unit succeeded"))
        #expect(EmergencyRequest.forChange(c, from: .failed, to: .inactive, result: .success, mainExit: nil) == nil,
                "reset-failed is not a success")
        #expect(EmergencyRequest.forChange(c, from: .active, to: .failed, result: .exitCode, mainExit: .exited(1)) == nil)
    }

    @Test func startLimitActionComesFirstWhenTheLimitWasHit() {
        let c = config("StartLimitAction=exit-force\nFailureAction=exit\nFailureActionExitStatus=75")
        let r = EmergencyRequest.forChange(c, from: .activating, to: .failed, result: .startLimitHit, mainExit: .exited(1))
        #expect(r == EmergencyRequest(action: .exitForce, exitStatus: 75, reason: "start limit hit"))
        let onlyFailure = config("FailureAction=exit\nFailureActionExitStatus=75")
        let f = EmergencyRequest.forChange(onlyFailure, from: .activating, to: .failed, result: .startLimitHit, mainExit: .exited(1))
        #expect(f == EmergencyRequest(action: .exit, exitStatus: 75, reason: "unit failed"),
                "without StartLimitAction= the failure is still a failure")
    }
}
