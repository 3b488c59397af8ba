import Glibc
import TendModel
import TendSystem
import TendEngine
import TendFormat

/// `tend daemon ...` runs the manager, which is a separate binary, `tendd`, installed next to `tend`: the
/// CLI's libraries stay out of the long-running process (see tendd). The exec keeps the pid, so whoever
/// started `tend daemon` (a terminal, systemd, a container runtime) supervises the manager itself.
enum DaemonExec {
    static func run(_ args: [String]) -> Never {
        SiblingExec.run(binary: "tendd", override: "TEND_DAEMON_BIN", argv: ["tend", "daemon"] + args,
                        missing: "tend daemon: the manager binary 'tendd' was not found next to tend or on PATH; build it with 'swift build --product tendd' (with '-c release' for a release build, beside the tend you run), or put tendd on PATH.")
    }
}
