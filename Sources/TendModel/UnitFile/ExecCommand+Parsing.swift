/// `Exec*=` command lines (systemd.service(5), "COMMAND LINES"): prefixes, word splitting, specifiers, and the
/// environment variable substitution done at spawn time.

/// Parses the value of one `Exec*=` line into its commands (more than one when a lone `;` separates them).
func parseExecLine(_ value: String, resolver: SpecifierResolver, location: SourceLocation) throws(ValueError)
    -> [ExecCommand]
{
    let words: [SplitWord]
    do {
        words = try splitWords(value, relaxEscapes: true)
    } catch {
        throw ValueError(message: error.description)
    }
    var commands: [ExecCommand] = []
    var current: [SplitWord] = []
    func finish() throws(ValueError) {
        defer { current.removeAll() }
        guard !current.isEmpty else { return }
        var first = Array(current[0].text.utf8)
        var command = ExecCommand(words: [])
        // Each prefix may appear once (`!` up to twice, as `!!`); a repeated one ends the prefixes and stays
        // part of the path, which then fails the path check below, as in systemd.
        var prefixEnd = 0
        var bangs = 0
        prefixes: while prefixEnd < first.count {
            switch first[prefixEnd] {
            case UInt8(ascii: "-") where !command.ignoreFailure: command.ignoreFailure = true
            case UInt8(ascii: "@") where !command.hasArgv0: command.hasArgv0 = true
            case UInt8(ascii: ":") where !command.noExpansion: command.noExpansion = true
            case UInt8(ascii: "+") where !command.fullPrivileges: command.fullPrivileges = true
            case UInt8(ascii: "!") where bangs < 2:
                bangs += 1
                command.ambient = true
            default: break prefixes
            }
            prefixEnd += 1
        }
        if command.fullPrivileges && command.ambient {
            throw ValueError(message: "the '+' prefix cannot be combined with '!' or '!!'")
        }
        first.removeFirst(prefixEnd)
        // A word that is exactly `\;` is a literal `;` argument, not a separator (systemd.service(5)).
        var texts = current.map { $0.text == "\\;" ? ";" : $0.text }
        texts[0] = decodeUTF8(first)
        if texts[0].isEmpty {
            throw ValueError(message: "empty executable path after the prefixes")
        }
        texts = try texts.map { (w: String) throws(ValueError) -> String in try resolver.expand(w) }
        let program = texts[0]
        if !program.hasPrefix("/") && program.contains("/") {
            throw ValueError(
                message: "\"\(program)\" is neither an absolute path nor a plain executable name")
        }
        if command.hasArgv0 && texts.count < 2 {
            throw ValueError(message: "the '@' prefix needs an argv[0] word after the program")
        }
        command.words = texts
        command.location = location
        commands.append(command)
    }
    for w in words {
        if w.bareSemicolon {
            try finish()
        } else {
            current.append(w)
        }
    }
    try finish()
    return commands
}

