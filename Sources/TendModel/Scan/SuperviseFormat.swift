// The daemontools/runit service-directory protocol as pure data: the 20-byte runit `supervise/status` record
// (which daemontools' svstat reads through its first 18 bytes), the human-readable `stat` and `pid` files, the
// control letters of `svc` and `sv`, runsv's restart pause and the arguments it passes to `./finish`.
// Formats: shared/PROTOCOLS.md §1–2 (daemontools 0.76 supervise.c, runit 2.1.2 runsv.c).

/// A TAI64N label: `2^62 + 10 + unix seconds` (libtai's constant 10), then nanoseconds, both big-endian.
public struct TAI64N: Equatable, Sendable {
    public var unixSeconds: Int64, nanoseconds: UInt32

    public init(unixSeconds: Int64, nanoseconds: UInt32) { (self.unixSeconds, self.nanoseconds) = (unixSeconds, nanoseconds) }

    static let base: UInt64 = 0x4000_0000_0000_000A

    /// The 12 bytes `taia_pack` writes (without the attoseconds, which runit's status overwrites with the pid).
    public var bytes: [UInt8] {
        let seconds = Self.base &+ UInt64(bitPattern: unixSeconds)
        var out: [UInt8] = []
        out.reserveCapacity(12)
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: seconds >> UInt64(shift))) }
        for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: nanoseconds >> UInt32(shift))) }
        return out
    }

    /// Reads the first 12 bytes of `bytes`; nil when shorter or the label is not a TAI64 label.
    public static func parse(_ bytes: ArraySlice<UInt8>) -> TAI64N? {
        guard bytes.count >= 12 else { return nil }
        var seconds: UInt64 = 0
        var nanos: UInt32 = 0
        let start = bytes.startIndex
        for i in 0..<8 { seconds = seconds << 8 | UInt64(bytes[start + i]) }
        for i in 8..<12 { nanos = nanos << 8 | UInt32(bytes[start + i]) }
        guard seconds >= base, nanos < 1_000_000_000 else { return nil }
        return TAI64N(unixSeconds: Int64(bitPattern: seconds - base), nanoseconds: nanos)
    }
}

/// What runsv's `update_status()` records about one service.
public struct SuperviseStatus: Equatable, Sendable {
    public enum State: UInt8, Sendable { case down = 0, run = 1, finish = 2 }
    public enum Want: Sendable, Equatable { case up, down, exit }

    /// Time of the last start, or of going down.
    public var since: TAI64N
    /// The pid of `run` (or of `finish` in state `.finish`); 0 when down.
    public var pid: Int32
    public var paused: Bool
    public var want: Want
    /// TERM sent and the process has not exited yet.
    public var gotTerm: Bool
    public var state: State

    public init(since: TAI64N, pid: Int32 = 0, paused: Bool = false, want: Want = .up, gotTerm: Bool = false,
                state: State = .down) {
        self.since = since
        self.pid = pid
        self.paused = paused
        self.want = want
        self.gotTerm = gotTerm
        self.state = state
    }

    /// The 20-byte `supervise/status`: TAI64N, pid little-endian, paused, want ('u'/'d'), term, state.
    public var bytes: [UInt8] {
        var out = since.bytes
        let p = UInt32(bitPattern: pid)
        out += [UInt8(truncatingIfNeeded: p), UInt8(truncatingIfNeeded: p >> 8),
                UInt8(truncatingIfNeeded: p >> 16), UInt8(truncatingIfNeeded: p >> 24)]
        out.append(paused ? 1 : 0)
        out.append(want == .up ? UInt8(ascii: "u") : UInt8(ascii: "d"))
        out.append(gotTerm ? 1 : 0)
        out.append(state.rawValue)
        return out
    }

