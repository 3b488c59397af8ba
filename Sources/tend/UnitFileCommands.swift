import ArgumentParser
import Glibc
import TendControl
import TendModel
import TendSystem
import TendEngine

// MARK: - mask / unmask / list-unit-files / edit

/// Where the unit-file commands act: the directories given with `--units`, else the running manager's (from
/// `ping`), else the default unit directory. Like systemctl, they change the files themselves, then have the
/// manager re-read them (`daemon-reload`) when one answers.
struct UnitFileOptions: ParsableArguments {
    @Option(name: .customLong("units"), help: "Unit directory to act on (the first one is written; repeatable).")
    var unitDirs: [String] = []
    @Flag(name: .customLong("no-reload"), help: "Don't have the manager re-read the unit files afterwards.")
    var noReload = false
    @OptionGroup var client: ClientOptions

    /// The unit directories, and whether a manager answered.
    func paths() -> (dirs: [String], manager: Bool) {
        let ping = try? call(client.stateDir, .ping, as: PingReply.self)
        if !unitDirs.isEmpty {
            let cwd = DaemonPaths.currentDirectory()
            return (unitDirs.map { $0.hasPrefix("/") ? $0 : cwd + "/" + $0 }, ping != nil)
        }
        if let ping, !ping.unitPaths.isEmpty { return (ping.unitPaths, true) }
        return (Defaults.unitDirs, ping != nil)
    }

    func installer(_ dirs: [String]) -> UnitInstaller { UnitInstaller(unitPaths: dirs, environment: Posix.environment()) }

    /// Makes the changes `body` makes with the installer, prints them as systemctl does, then daemon-reload.
    /// Returns whether a manager answered.
    func change(_ body: (UnitInstaller) throws(InstallError) -> [InstallChange]) throws -> Bool {
        let (dirs, manager) = paths()
        let changes: [InstallChange]
        do { changes = try body(installer(dirs)) } catch { throw CLIError(.installFailed, error.description) }
        printChanges(InstallReply(changes: changes), output: client.output)
        try reload(manager)
        return manager
    }

    /// daemon-reload, unless --no-reload or no manager answers.
    func reload(_ manager: Bool) throws {
        guard manager, !noReload else { return }
        let _: OKReply = try client.call(.daemonReload)
    }
}

struct Mask: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Mask units: link them to /dev/null so that nothing can start them, not even as a dependency.",
        discussion: """
            Creates FIRST_UNIT_DIR/masked/NAME -> /dev/null (systemd links NAME itself in /etc/systemd/system; \
            tend's unit files usually live in its first directory, so masks have a directory of their own, read \
            before every other). A running unit keeps running unless --now. Then daemon-reload.
            """)
    @Argument(help: "Units (NAME means NAME.service).", completion: .unitNames) var units: [String]
    @Flag(name: .customLong("now"), help: "Also stop the units.") var now = false
    @OptionGroup var files: UnitFileOptions

    func run() throws {
        try guarded {
            let manager = try files.change { installer throws(InstallError) in try installer.mask(units) }
            if now && manager { let _: OKReply = try files.client.call(.job(.stop, units: units, noBlock: false)) }
        }
    }
}

struct Unmask: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Unmask units: remove the /dev/null links of tend mask (and NAME -> /dev/null in the first directory).",
        discussion: "Then daemon-reload.")
    @Argument(help: "Units (NAME means NAME.service).", completion: .unitNames) var units: [String]
    @OptionGroup var files: UnitFileOptions

    func run() throws {
        try guarded { _ = try files.change { installer throws(InstallError) in try installer.unmask(units) } }
    }
}

struct ListUnitFiles: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list-unit-files",
        abstract: "List the unit files of the unit directories with their state (enabled, disabled, static, masked, …).",
        discussion: "The first directory that has a name wins, as when loading. tend has no presets: there is no PRESET column.")
    @Argument(help: "Only names matching these shell patterns (web*, *.target).") var patterns: [String] = []
    @Option(name: .customLong("state"), help: "Only these states (comma-separated: enabled,masked).") var state: [String] = []
    @OptionGroup var files: UnitFileOptions

    func run() throws {
        let (dirs, _) = files.paths()
        let states = Set(state.flatMap { $0.split(separator: ",").map(String.init) })
        let rows = files.installer(dirs).unitFiles().filter { row in
            (patterns.isEmpty || patterns.contains { fnmatch($0, row.name, 0) == 0 || fnmatch($0 + ".service", row.name, 0) == 0 })
                && (states.isEmpty || states.contains(row.state))
        }
        if files.client.output == .json {
            out(JSON.array(rows.map { .object([("unit", .string($0.name)), ("state", .string($0.state)), ("path", .string($0.path))]) })
                .serialized(pretty: true) + "\n")
            return
        }
        let width = max("UNIT FILE".count, rows.map(\.name.count).max() ?? 0)
        func pad(_ s: String) -> String { s + String(repeating: " ", count: width - s.count) }
        var text = pad("UNIT FILE") + " STATE\n"
        for r in rows { text += pad(r.name) + " " + r.state + "\n" }
        text += "\n\(rows.count) unit files listed.\n"
        Terminal.startPager()
        out(text)
    }
}