@inline(__always) private func isNameStart(_ c: UInt8) -> Bool {
    (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
        || c == UInt8(ascii: "_")
}
@inline(__always) private func isNameChar(_ c: UInt8) -> Bool {
    isNameStart(c) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
}

/// Whether `s` is a valid environment variable name (letters, digits, `_`, not starting with a digit).
func isValidEnvironmentName(_ s: String) -> Bool {
    let b = Array(s.utf8)
    guard let first = b.first, isNameStart(first) else { return false }
    return b.allSatisfy(isNameChar)
}

extension ExecCommand {
    /// The final argv after systemd's environment variable substitution (replace_env_argv(), systemd >= 252):
    /// - a word starting with `$` (not `${` or `$$`) names a variable with the whole rest of the word (`$FOO$FOO`
    ///   names `FOO$FOO`): it is replaced by the value split into words at whitespace, honouring quotes
    ///   (`TWO='two two' too` gives `two two` and `too`); an unset variable drops the word, an empty one too;
    /// - elsewhere `${VAR}` is replaced by the value as is (an unset variable by nothing), and `x$FOO` stays;
    /// - `$$` is a literal `$`;
    /// - with the `:` prefix (`noExpansion`) the words are returned unchanged.
    ///
    /// With the `@` prefix (`hasArgv0`) the result still starts with the program, then argv[0], then the
    /// arguments: `[program, argv0, args...]`. The caller passes `result[0]` as the file to execute and
    /// `result[1...]` as argv.
    public func expandedWords(environment: [String: String]) -> [String] {
        if noExpansion { return words }
        var out: [String] = []
        out.reserveCapacity(words.count)
        for word in words {
            let b = Array(word.utf8)
            if b.first == UInt8(ascii: "$"), b.count < 2 || (b[1] != UInt8(ascii: "{") && b[1] != UInt8(ascii: "$")) {
                if let value = environment[decodeUTF8(b.dropFirst())] {
                    out.append(contentsOf: Self.splitValue(value))
                }
                continue
            }
            out.append(Self.substituteBraced(b, environment: environment))
        }
        return out
    }

    /// A variable's value as words, as systemd splits it for `$VAR` (EXTRACT_UNQUOTE|EXTRACT_RELAX): at
    /// whitespace, `'…'` and `"…"` quote (a quote left open runs to the end), a backslash takes the next
    /// character as it is.
    static func splitValue(_ value: String) -> [String] {
        let b = Array(value.utf8)
        var words: [String] = []
        var i = 0
        func isSpace(_ c: UInt8) -> Bool { c == 32 || c == 9 || c == 10 || c == 13 }
        while i < b.count {
            while i < b.count && isSpace(b[i]) { i += 1 }
            if i >= b.count { break }
            var word: [UInt8] = []
            var quote: UInt8 = 0
            while i < b.count {
                let c = b[i]
                if quote == 0 && isSpace(c) { break }
                if c == UInt8(ascii: "\\") && quote != UInt8(ascii: "'") && i + 1 < b.count {
                    word.append(b[i + 1])
                    i += 2
                    continue
                }
                if quote != 0 && c == quote {
                    quote = 0
                } else if quote == 0 && (c == UInt8(ascii: "'") || c == UInt8(ascii: "\"")) {
                    quote = c
                } else {
                    word.append(c)
                }
                i += 1
            }
            words.append(decodeUTF8(word))
        }
        return words
    }

    /// Replaces `${NAME}` and `$$` in one word.
    static func substituteBraced(_ b: [UInt8], environment: [String: String]) -> String {
        guard b.contains(UInt8(ascii: "$")) else { return decodeUTF8(b) }
        var out: [UInt8] = []
        out.reserveCapacity(b.count)
        var i = 0
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "$"), i + 1 < b.count {
                if b[i + 1] == UInt8(ascii: "$") {
                    out.append(c)
                    i += 2
                    continue
                }
                if b[i + 1] == UInt8(ascii: "{"), let close = b[(i + 2)...].firstIndex(of: UInt8(ascii: "}")) {
                    let name = decodeUTF8(b[(i + 2)..<close])
                    if isValidEnvironmentName(name) {
                        if let value = environment[name] { out.append(contentsOf: value.utf8) }
                        i = close + 1
                        continue
                    }
                }
            }
            out.append(c)
            i += 1
        }
        return decodeUTF8(out)
    }
}

extension ExecCommand {
    /// What to execute and the argv to give it, after `expandedWords(environment:)`: with the `@` prefix the
    /// second word is argv[0]; otherwise argv[0] is the program as written. nil when no words are left (a
    /// command consisting only of unset `$VAR` words).
    public func argv(environment: [String: String]) -> (program: String, arguments: [String])? {
        let words = expandedWords(environment: environment)
        guard let program = words.first else { return nil }
        if hasArgv0 {
            guard words.count >= 2 else { return nil }
            return (program, Array(words.dropFirst()))
        }
        return (program, words)
    }
}
