import Glibc
import TendModel
import TendSystem

/// Builds one command's execution context (systemd.exec(5)) from the unit's configuration and runtime state:
/// standard input/output/error (the log pipes, files, /dev/null), the variables the manager adds
/// (`MAINPID`, `SERVICE_RESULT`, `EXIT_CODE`/`EXIT_STATUS`, `NOTIFY_SOCKET`, `WATCHDOG_USEC`, `LISTEN_FDS`) and
/// the descriptors passed. The spawner (TendSystem) turns the request into a process.
struct ExecContext {
    let system: any System
    /// The manager's environment (PassEnvironment=).
    let managerEnvironment: [String: String]
    /// Where a command runs when the unit sets no WorkingDirectory=: `/` for root, else `$HOME`.
    let defaultWorkingDirectory: String
    /// `LimitNOFILE=` for units that set none (the limit the manager started with).
    let defaultFileLimit: RLimitValue?
    /// Where each unit's private /tmp and /var/tmp live (`PrivateTmp=`): `STATE/private/UNIT/`.
    let privateRoot: String

    func privateDirectory(_ unit: Unit) -> String { privateRoot + "/" + unit.name.description }

    /// A request ready to spawn, and the descriptors opened for it (the caller closes them after the spawn).
    struct Prepared {
        var request: SpawnRequest
        var opened: [Int32]
    }

    /// The context of `command`, or why it can't be set up (`Failed to open standard input …`).
    /// `logPipes` opens the unit's log pipes and returns their write ends; `notifySocket` its notify socket.
    func prepare(
        _ unit: Unit, _ machine: ServiceMachine, _ role: ProcessRole, _ kind: CommandKind, _ command: ExecCommand,
        logPipes: () throws -> (stdout: Int32, stderr: Int32), notifySocket: () -> String?
    ) -> Result<Prepared, ExecSetupError> {
        var config = machine.config
        if config.limits[.nofile] == nil, let limit = defaultFileLimit { config.limits[.nofile] = limit }
        var opened: [Int32] = []
        var stdio: [Int32] = [-1, -1, -1]
        var failure: String?
        if case .file(let path) = config.standardInput {
            if let fd = try? system.openFile(path, flags: O_RDONLY, mode: 0) {
                stdio[0] = fd
                opened.append(fd)
            } else {
                failure = "Failed to open standard input \(path)"
            }
        }
        func target(_ out: StandardOutput, _ index: Int) {
            switch out {
            // Standard error inheriting a standard output that goes to the log gets a pipe of its own (systemd
            // shares the one stream): the log tells stdout and stderr apart.
            case .inherit where index == 2 && config.standardOutput == .journal: target(.journal, 2)
            case .inherit: stdio[index] = index == 1 ? stdio[0] : stdio[1]
            case .null: stdio[index] = -1
            case .journal:
                do {
                    let pipes = try logPipes()
                    stdio[index] = index == 1 ? pipes.stdout : pipes.stderr
                } catch {
                    failure = "Failed to set up logging: \(error)"
                }
            case .file(let p), .append(let p), .truncate(let p):
                var flags = O_WRONLY | O_CREAT
                if case .append = out { flags |= O_APPEND }
                if case .truncate = out { flags |= O_TRUNC }
                do {
                    let fd = try system.openFile(p, flags: flags, mode: 0o644)
                    opened.append(fd)
                    stdio[index] = fd
                } catch {
                    failure = "Failed to open \(p) for standard \(index == 1 ? "output" : "error"): \(error)"
                }
            }
        }
        target(config.standardOutput, 1)
        target(config.standardError, 2)
        if let failure { return .failure(ExecSetupError(message: failure, opened: opened)) }
        var command = command
        if let d = unit.directory {
            Manager.directoryStdio(d, kind: kind, stdio: &stdio)
            // runsv's `./finish EXITCODE STATUS`: the exit code and 0, or -1 and the signal.
            if kind == .execStopPost {
                switch machine.lastMainExit {
                case .exited(let code)?: command.words += RunsvRules.finishArguments(exitCode: code, signal: nil)
                case .killed(let sig)?, .dumped(let sig)?: command.words += RunsvRules.finishArguments(exitCode: nil, signal: sig)
                case nil: command.words += RunsvRules.finishArguments(exitCode: nil, signal: 0)
                }
            }
        }

        var extra: [(String, String)] = []
        if let main = machine.mainPID ?? machine.lastMainPID, role == .control { extra.append(("MAINPID", String(main))) }
        if kind == .execStop || kind == .execStopPost {
            extra.append(("SERVICE_RESULT", machine.result.rawValue))
            if let exit = machine.lastMainExit {
                extra.append(("EXIT_CODE", exit.codeName))
                switch exit {
                case .exited(let s): extra.append(("EXIT_STATUS", String(s)))
                case .killed(let sig), .dumped(let sig): extra.append(("EXIT_STATUS", Signals.name(sig) ?? String(sig)))
                }
            }
        }
        var pidEnvironment: [String] = []
        var passed: [Int32] = []
        if unit.notifyAccess != .none || machine.watchdogInterval.usec > 0 {
            if let path = notifySocket() { extra.append(("NOTIFY_SOCKET", path)) }
        }
        if role == .main && kind == .execStart {
            let wd = machine.watchdogInterval
            if wd.usec > 0 && !wd.isInfinite {
                extra.append(("WATCHDOG_USEC", String(wd.usec)))
                pidEnvironment.append("WATCHDOG_PID")
            }
            if !unit.fdStore.isEmpty {
                passed = unit.fdStore.map(\.fd)
                extra.append(("LISTEN_FDS", String(passed.count)))
                extra.append(("LISTEN_FDNAMES", unit.fdStore.map(\.name).joined(separator: ":")))
                pidEnvironment.append("LISTEN_PID")
            }
        }
        var request = SpawnRequest(config: config, command: command, kind: kind, stdio: stdio, extraEnvironment: extra,
                                   managerEnvironment: managerEnvironment, defaultWorkingDirectory: defaultWorkingDirectory)
        request.pidEnvironment = pidEnvironment
        request.passedFDs = passed
        request.privateDirectory = privateDirectory(unit)
        return .success(Prepared(request: request, opened: opened))
    }
}

/// A command's context could not be set up; the descriptors opened so far are to be closed.
struct ExecSetupError: Error {
    var message: String
    var opened: [Int32]
}