    /// Reads a status record written by tend, runsv (20 bytes) or daemontools' supervise (18 bytes, no term/state:
    /// the state is then `run` when the pid is not 0). Nil when too short or malformed.
    public static func parse(_ bytes: [UInt8]) -> SuperviseStatus? {
        guard bytes.count >= 18, let since = TAI64N.parse(bytes[0..<12]) else { return nil }
        let pid = UInt32(bytes[12]) | UInt32(bytes[13]) << 8 | UInt32(bytes[14]) << 16 | UInt32(bytes[15]) << 24
        let want: Want
        switch bytes[17] {
        case UInt8(ascii: "u"): want = .up
        case UInt8(ascii: "d"), 0: want = .down
        default: return nil
        }
        let term = bytes.count >= 20 ? bytes[18] != 0 : false
        let state: State
        if bytes.count >= 20 {
            guard let s = State(rawValue: bytes[19]) else { return nil }
            state = s
        } else {
            state = pid == 0 ? .down : .run
        }
        return SuperviseStatus(since: since, pid: Int32(bitPattern: pid), paused: bytes[16] != 0, want: want,
                               gotTerm: term, state: state)
    }

    /// runsv's `supervise/stat`: `run|down|finish`, then `, paused`, `, got TERM`, and (while not down)
    /// `, want down` / `, want exit`, then a newline.
    public var statText: String {
        var text: String
        switch state {
        case .down: text = "down"
        case .run: text = "run"
        case .finish: text = "finish"
        }
        if paused { text += ", paused" }
        if gotTerm { text += ", got TERM" }
        if state != .down {
            switch want {
            case .up: break
            case .down: text += ", want down"
            case .exit: text += ", want exit"
            }
        }
        return text + "\n"
    }

    /// runsv's `supervise/pid`: the decimal pid and a newline, empty when down.
    public var pidText: String { pid == 0 ? "" : "\(pid)\n" }
}

/// One byte written to `supervise/control`, as `svc` (daemontools) and `sv` (runit) send them.
public enum SuperviseCommand: Equatable, Sendable {
    /// `u`: want up, start if down.
    case up
    /// `d`: want down; TERM then CONT if running.
    case down
    /// `o`: start once if down, never restart.
    case once
    /// `x`: exit (stop supervising) once the service is down.
    case exit
    /// `p` STOP (+ paused), `c` CONT, and the plain signals `h a i t k q 1 2`.
    case signal(Int32)

    public init?(letter: UInt8) {
        switch letter {
        case UInt8(ascii: "u"): self = .up
        case UInt8(ascii: "d"): self = .down
        case UInt8(ascii: "o"): self = .once
        case UInt8(ascii: "x"): self = .exit
        case UInt8(ascii: "p"): self = .signal(SIGSTOP)
        case UInt8(ascii: "c"): self = .signal(SIGCONT)
        case UInt8(ascii: "h"): self = .signal(SIGHUP)
        case UInt8(ascii: "a"): self = .signal(SIGALRM)
        case UInt8(ascii: "i"): self = .signal(SIGINT)
        case UInt8(ascii: "t"): self = .signal(SIGTERM)
        case UInt8(ascii: "k"): self = .signal(SIGKILL)
        case UInt8(ascii: "q"): self = .signal(SIGQUIT)
        case UInt8(ascii: "1"): self = .signal(SIGUSR1)
        case UInt8(ascii: "2"): self = .signal(SIGUSR2)
        default: return nil
        }
    }

    /// The `control/LETTER` override scripts runsv runs for this letter, in order: `d` and `x` run `control/t`
    /// first. A script that exits 0 replaces the default action (for `d`/`x`, the last one decides).
    public static func overrideScripts(for letter: UInt8) -> [String] {
        let own = String(UnicodeScalar(letter))
        if letter == UInt8(ascii: "d") || letter == UInt8(ascii: "x") { return ["control/t", "control/" + own] }
        return ["control/" + own]
    }
}

/// runsv's policy around `run` and `finish`.
public enum RunsvRules {
    /// The pause before the next start: none, or one second when `run` lived less than a second.
    public static func restartDelayNanoseconds(livedNanoseconds: Int64) -> Int64 {
        livedNanoseconds < 1_000_000_000 ? 1_000_000_000 : 0
    }

    /// `./finish`'s two arguments: the exit code and the low byte of the wait status, or `-1` and the signal.
    public static func finishArguments(exitCode: Int32?, signal: Int32?) -> [String] {
        if let signal { return ["-1", String(signal)] }
        return [String(exitCode ?? 0), "0"]
    }
}