struct Edit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Edit a drop-in (or with --full the unit file) in $EDITOR, then daemon-reload, as systemctl edit.",
        discussion: """
            Without --full: FIRST_UNIT_DIR/NAME.d/override.conf (or --drop-in NAME.conf), created if need be; the \
            current unit file is shown below a marker line, as comments, and is discarded. With --full: a copy of \
            the unit file in the first directory. The editor is $SYSTEMD_EDITOR, $EDITOR or $VISUAL, else editor, \
            nano, vim or vi. The file is written only when the editor exits 0 and leaves something; an empty file \
            cancels.
            """)
    @Argument(help: "The unit (NAME means NAME.service).", completion: .unitNames) var unit: String
    @Flag(name: .customLong("full"), help: "Edit the whole unit file instead of a drop-in.") var full = false
    @Option(name: .customLong("drop-in"), help: "The drop-in's name (default: override.conf).") var dropIn = "override.conf"
    @OptionGroup var files: UnitFileOptions

    static let keepMarker = "### Anything between here and the comment below will become the contents of the file"
    static let discardMarker = "### Edits below this comment will be discarded"

    func run() throws {
        try guarded {
            guard let name = UnitName(parsing: unit) else {
                throw CLIError(.invalidArgument, "Invalid unit name \"\(unit)\".")
            }
            let (dirs, manager) = files.paths()
            guard let first = dirs.first else { throw CLIError(.invalidArgument, "No unit directory.") }
            let loader = UnitLoader(searchPaths: dirs, context: SpecifierContext.current(environment: Posix.environment()))
            guard let fragment = loader.fragmentPath(for: name) else {
                throw CLIError(.unitNotFound, "Unit \(name) not found in \(dirs.joined(separator: ", ")).")
            }
            let current = String(decoding: Posix.readFile(fragment, limit: 1 << 20) ?? [], as: UTF8.self)
            let target: String
            var body: String
            if full {
                target = first + "/" + name.description
                body = (Posix.readFile(target, limit: 1 << 20).map { String(decoding: $0, as: UTF8.self) }) ?? current
            } else {
                let file = dropIn.hasSuffix(".conf") ? dropIn : dropIn + ".conf"
                guard !file.contains("/") else { throw CLIError(.invalidArgument, "--drop-in takes a file name, not a path.") }
                target = first + "/" + name.description + ".d/" + file
                body = Posix.readFile(target, limit: 1 << 20).map { String(decoding: $0, as: UTF8.self) } ?? ""
            }
            var text = body
            if !full {
                text = "### Editing \(target)\n\(Self.keepMarker)\n\n" + body + (body.isEmpty || body.hasSuffix("\n") ? "" : "\n")
                    + "\n\(Self.discardMarker)\n\n"
                    + (loader.catText(name) ?? current).split(separator: "\n", omittingEmptySubsequences: false)
                    .map { $0.isEmpty ? "#" : "# " + $0 }.joined(separator: "\n") + "\n"
            }
            let dir = parentDirectory(target)
            try? Posix.mkdirs(dir, mode: 0o755)
            var template = Array((dir + "/.#" + baseName(target) + "XXXXXX").utf8CString)
            let fd = mkstemp(&template)
            guard fd >= 0 else { throw CLIError("Failed to create a temporary file in \(dir): \(String(cString: strerror(errno))).") }
            let temp = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            defer { unlink(temp) }
            _ = try? Posix.write(fd, Array(text.utf8))
            fchmod(fd, 0o644)
            close(fd)
            guard Self.runEditor(temp) else { throw CLIError("The editor failed; \(target) is unchanged.") }
            let edited = String(decoding: Posix.readFile(temp, limit: 1 << 20) ?? [], as: UTF8.self)
            let kept = Self.keptText(edited)
            if kept.isEmpty {
                printError("Editing \"\(target)\" canceled: temporary file is empty.")
                return
            }
            let final = kept.hasSuffix("\n") ? kept : kept + "\n"
            guard let out = try? Posix.open(temp, O_WRONLY | O_TRUNC, mode: 0o644) else { throw CLIError("Failed to write \(temp).") }
            _ = try? Posix.write(out, Array(final.utf8))
            fsync(out)
            close(out)
            guard rename(temp, target) == 0 else {
                throw CLIError("Failed to write \(target): \(String(cString: strerror(errno))).")
            }
            printError("Wrote \(target).")
            try files.reload(manager)
        }
    }

    /// What the editor left to keep: the lines before the discard marker, without the `###` header lines.
    static func keptText(_ edited: String) -> String {
        var lines: [Substring] = []
        for line in edited.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == discardMarker { break }
            if line.hasPrefix("### Editing ") || line == keepMarker { continue }
            lines.append(line)
        }
        let text = lines.joined(separator: "\n")
        return text.allSatisfy { $0 == "\n" || $0 == " " || $0 == "\t" } ? "" : text.trimmingCharacters(in: "\n") + "\n"
    }

    /// Runs the user's editor on `path` with the terminal; true when it exits 0.
    static func runEditor(_ path: String) -> Bool {
        let env = Posix.environment()
        var candidates = [env["SYSTEMD_EDITOR"], env["EDITOR"], env["VISUAL"]].compactMap { $0 }.filter { !$0.isEmpty }
        if candidates.isEmpty {
            candidates = ["editor", "nano", "vim", "vi"].filter { name in
                (env["PATH"] ?? "/usr/bin:/bin").split(separator: ":").contains { access("\($0)/\(name)", X_OK) == 0 }
            }
        }
        guard let editor = candidates.first else {
            printError("No editor: set $EDITOR.")
            return false
        }
        // As systemd: the variable may hold arguments ("code --wait"); the file is passed as one more.
        let quoted = "'" + path.replacing("'", with: "'\\''") + "'"
        let status = system(editor + " " + quoted)
        return status != -1 && (status >> 8) & 0xff == 0 && status & 0x7f == 0
    }
}
