import Glibc
import TendEngine
import TendSystem

/// CMD mode's unit file (see TendEngine/Manager+Command.swift): written into `STATE_DIR/command/` at every
/// start, a unit directory searched after the user's.
enum CommandMode {
    /// Writes `tend-cmd.service` for `argv` and returns its directory; fails with a clear message (a command
    /// not found, a state directory not writable).
    static func writeUnit(argv: [String], stateDir: String, unitPaths: [String], target: String?, cwd: String) -> String {
        guard let first = argv.first, !first.isEmpty else { DaemonCommand.fail("-- must be followed by a command.", usage: true) }
        let program = resolve(first)
        let dir = stateDir + "/command"
        do { try Posix.mkdirs(dir, mode: 0o755) } catch {
            DaemonCommand.fail("Cannot create \(dir) for the command's unit: \(error).")
        }
        var after: [String]
        if let target {
            after = [target]
        } else if unitPaths.contains(where: usesTargets) {
            after = ["default.target"]
        } else {
            // A directory of services: after each of them, so that it stops first.
            after = unitPaths.flatMap(listing).filter { $0.hasSuffix(".service") && !$0.contains("@.") && $0 != commandUnitName }
        }
        let env = Posix.environment()
        let names = env.keys.filter { name in
            !name.isEmpty && name.utf8.allSatisfy { $0 == 95 || (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) }
                && name != "TEND_HOLDER_FD" && name != "NOTIFY_SOCKET"
        }.sorted()
        var text = """
            # Written by tend daemon for the command given after --; rewritten at every start.
            [Unit]
            Description=The command \(escapeSpecifiers(argv.joined(separator: " ")))
            SuccessAction=exit
            FailureAction=exit

            """
        if !after.isEmpty { text += "After=\(after.joined(separator: " "))\n" }
        text += """
            [Service]
            ExecStart=\(([program] + argv.dropFirst()).map(quote).joined(separator: " "))
            WorkingDirectory=\(escapeSpecifiers(cwd))
            PassEnvironment=\(names.joined(separator: " "))

            """
        // Its stdio are the manager's own (the container's log, a terminal), where they can be reopened.
        if usable(0) { text += "StandardInput=file:/proc/self/fd/0\n" }
        if usable(1) { text += "StandardOutput=append:/proc/self/fd/1\n" }
        if usable(2) { text += "StandardError=append:/proc/self/fd/2\n" }
        let path = dir + "/" + commandUnitName
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { DaemonCommand.fail("Cannot write \(path): \(Posix.errorText(errno)).") }
        defer { Posix.close(fd) }
        guard (try? Posix.write(fd, Array(text.utf8))) == text.utf8.count else {
            DaemonCommand.fail("Cannot write \(path): \(Posix.errorText(errno)).")
        }
        return dir
    }

    /// A program name without a slash is looked up in PATH, as a shell would.
    static func resolve(_ name: String) -> String {
        if name.contains("/") {
            guard Posix.isExecutable(name) else { DaemonCommand.fail("The command \(name) is not an executable file.") }
            return name.hasPrefix("/") ? name : DaemonCommand.currentDirectory() + "/" + name
        }
        let path = Posix.environment()["PATH"] ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for dir in path.split(separator: ":") where Posix.isExecutable("\(dir)/\(name)") { return "\(dir)/\(name)" }
        DaemonCommand.fail("The command \(name) was not found in PATH (\(path)).")
    }

    /// One word of an `ExecStart=` line: double-quoted, with C escapes, `%%` and `$$`.
    static func quote(_ word: String) -> String {
        var out = "\""
        for ch in word.unicodeScalars {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "%": out += "%%"
            case "$": out += "$$"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out + "\""
    }

    static func escapeSpecifiers(_ s: String) -> String {
        s.replacing("%", with: "%%").replacing("\n", with: " ")
    }

    /// A descriptor that can be opened again through /proc and shared: a terminal, a pipe, a file opened for
    /// appending (not a socket; not a file written at an offset, which the manager's own writes would overwrite:
    /// the command's output goes to its log then).
    static func usable(_ fd: Int32) -> Bool {
        var st = stat()
        guard fstat(fd, &st) == 0, access("/proc/self/fd/\(fd)", F_OK) == 0 else { return false }
        switch st.st_mode & S_IFMT {
        case S_IFSOCK: return false
        case S_IFREG: return fd == 0 || fcntl(fd, F_GETFL) & O_APPEND != 0
        default: return true
        }
    }

    static func listing(_ dir: String) -> [String] {
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafePointer(to: e.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func usesTargets(_ dir: String) -> Bool {
        listing(dir).contains { $0 == "default.target" || $0 == "multi-user.target" || $0.hasSuffix(".wants") || $0.hasSuffix(".requires") }
    }
}
