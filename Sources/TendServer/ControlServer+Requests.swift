import Glibc
import TendModel
import TendSystem
import TendEngine
import TendControl

/// The handlers of the unit requests: jobs (answered when they finish), status, list, show, cat, kill,
/// reset-failed, ping. Error codes come from what the engine exposes (the unit, its load state, its
/// machine), looked at before the engine is asked; the engine words the message.
extension ControlServer {
    // MARK: - Jobs

    func runJobs(_ verb: JobVerb, _ names: [String], wait: Bool, _ conn: Connection) {
        var pending = names.count
        var errors: [ControlError] = []
        let finishOne: (ControlError?) -> Void = { [weak conn] error in
            if let error { errors.append(error) }
            pending -= 1
            guard pending == 0, let conn else { return }
            if let e = ControlError.combined(errors) { conn.reply(error: e) } else { conn.reply(OKReply()) }
        }
        for name in names {
            let display = UnitName(parsing: name)?.description ?? name
            let kind: JobKind
            switch verb {
            case .start: kind = .start
            case .stop: kind = .stop
            case .reload: kind = .reload
            case .restart: kind = .restart
            case .tryRestart: kind = .tryRestart
            case .reloadOrRestart: kind = manager.reloadOrRestartKind(name)
            }
            manager.submit(kind, unit: name, wait: wait) { failure in
                guard let failure else { return finishOne(nil) }
                let code: ControlErrorCode
                switch failure.reason {
                case .unitNotFound: code = .unitNotFound
                case .badUnitName: code = .badUnitName
                case .badSetting: code = .badSetting
                case .shuttingDown: code = .shuttingDown
                case .job: code = .jobFailed
                }
                finishOne(ControlError(code, failure.message, unit: display))
            }
        }
    }

    // MARK: - Queries

    func status(_ units: [String], lines requested: Int) -> StatusReply {
        let lines = min(requested, ControlProtocol.maxStatusLines)
        let clock = Clock()
        var out: [UnitInfo] = []
        var missing: [String] = []
        if units.isEmpty {
            for u in manager.sortedUnits {
                // `tend status` of everything: the built-in targets only when they are reached.
                if u.targetState != nil && (u.config?.fragmentPath ?? "").isEmpty && u.activeState == .inactive {
                    continue
                }
                out.append(UnitStatusJSON.make(u, manager: manager, logLines: lines, clock: clock))
            }
        } else {
            for name in units {
                if let u = manager.unit(named: name) {
                    out.append(UnitStatusJSON.make(u, manager: manager, logLines: lines, clock: clock))
                } else {
                    missing.append(UnitName(parsing: name)?.description ?? name)
                }
            }
        }
        return StatusReply(units: out, missing: missing)
    }

    func list(all: Bool) -> StatusReply {
        let clock = Clock()
        var out: [UnitInfo] = []
        for u in manager.sortedUnits {
            if !all && u.activeState == .inactive && u.loadState == .loaded { continue }
            out.append(UnitStatusJSON.make(u, manager: manager, logLines: 0, brief: true, clock: clock))
        }
        return StatusReply(units: out)
    }

    func show(_ units: [String]) throws(ControlError) -> ShowReply {
        var out: [[UnitProperty]] = []
        for name in units {
            guard let u = manager.unit(named: name) else {
                throw ControlError(.noSuchUnit, "Unit \(name) not found.", unit: name)
            }
            out.append(UnitStatusJSON.properties(u, manager: manager).map { UnitProperty($0.0, $0.1) })
        }
        return ShowReply(units: out)
    }

    func cat(_ units: [String]) throws(ControlError) -> CatReply {
        var texts: [String] = []
        for name in units {
            guard let text = manager.catText(name) else {
                throw ControlError(.noUnitFiles, "No files found for \(name).", unit: name)
            }
            texts.append(text)
        }
        return CatReply(texts: texts)
    }

    // MARK: - Changes

    func kill(_ units: [String], signal: Int32, who: KillTarget) throws(ControlError) -> OKReply {
        for name in units {
            let code: ControlErrorCode
            if let u = manager.unit(named: name), let m = u.machine {
                if m.activeState == .inactive || m.activeState == .failed {
                    code = .notActive
                } else if who == .main && m.mainPID == nil {
                    code = .noMainProcess
                } else {
                    code = .failed
                }
            } else {
                code = .unitNotFound
            }
            do {
                try manager.kill(name, signal: signal, who: who)
            } catch {
                throw ControlError(code, Self.text(error), unit: name)
            }
        }
        return OKReply()
    }

    func resetFailed(_ units: [String]) throws(ControlError) -> OKReply {
        do {
            if units.isEmpty { try manager.resetFailed(nil) }
        } catch {
            throw ControlError(.failed, Self.text(error))
        }
        for name in units {
            do {
                try manager.resetFailed(name)
            } catch {
                throw ControlError(manager.unit(named: name) == nil ? .unitNotFound : .failed, Self.text(error), unit: name)
            }
        }
        return OKReply()
    }

    func ping() -> PingReply {
        PingReply(pid: getpid(), logDir: manager.options.logDir, subscribers: subscribers, rejected: rejected,
                  unitPaths: manager.options.unitPaths, systemState: manager.systemState.rawValue)
    }

    static func text(_ error: any Error) -> String {
        (error as? ManagerError)?.description ?? "\(error)"
    }
}
