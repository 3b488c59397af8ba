import TendModel
import TendSystem

/// The pipe between a service directory's `run` (its standard output) and its `log/run` (its standard input).
/// The manager keeps both ends open for as long as the pair is supervised, so a restart of either side loses
/// nothing: the service never gets SIGPIPE while the logger restarts, the logger never reads end-of-file while
/// the service restarts, and what sits in the pipe waits for the next logger (s6-svscan's guarantee).
final class LogPipe {
    let read: Int32
    let write: Int32
    init(read: Int32, write: Int32) {
        self.read = read
        self.write = write
    }
}

/// A service directory's side of a unit (`UnitKind.directory`): the service state machine the engine runs, and
/// what runsv keeps around it.
public final class DirectoryUnit {
    public let service: ServiceUnit
    /// The service directory (for a logger: `DIR/log`), as found under the scanned directory.
    public let path: String
    /// The scanned name (`NAME` of `NAME.dir`).
    public let serviceName: String
    public let role: ServiceDirectoryRole
    /// `./down` existed when the directory was first seen: not started automatically.
    public let normallyDown: Bool
    /// `supervise/`, held while the directory is supervised.
    var supervise: SuperviseDirectory?
    var controlToken: UInt64?
    /// The pipe to (or from) the other unit of the pair.
    var pipe: LogPipe?
    /// The other unit of the pair (the logger of a service, the service of a logger).
    var partner: String?
    /// `p` was sent and no `c` since.
    public internal(set) var paused = false
    /// TERM was sent (`d`, `t`) and the process has not exited yet.
    var gotTerm = false
    /// Started at least once since it was found (a `down` service wants down until then).
    var started = false
    /// `x`: stop supervising once the service is down.
    public internal(set) var exitWhenDown = false
    /// The directory is gone from the scanned directory: stop, then forget it.
    var removed = false
    /// Control letters waiting for an override script (`control/LETTER`) that runs.
    var pendingLetters: [(letter: UInt8, command: SuperviseCommand)] = []
    var overrideRunning = false
    /// The time of the last start or death (`supervise/status`), and the pid it was taken for.
    var since = TAI64N(unixSeconds: 0, nanoseconds: 0)
    var sincePID: Int32 = -1
    /// The last record written, so unchanged states are not written again.
    var lastStatus: SuperviseStatus?
    /// s6 `notification-fd`: the read end of the readiness pipe of the running `run`, and its reactor token.
    var readiness: (fd: Int32, token: UInt64)?

    init(service: ServiceUnit, path: String, serviceName: String, role: ServiceDirectoryRole, normallyDown: Bool) {
        self.service = service
        self.path = path
        self.serviceName = serviceName
        self.role = role
        self.normallyDown = normallyDown
    }

    /// What runsv would record now: `run` while `run` lives, `finish` while `finish` runs, else `down`.
    func status(realtimeMicroseconds now: UInt64) -> SuperviseStatus {
        let m = service.machine
        var state = SuperviseStatus.State.down
        var pid: Int32 = 0
        if let main = m.mainPID {
            state = .run
            pid = main
        } else if m.state == .stopPost, let control = m.controlPID {
            state = .finish
            pid = control
        }
        if pid != sincePID {
            sincePID = pid
            since = TAI64N(unixSeconds: Int64(now / 1_000_000), nanoseconds: UInt32(now % 1_000_000) * 1000)
        }
        let want: SuperviseStatus.Want = exitWhenDown ? .exit
            : m.intent == .down || m.config.restart != .always || normallyDown && !started ? .down : .up
        return SuperviseStatus(since: since, pid: pid, paused: paused && pid != 0, want: want,
                               gotTerm: gotTerm && pid != 0, state: state)
    }
}
