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
        var candidates: [String] = []
        if let d = Posix.environment()["TEND_DAEMON_BIN"] { candidates.append(d) }
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        if n > 0 {
            let exe = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            candidates.append(String(exe[..<(exe.lastIndex(of: "/") ?? exe.startIndex)]) + "/tendd")
        }
        for dir in (Posix.environment()["PATH"] ?? "").split(separator: ":") { candidates.append("\(dir)/tendd") }
        guard let path = candidates.first(where: Posix.isExecutable) else {
            printError("tend daemon: the manager binary 'tendd' was not found next to tend or on PATH; build it with 'swift build --product tendd' (with '-c release' for a release build, beside the tend you run), or put tendd on PATH.")
            exit(1)
        }
        let argv = ["tend", "daemon"] + args
        let cargs = argv.map { strdup($0) } + [nil]
        execv(path, cargs)
        printError("tend daemon: failed to execute \(path): \(Posix.errorText(errno))")
        exit(1)
    }
}
