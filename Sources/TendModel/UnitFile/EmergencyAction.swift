/// `SuccessAction=`, `FailureAction=`, `StartLimitAction=` (systemd.unit(5)): what the manager does when a unit
/// ends well, ends failed, or hits its start rate limit. tend manages no machine, so of systemd's values it
/// carries out the manager's own: `none`, `exit` (an orderly shutdown of every unit, then the manager exits with
/// the action's status) and `exit-force` (every unit's processes killed at once, then the exit). The host
/// actions (`poweroff`, `halt`, `reboot`, `kexec`, `soft-reboot`, with `-force`/`-immediate`) are what systemd
/// itself does in a container, where its `poweroff` ends the container: tend takes the plain ones as `exit` and
/// the `-force`/`-immediate` ones as `exit-force`, with a warning when the unit is loaded.
public enum EmergencyAction: String, Sendable, Equatable {
    case none
    case exit
    case exitForce = "exit-force"

    /// The action a value names, and whether it was a host action tend takes as its nearest meaning.
    public static func parse(_ value: String) -> (action: EmergencyAction, substituted: Bool)? {
        if let a = EmergencyAction(rawValue: value) { return (a, false) }
        let hosts = ["poweroff", "halt", "reboot", "kexec", "soft-reboot"]
        for h in hosts {
            if value == h { return (.exit, true) }
            if value == h + "-force" || value == h + "-immediate" { return (.exitForce, true) }
        }
        return nil
    }
}

/// The rows of the directive table for the actions (see `directives`); in `[Unit]`, and in `[Service]` where
/// old systemd versions had `StartLimitAction=` and `FailureAction=` (systemd still reads them there).
func emergencyActionDirectives() -> [Directive] {
    var t: [Directive] = []
    for section in ["Unit", "Service"] {
        t.append(Directive(section: section, name: "SuccessAction", parse: emergencyAction(\.successAction)))
        t.append(Directive(section: section, name: "FailureAction", parse: emergencyAction(\.failureAction)))
        t.append(Directive(section: section, name: "StartLimitAction", parse: emergencyAction(\.startLimitAction)))
    }
    t.append(Directive(section: "Unit", name: "SuccessActionExitStatus", parse: actionExitStatus(\.successActionExitStatus)))
    t.append(Directive(section: "Unit", name: "FailureActionExitStatus", parse: actionExitStatus(\.failureActionExitStatus)))
    return t
}

private func emergencyAction(_ kp: Field<EmergencyAction>) -> DirectiveParser {
    { value, config, ctx in
        if value.isEmpty {
            config[keyPath: kp] = .none
            return
        }
        guard let (action, substituted) = EmergencyAction.parse(value) else {
            return ctx.error("unknown value \"\(shortened(value))\" (expected none, exit or exit-force)")
        }
        if substituted {
            ctx.warning("\(value) is not something tend does: the manager exits instead (\(action.rawValue)), as systemd does in a container")
        }
        config[keyPath: kp] = action
    }
}

/// 0…255, or empty for the default (the main process's exit status).
private func actionExitStatus(_ kp: Field<UInt8?>) -> DirectiveParser {
    { value, config, ctx in
        if value.isEmpty {
            config[keyPath: kp] = nil
            return
        }
        guard let n = UInt8(value) else {
            return ctx.error("invalid exit status \"\(shortened(value))\" (expected 0…255, or empty)")
        }
        config[keyPath: kp] = n
    }
}

/// What a unit's state change asks of the manager: exit (orderly or forced) with this status, or nothing.
public struct EmergencyRequest: Sendable, Equatable {
    public var action: EmergencyAction
    /// The exit status: the action's `…ExitStatus=`, else the main process's exit code (if it exited), else nil
    /// (the manager's own default).
    public var exitStatus: UInt8?
    /// Why, for the manager's log: "unit failed", "unit succeeded", "start limit hit".
    public var reason: String

    /// The request (if any) of a unit's change of active state, with systemd's rules (unit_notify): entering
    /// `failed` runs `FailureAction=` (and `StartLimitAction=` first when the start limit was hit), leaving an
    /// active or transitional state for `inactive` runs `SuccessAction=`.
    public static func forChange(_ config: ServiceConfig, from: ActiveState, to: ActiveState, result: ServiceResult,
                                 mainExit: ExitCause?) -> EmergencyRequest?
    {
        var mainCode: UInt8?
        if case .exited(let code)? = mainExit { mainCode = UInt8(truncatingIfNeeded: code) }
        if to == .failed && from != .failed {
            if result == .startLimitHit && config.startLimitAction != .none {
                // systemd passes no exit status for this one: the manager's default, unless FailureActionExitStatus= says.
                return EmergencyRequest(action: config.startLimitAction, exitStatus: config.failureActionExitStatus,
                                        reason: "start limit hit")
            }
            guard config.failureAction != .none else { return nil }
            return EmergencyRequest(action: config.failureAction, exitStatus: config.failureActionExitStatus ?? mainCode,
                                    reason: "unit failed")
        }
        if to == .inactive && from != .inactive && from != .failed {
            guard config.successAction != .none else { return nil }
            return EmergencyRequest(action: config.successAction, exitStatus: config.successActionExitStatus ?? mainCode,
                                    reason: "unit succeeded")
        }
        return nil
    }
}
