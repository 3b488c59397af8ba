import ArgumentParser
import Glibc
import TendControl
import TendModel
import TendSystem

// Shell completion of unit names. `tend --generate-completion-script bash|zsh|fish` writes the script
// (ArgumentParser generates it); for an argument marked `completion: .unitNames` the script runs
// `tend ---completion SUBCOMMAND -- positional@N INDEX CURSOR WORDS...` when TAB is pressed, and ArgumentParser
// calls the closure below with the command line's words. The candidates are the running manager's units (asked
// over the control socket with a hard deadline), or, when no manager answers, the unit files of the unit
// directories a manager would load. Any failure yields no candidates and prints nothing: a completion must
// never hang a shell or write into its command line.

extension CompletionKind {
    /// Unit names, from the manager or the unit directories.
    static var unitNames: CompletionKind {
        .custom { words, index, prefix in UnitCompletion.candidates(words: words, index: index, prefix: prefix) }
    }

    /// Unit names and `tend`, the manager's own log (`tend logs tend`).
    static var logUnitNames: CompletionKind {
        .custom { words, index, prefix in
            UnitCompletion.candidates(words: words, index: index, prefix: prefix, extra: ["tend"])
        }
    }

    /// Unit files, for `tend verify`.
    static var unitFiles: CompletionKind { .file(extensions: ["service", "target"]) }
}

enum UnitCompletion {
    /// A completion request as ArgumentParser reads it: `---completion SUBCOMMAND... -- ARGUMENT INDEX CURSOR
    /// WORDS...`. The fish script of ArgumentParser 1.8 asks fish 3 for the cursor with `commandline -o -tC`,
    /// which prints nothing there, so CURSOR is missing and the request would fail: it is put back as the end
    /// of the word being completed (the words start with the command's name, never a number, so a missing
    /// CURSOR is unambiguous). Other requests are returned as they are.
    static func repairing(_ args: [String]) -> [String] {
        guard args.first == "---completion", let dash = args.firstIndex(of: "--"), dash + 3 < args.count,
              let index = Int(args[dash + 2]), Int(args[dash + 3]) == nil
        else { return args }
        let words = args[(dash + 3)...]
        let cursor = index >= 0 && index < words.count ? words[words.startIndex + index].count : 0
        var repaired = args
        repaired.insert(String(cursor), at: dash + 3)
        return repaired
    }

    /// The whole budget for asking the manager (connect, send, reply), in milliseconds.
    static let managerTimeoutMS: Int64 = 500

    /// The names to offer for the word at `index` of `words` (the whole command line, `tend` first, verbatim as
    /// the shell has it), that begin with `prefix` (the word's text before the cursor).
    static func candidates(words: [String], index: Int, prefix: String, extra: [String] = []) -> [String] {
        let stateDir = optionValues("--state-dir", in: words).last ?? Defaults.stateDir
        let dirs = optionValues("--units", in: words)
        // With --units (enable, disable, is-enabled act on those directories offline) the files are the answer.
        let names = (dirs.isEmpty ? managerUnits(stateDir: stateDir) : nil)
            ?? unitFiles(in: dirs.isEmpty ? Defaults.unitDirs : dirs)
        // Already named on the command line (`web` names web.service): not offered again.
        let others = words.enumerated().filter { $0.offset > 0 && $0.offset != index }.map(\.element)
        let named = Set(others + others.compactMap { UnitName(parsing: $0)?.description })
        var seen: Set<String> = []
        var out: [String] = []
        for n in extra + names.sorted() where !named.contains(n) && seen.insert(n).inserted {
            // Quoted or escaped words are the shell's to match; a plain prefix is filtered here already.
            if prefix.contains(where: { "\"'\\".contains($0) }) || n.hasPrefix(prefix) { out.append(n) }
        }
        return out
    }

    /// The values of `--name VALUE` and `--name=VALUE` in `words`, `~/` expanded.
    static func optionValues(_ name: String, in words: [String]) -> [String] {
        var values: [String] = []
        var i = 0
        while i < words.count {
            let w = words[i]
            if w == "--" { break }
            if w == name, i + 1 < words.count, !words[i + 1].isEmpty {
                values.append(words[i + 1])
                i += 2
                continue
            }
            if w.hasPrefix(name + "="), w.count > name.count + 1 { values.append(String(w.dropFirst(name.count + 1))) }
            i += 1
        }
        return values.map { $0.hasPrefix("~/") ? Defaults.home + $0.dropFirst(1) : $0 }
    }

    /// The unit files in `dirs` (names with a unit suffix; drop-in and `.wants` directories are not units,
    /// templates without an instance can't be started by that name), first directory first.
    static func unitFiles(in dirs: [String]) -> [String] {
        var names: [String] = []
        for dir in dirs {
            guard let d = opendir(dir) else { continue }
            defer { closedir(d) }
            while let entry = readdir(d) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                guard let dot = name.lastIndex(of: "."), !name.hasPrefix("."),
                      UnitName.knownSuffixes.contains(String(name[name.index(after: dot)...])),
                      let unit = UnitName(parsing: name), unit.instance != ""
                else { continue }
                names.append(unit.description)
            }
        }
        return names
    }

    /// The running manager's units (all of them, inactive ones included), or nil when none answers within
    /// `managerTimeoutMS`: the socket is non-blocking throughout, so neither a full backlog nor a stopped
    /// manager can hold the shell.
    static func managerUnits(stateDir: String) -> [String]? {
        let deadline = Int64(Posix.monotonicNow.ns / 1_000_000) + managerTimeoutMS
        func left() -> Int32 { Int32(max(0, deadline - Int64(Posix.monotonicNow.ns / 1_000_000))) }
        let path = Array((stateDir + "/" + ControlProtocol.socketName).utf8)
        var addr = sockaddr_un()
        guard path.count < MemoryLayout.size(ofValue: addr.sun_path) else { return nil }
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw.copyBytes(from: path)
            raw[path.count] = 0
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { Posix.close(fd) }
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        // A Unix socket connects at once or not at all (EAGAIN: the manager's backlog is full).
        guard connected == 0 else { return nil }
        // Only a manager run by root or by this user is asked, as ControlClient does (struct ucred: pid, uid, gid).
        var cred: (Int32, UInt32, UInt32) = (0, 0, 0)
        var len = socklen_t(MemoryLayout.size(ofValue: cred))
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0, cred.1 == 0 || cred.1 == geteuid()
        else { return nil }
        var request = ControlRequest.list(all: true).bytes()
        while !request.isEmpty {
            let n = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                request.removeFirst(n)
                continue
            }
            guard n < 0, errno == EAGAIN || errno == EINTR, wait(fd, Int16(POLLOUT), left()) else { return nil }
        }
        var reply: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while !reply.contains(10) {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                reply += chunk[0..<n]
                guard reply.count < 64 << 20 else { return nil }
                continue
            }
            guard n < 0, errno == EAGAIN || errno == EINTR, wait(fd, Int16(POLLIN), left()) else { return nil }
        }
        guard let json = try? JSON.parse(Array(reply[..<reply.firstIndex(of: 10)!])),
              let status = try? StatusReply(reply: json)
        else { return nil }
        return status.units.map(\.unit)
    }

    /// Waits until `fd` is ready for `events` or `timeout` ms pass; false on timeout or error.
    private static func wait(_ fd: Int32, _ events: Int16, _ timeout: Int32) -> Bool {
        guard timeout > 0 else { return false }
        var p = pollfd(fd: fd, events: events, revents: 0)
        let r = poll(&p, 1, timeout)
        return r > 0 || (r < 0 && errno == EINTR)
    }
}
