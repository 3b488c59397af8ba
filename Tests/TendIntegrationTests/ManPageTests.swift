import Glibc
import Testing
import TendControl
import TendSystem

/// docs/tend.1 can't fall behind the command: every subcommand of the root command's configuration (as the
/// built `tend` describes itself, `--experimental-dump-help`) has an entry in the page, every option of every
/// subcommand and of `tend daemon` (parsed by tendd, `tend daemon --help`) is named there, and the page renders
/// without a groff warning.
@Suite struct ManPageTests {
    static let repository: String = {
        var path = #filePath  // .../Tests/TendIntegrationTests/ManPageTests.swift
        for _ in 0..<3 { path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) }
        return path
    }()
    static let page = repository + "/docs/tend.1"
    static let groff = ["/usr/bin/groff", "/bin/groff"].first(where: Posix.isExecutable)
    static let man = ["/usr/bin/man", "/bin/man"].first(where: Posix.isExecutable)

    /// The page's source with roff's escapes taken out: `\-` is a dash, font changes and `\c`/`\&` vanish.
    static func text() -> String {
        let source = Posix.readFile(page).map { String(decoding: $0, as: UTF8.self) } ?? ""
        var s = source.replacingOccurrences("\\-", "-")
        for escape in ["\\fB", "\\fI", "\\fR", "\\fP", "\\c", "\\&"] { s = s.replacingOccurrences(escape, "") }
        return s
    }

    /// The words of `text` made of letters, digits, dashes and underscores (so `--state-dir` is one, `--state`
    /// another, `TEND_STATE_DIR` one).
    static func words(_ text: String) -> Set<String> {
        Set(text.split { !($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }.map(String.init))
    }

    /// Each command below the root with its path (`analyze blame`), aliases and long option names.
    static func commands() throws -> [(path: String, aliases: [String], options: [String])] {
        let r = runCommand([tendBinary, "--experimental-dump-help"])
        #expect(r.status == 0, "\(r.stderr)")
        let root = try #require(try JSON.parse(r.stdout)["command"])
        var out: [(String, [String], [String])] = []
        func walk(_ c: JSON, _ path: [String]) {
            for sub in c["subcommands"]?.array ?? [] {
                guard let name = sub["commandName"]?.string, name != "help" else { continue }
                var options: [String] = []
                for a in sub["arguments"]?.array ?? [] where a["shouldDisplay"]?.bool != false {
                    for n in a["names"]?.array ?? [] where n["kind"]?.string == "long" {
                        options.append("--" + (n["name"]?.string ?? ""))
                    }
                }
                out.append(((path + [name]).joined(separator: " "), sub["aliases"]?.stringArray ?? [], options))
                walk(sub, path + [name])
            }
        }
        walk(root, [])
        return out
    }

    @Test func everySubcommandHasAnEntryAndEveryOptionIsNamed() throws {
        let text = Self.text()
        #expect(!text.isEmpty, "cannot read \(Self.page)")
        let lines = text.split(separator: "\n").map(String.init)
        let words = Self.words(text)
        let commands = try Self.commands()
        #expect(commands.count > 20, "the command describes itself: \(commands.map(\.path))")
        for c in commands {
            // An entry: a `.TP` tag (or a heading) that starts with the command's name.
            let entry = lines.contains { $0 == ".B \(c.path)" || $0.hasPrefix(".B \(c.path) ") }
            #expect(entry, "docs/tend.1 has no entry for 'tend \(c.path)'")
            for alias in c.aliases where !words.contains(alias) {
                Issue.record("docs/tend.1 doesn't name \(alias), an alias of 'tend \(c.path)'")
            }
            for option in c.options where !words.contains(option) {
                Issue.record("docs/tend.1 doesn't name \(option) of 'tend \(c.path)'")
            }
        }
        // `tend daemon`'s options are tendd's own (ArgumentParser sees only the rest of the line).
        let daemon = runCommand([tendBinary, "daemon", "--help"])
        #expect(daemon.status == 0, "\(daemon.stderr)")
        let daemonOptions = Self.words(daemon.stdout).filter { $0.hasPrefix("--") && $0.count > 2 }
        #expect(daemonOptions.isSuperset(of: ["--units", "--state-dir", "--log-dir", "--no-start"]), "\(daemonOptions)")
        for option in daemonOptions where !words.contains(option) {
            Issue.record("docs/tend.1 doesn't name \(option) of 'tend daemon'")
        }
        // The sections a manual page is read for.
        for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "FILES", "ENVIRONMENT", "EXIT STATUS",
                        "SHELL COMPLETION", "EXAMPLES", "SEE ALSO"]
        {
            #expect(lines.contains { $0 == ".SH \(section)" || $0 == ".SH \"\(section)\"" }, "no \(section) section")
        }
        for variable in ["TEND_STATE_DIR", "TEND_LOG_DIR", "TEND_DAEMON_BIN", "NO_COLOR"] where !words.contains(variable) {
            Issue.record("docs/tend.1 doesn't name \(variable)")
        }
    }

    @Test(.enabled(if: groff != nil, "needs groff (Debian's groff-base) to check the page"))
    func thePageRendersWithoutGroffWarnings() {
        let r = runCommand([Self.groff!, "-man", "-ww", "-z", Self.page])
        #expect(r.status == 0)
        #expect(r.stderr.isEmpty, "groff -man -ww: \(r.stderr)")
        // And for a terminal, as man(1) runs it.
        let tty = runCommand([Self.groff!, "-man", "-Tutf8", "-ww", Self.page])
        #expect(tty.status == 0 && tty.stderr.isEmpty, "groff -man -Tutf8 -ww: \(tty.stderr)")
        #expect(tty.stdout.utf8.count > 10_000)
    }

    @Test(.enabled(if: man != nil, "needs man (Debian's man-db)"))
    func manRendersTheFile() {
        let r = runCommand([Self.man!, "-P", "cat", "-l", Self.page], environment: ["MANWIDTH": "80", "LC_ALL": "C.UTF-8"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("TEND(1)") && r.stdout.contains("EXIT STATUS"))
    }
}

extension String {
    /// Foundation-free replacement of every occurrence of `target`.
    fileprivate func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = self[...]
        while let r = rest.firstRange(of: target) {
            out += rest[..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}
