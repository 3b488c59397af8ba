import Glibc
import TendModel
import TendSystem

/// One service directory's `supervise/`, held the way daemontools' supervise and runit's runsv hold it
/// (shared/PROTOCOLS.md §1–2): `lock` under flock(2) for as long as this value lives, the `control` FIFO open for
/// reading and for writing (so it never reads end-of-file), the `ok` FIFO open for reading and never read. While
/// they are open, clients' non-blocking write-opens succeed (`svok` exits 0); once closed, they fail with ENXIO
/// ("supervise not running"). A lock left by a dead supervisor is free (flock dies with its holder), so it is
/// taken over; a live one is refused.
public final class SuperviseDirectory {
    public let serviceDirectory: String
    public let path: String
    private var lockFD: Int32 = -1
    /// The read end of `control`: readable when a client wrote letters.
    public private(set) var controlFD: Int32 = -1
    private var controlWriteFD: Int32 = -1
    private var okFD: Int32 = -1

    /// Why a directory could not be taken.
    public enum Refusal: Error, CustomStringConvertible, Equatable {
        /// Another live supervisor (a real `supervise`/`runsv`, or another tend) holds the lock.
        case locked(String)
        case failed(String)
        public var description: String {
            switch self {
            case .locked(let dir): return "\(dir)/supervise/lock is held by another supervisor; not supervising \(dir)"
            case .failed(let text): return text
            }
        }
    }

    /// Takes `dir/supervise/`, creating it (mode 0700) and its FIFOs (0600) as needed.
    public init(serviceDirectory dir: String) throws(Refusal) {
        serviceDirectory = dir
        path = dir + "/supervise"
        do {
            if Glibc.mkdir(path, 0o700) != 0 && Glibc.errno != EEXIST {
                throw SystemError("create directory \(path)", errno: Glibc.errno)
            }
            lockFD = try Posix.open(path + "/lock", O_WRONLY | O_CREAT | O_APPEND, mode: 0o600)
        } catch {
            throw .failed("\(dir): \(error)")
        }
        if flock(lockFD, LOCK_EX | LOCK_NB) != 0 {
            let err = Glibc.errno
            close()
            if err == EWOULDBLOCK { throw .locked(dir) }
            throw .failed("\(dir): \(SystemError("lock \(path)/lock", errno: err))")
        }
        do {
            for fifo in ["control", "ok"] where Glibc.mkfifo(path + "/" + fifo, 0o600) != 0 && Glibc.errno != EEXIST {
                throw SystemError("create FIFO \(path)/\(fifo)", errno: Glibc.errno)
            }
            controlFD = try Posix.open(path + "/control", O_RDONLY | O_NONBLOCK)
            controlWriteFD = try Posix.open(path + "/control", O_WRONLY | O_NONBLOCK)
            okFD = try Posix.open(path + "/ok", O_RDONLY | O_NONBLOCK)
        } catch {
            close()
            throw .failed("\(dir): \(error)")
        }
    }

    /// The control letters waiting in the FIFO, each decoded; a byte that is no letter is returned as a message
    /// (garbage in `control` is reported, never acted on).
    public func readCommands() -> (commands: [(letter: UInt8, command: SuperviseCommand)], garbage: [String]) {
        var commands: [(UInt8, SuperviseCommand)] = []
        var garbage: [String] = []
        var buffer = [UInt8](repeating: 0, count: 256)
        while controlFD >= 0 {
            let got: Int? = buffer.withUnsafeMutableBytes { (try? Posix.read(controlFD, into: $0)) ?? 0 }
            guard let n = got, n > 0 else { break }
            for byte in buffer[0..<n] {
                if let command = SuperviseCommand(letter: byte) {
                    commands.append((byte, command))
                } else {
                    garbage.append("\(serviceDirectory): ignored byte 0x\(String(byte, radix: 16)) written to supervise/control")
                }
            }
        }
        return (commands, garbage)
    }

    /// Writes `status` (20 bytes), `stat` and `pid`, each to a `.new` file renamed over the old one. Returns a
    /// message when a file could not be written (a read-only directory, a full disk); the service carries on.
    public func write(_ status: SuperviseStatus) -> String? {
        for (name, bytes) in [("status", status.bytes), ("stat", Array(status.statText.utf8)), ("pid", Array(status.pidText.utf8))] {
            let target = path + "/" + name
            do {
                let fd = try Posix.open(target + ".new", O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
                defer { Posix.close(fd) }
                if try Posix.write(fd, bytes) != bytes.count { throw SystemError("write \(target).new", errno: EIO) }
                if Glibc.rename(target + ".new", target) != 0 { throw SystemError("rename \(target).new", errno: Glibc.errno) }
            } catch {
                return "\(serviceDirectory): could not update supervise/\(name): \(error)"
            }
        }
        return nil
    }

    /// Closes the FIFOs and releases the lock: clients see "supervise not running" from here on.
    public func close() {
        for fd in [okFD, controlWriteFD, controlFD, lockFD] where fd >= 0 { Posix.close(fd) }
        (okFD, controlWriteFD, controlFD, lockFD) = (-1, -1, -1, -1)
    }

    deinit { close() }
}
