import Testing

@testable import TendModel
@testable import TendSystem
@testable import TendEngine

// MARK: - Helpers shared by the unit-file tests

let testContext = SpecifierContext(
    userName: "alice", uid: 1000, home: "/home/alice", runtimeDir: "/run/user/1000",
    stateDir: "/home/alice/.local/state", cacheDir: "/home/alice/.cache", logsDir: "/home/alice/.local/state/log",
    configDir: "/home/alice/.config", hostName: "box.example.org")

/// Parses `text` as the unit `name` and returns the configuration and the diagnostics (without validation).
func parseUnit(_ text: String, name: String = "web.service") -> (config: ServiceConfig, diagnostics: [Diagnostic]) {
    var config = ServiceConfig(name: UnitName(parsing: name)!)
    var diagnostics: [Diagnostic] = []
    parseUnitText(text, file: name, into: &config, context: testContext, diagnostics: &diagnostics)
    return (config, diagnostics)
}

/// `[Service]` + `body`, parsed.
func parseService(_ body: String, name: String = "web.service") -> (config: ServiceConfig, diagnostics: [Diagnostic]) {
    parseUnit("[Service]\n" + body, name: name)
}

/// The descriptions of the diagnostics, for compact assertions.
func texts(_ diagnostics: [Diagnostic]) -> [String] { diagnostics.map(\.description) }

func errors(_ diagnostics: [Diagnostic]) -> [Diagnostic] { diagnostics.filter { $0.severity == .error } }

// MARK: - Syntax (systemd.syntax(7))

@Suite struct UnitFileSyntaxTests {
    @Test func sectionsCommentsAndWhitespaceAroundEquals() {
        let (config, diags) = parseUnit(
            """
            # a comment
            ; another comment
            [Unit]
              Description =  my web server  

            [Service]
            ExecStart = /usr/bin/web --port 80
            """)
        #expect(diags.isEmpty)
        #expect(config.description == "my web server")
        #expect(config.execStart.map(\.words) == [["/usr/bin/web", "--port", "80"]])
        #expect(config.execStart.first?.location == SourceLocation(file: "web.service", line: 7))
    }

    @Test func continuationLinesJoinWithASpaceAndSkipCommentLines() {
        let (config, diags) = parseUnit(
            """
            [Service]
            ExecStart=/bin/echo one \\
              two \\
            # this comment is skipped
            ; and this one
              three
            Restart=bogus
            """)
        #expect(config.execStart.first?.words == ["/bin/echo", "one", "two", "three"])
        // The continued directive is reported at the line where it starts; the next one at its own line.
        #expect(texts(diags) == [#"web.service:7: Restart=: unknown value "bogus""#])
    }

    @Test func commentEndingInBackslashDoesNotContinue() {
        let (config, diags) = parseUnit("[Unit]\n# a comment \\\nDescription=x\n")
        #expect(diags.isEmpty)
        #expect(config.description == "x")
    }

    @Test func systemdSyntaxManPageExample() {
        let (config, diags) = parseUnit(
            """
            [Unit]
            Description=value 3\\
            # this line is ignored
            ; this line is ignored too
                   value 3 continued
            """)
        #expect(diags.isEmpty)
        #expect(config.description == "value 3        value 3 continued")
    }

    @Test func escapedBackslashAtEndOfLineDoesNotContinue() {
        let (config, _) = parseService("Environment=A=x\\\\\nEnvironment=B=y")
        #expect(config.environment.map(\.key) == ["A", "B"])
        #expect(config.environment.first?.value == "x\\")
    }

    @Test func continuationAtEndOfFileIsParsed() {
        let (config, diags) = parseService("Description=x\nExecStart=/bin/true \\")
        #expect(config.execStart.first?.words == ["/bin/true"])
        #expect(
            texts(diags) == [
                "web.service:2: warning: Description=: unknown directive in [Service] (it belongs in [Unit]), ignoring"
            ])
    }

    @Test func crlfLineEndingsAreAccepted() {
        let (config, diags) = parseUnit("[Service]\r\nExecStart=/bin/true\r\nRestart=always\r\n")
        #expect(diags.isEmpty)
        #expect(config.restart == .always)
    }

    @Test func unknownSectionIsAWarningAndItsLinesAreIgnored() {
        let (config, diags) = parseUnit(
            """
            [Unit]
            Description=x
            [Socket]
            ListenStream=80
            [X-Custom]
            Anything=goes
            [Service]
            ExecStart=/bin/true
            """)
        #expect(texts(diags) == ["web.service:3: warning: unknown section [Socket], ignoring it"])
        #expect(config.execStart.count == 1)
    }

    @Test func serviceSectionIsUnknownInATarget() {
        let (_, diags) = parseUnit("[Unit]\nDescription=t\n[Service]\nExecStart=/bin/true\n", name: "app.target")
        #expect(texts(diags) == ["app.target:3: warning: unknown section [Service], ignoring it"])
    }

    @Test func unknownDirectiveIsAWarningXDirectivesAreSilent() {
        let (_, diags) = parseService("ExecStart=/bin/true\nFrobnicate=yes\nX-Mine=1\n")
        #expect(texts(diags) == ["web.service:3: warning: Frobnicate=: unknown directive, ignoring"])
    }

    @Test func knownButUnsupportedDirectiveSaysSo() {
        let (_, diags) = parseService("ProtectSystem=strict\nMemoryMin=1G\nPrivateUsers=yes\n")
        #expect(
            texts(diags) == [
                "web.service:3: warning: MemoryMin=: not supported by tend, ignored",
                "web.service:4: warning: PrivateUsers=: not supported by tend, ignored",
            ])
        #expect(errors(diags).isEmpty)
    }

    @Test func oldNamesOfThePathSandboxingDirectivesAreKnown() {
        let (config, diags) = parseService("ReadWriteDirectories=-/etc/redis\nReadOnlyDirectories=/usr\nInaccessibleDirectories=/home\n")
        #expect(texts(diags).isEmpty)
        #expect(config.sandbox.readWritePaths == [SandboxPath(path: "/etc/redis", ignoreMissing: true)])
        #expect(config.sandbox.readOnlyPaths == [SandboxPath(path: "/usr", ignoreMissing: false)])
        #expect(config.sandbox.inaccessiblePaths == [SandboxPath(path: "/home", ignoreMissing: false)])
    }

    @Test func assignmentOutsideAnySectionIsAnError() {
        let (_, diags) = parseUnit("Description=x\n[Unit]\n")
        #expect(texts(diags) == [#"web.service:1: assignment "Description=" outside of any section"#])
    }

    @Test func lineWithoutEqualsIsAnError() {
        let (_, diags) = parseUnit("[Service]\nExecStart /bin/true\n")
        #expect(texts(diags) == [#"web.service:2: missing '=' in "ExecStart /bin/true""#])
    }

    @Test func badSectionHeaderIsAnError() {
        let (_, diags) = parseUnit("[Service\nExecStart=/bin/true\n[]\n")
        #expect(
            texts(diags) == [
                #"web.service:1: invalid section header "[Service""#, #"web.service:3: invalid section header "[]""#,
            ])
    }

    @Test func emptyKeyIsAnError() {
        let (_, diags) = parseService("=value\n")
        #expect(texts(diags) == ["web.service:2: missing key name before '='"])
    }

    @Test func everyProblemIsReportedAndParsingGoesOn() {
        let (config, diags) = parseUnit(
            """
            [Service]
            Restart=sometimes
            RestartSec=soon
            Type=weird
            ExecStart=/bin/true
            Nice=99
            """)
        #expect(
            texts(diags) == [
                #"web.service:2: Restart=: unknown value "sometimes""#,
                #"web.service:3: RestartSec=: invalid time span "soon""#,
                #"web.service:4: Type=: unknown value "weird""#,
                #"web.service:6: Nice=: invalid nice level "99" (expected -20…19)"#,
            ])
        #expect(config.execStart.count == 1)
        #expect(config.restart == .no)
    }

    @Test func lastAssignmentOfAScalarWins() {
        let (config, _) = parseService("Restart=always\nRestart=on-failure\n")
        #expect(config.restart == .onFailure)
    }

    @Test func binaryJunkGivesDiagnosticsNotACrash() {
        var bytes: [UInt8] = []
        var seed: UInt32 = 12345
        for _ in 0..<20_000 {
            seed = seed &* 1_103_515_245 &+ 12345
            bytes.append(UInt8(truncatingIfNeeded: seed >> 16))
        }
        let text = String(decoding: bytes, as: UTF8.self)
        let (_, diags) = parseUnit(text)
        #expect(!diags.isEmpty)
        #expect(diags.count <= maximumDiagnosticsPerFile + 1)
    }

    @Test func manyWarningsAreCappedButParsingGoesOn() {
        let noise = (0..<300).map { "Unknown\($0)=x" }.joined(separator: "\n")
        let (config, diags) = parseService(noise + "\nRestart=always\nExecStart=/bin/true\n")
        #expect(config.restart == .always)
        #expect(config.execStart.count == 1)
        #expect(diags.count == maximumDiagnosticsPerFile + 1)
        #expect(diags.last?.severity == .warning)
        #expect(diags.last?.message == "100 more problems in this file not shown")
        #expect(errors(diags).isEmpty)
    }

    @Test func nulByteInALineIsReported() {
        let (config, diags) = parseUnit("[Service]\nExecStart=/bin/tr\u{0}ue\nRestart=always\n")
        #expect(texts(diags) == ["web.service:2: line contains a NUL byte"])
        #expect(config.execStart.isEmpty)
        #expect(config.restart == .always)
    }

    @Test func invalidUTF8LineIsReported() {
        let bytes: [UInt8] = Array("[Unit]\nDescription=caf".utf8) + [0xC3, 0x28] + Array("\n".utf8)
        let (config, diags) = parseUnit(String(decoding: bytes, as: UTF8.self))
        #expect(texts(diags) == ["web.service:2: line is not valid UTF-8"])
        #expect(config.description == nil)
    }

    @Test func validUTF8IsKept() {
        let (config, diags) = parseUnit("[Unit]\nDescription=Grüße ☃\n")
        #expect(diags.isEmpty)
        #expect(config.description == "Grüße ☃")
    }

    @Test func oneMegabyteLineParsesInLinearTime() {
        let long = String(repeating: "a", count: 1 << 20)
        let (config, diags) = parseUnit("[Unit]\nDescription=\(long)\n[Service]\nExecStart=/bin/echo \(long)\n")
        #expect(diags.isEmpty)
        #expect(config.description?.utf8.count == 1 << 20)
        #expect(config.execStart.first?.words.last?.utf8.count == 1 << 20)
    }

    @Test func manyContinuationLinesStayLinear() {
        let lines = Array(repeating: "  word \\", count: 50_000).joined(separator: "\n")
        let (config, diags) = parseService("ExecStart=/bin/echo \\\n" + lines + "\n  end\n")
        #expect(diags.isEmpty)
        #expect(config.execStart.first?.words.count == 50_002)
    }

    @Test func oversizedTextIsRefused() {
        let text = "[Unit]\n" + String(repeating: "#", count: maximumUnitFileSize)
        let (_, diags) = parseUnit(text)
        #expect(texts(diags) == ["web.service:1: file is larger than 8 MiB, refusing to parse it"])
    }

    @Test func unterminatedQuoteIsAnErrorForThatDirective() {
        let (config, diags) = parseService("ExecStart=/bin/echo \"hello\nRestart=always\n")
        #expect(texts(diags) == ["web.service:2: ExecStart=: unterminated quoted string"])
        #expect(config.execStart.isEmpty)
        #expect(config.restart == .always)
    }
}

// MARK: - Word splitting, quoting and escapes

@Suite struct UnitFileQuotingTests {
    @Test func quotesMayStartMidWord() throws {
        #expect(try splitWordStrings(#"ONE='one' TWO="two words" three"#) == ["ONE=one", "TWO=two words", "three"])
    }

    @Test func cEscapes() throws {
        #expect(try splitWordStrings(#"\x41\102\u00e9\U0001F600"#) == ["AB\u{e9}\u{1F600}"])
        #expect(
            try splitWordStrings(#""a\tb" a\sb \\ \" \' \a\b\f\n\r\v"#) == [
                "a\tb", "a b", "\\", "\"", "'", "\u{7}\u{8}\u{c}\n\r\u{b}",
            ])
    }

    @Test func escapesInsideQuotes() throws {
        #expect(try splitWordStrings(#""say \"hi\"" 'it\'s'"#) == [#"say "hi""#, "it's"])
    }

    @Test func emptyQuotedWordIsAWord() throws {
        #expect(try splitWordStrings(#"a "" b"#) == ["a", "", "b"])
    }

    @Test func badEscapesAreErrors() {
        #expect(throws: WordSplitError.invalidEscape(#"\q"#)) { try splitWordStrings(#"\q"#) }
        #expect(throws: WordSplitError.invalidEscape(#"\xZZ"#)) { try splitWordStrings(#"\xZZ"#) }
        #expect(throws: WordSplitError.invalidEscape(#"\x00"#)) { try splitWordStrings(#"\x00"#) }
        #expect(throws: WordSplitError.invalidEscape(#"\x4"#)) { try splitWordStrings(#"\x4"#) }
        #expect(throws: WordSplitError.trailingBackslash) { try splitWordStrings("abc\\") }
        #expect(throws: WordSplitError.unterminatedQuote) { try splitWordStrings("'abc") }
    }

    /// Exec lines keep an escape cunescape() doesn't know, backslash included (EXTRACT_UNESCAPE_RELAX), as
    /// systemd does; a word that is exactly `\;` is a literal `;`; the known escapes are still decoded.
    @Test func execLinesKeepUnknownEscapesAsWritten() {
        let (config, diags) = parseService(#"ExecStart=/bin/prog '\w+\K' \;x \; a\tb \x41 \x00 'q\ z' \d"#)
        #expect(errors(diags).isEmpty, "\(texts(diags))")
        #expect(config.execStart.first?.words == ["/bin/prog", #"\w+\K"#, #"\;x"#, ";", "a\tb", "A", #"\x00"#, #"q\ z"#, #"\d"#])
        #expect(config.execStart.count == 1, "an escaped semicolon separates nothing")
        let (two, _) = parseService("ExecStart=/bin/echo a ; /bin/echo b")
        #expect(two.execStart.map(\.words) == [["/bin/echo", "a"], ["/bin/echo", "b"]])
        let (trailing, d2) = parseService(#"ExecStart=/bin/echo x\\"#)
        #expect(errors(d2).isEmpty && trailing.execStart.first?.words == ["/bin/echo", #"x\"#])
        // Elsewhere (Environment=) systemd is strict, and so is tend.
        #expect(throws: WordSplitError.invalidEscape(#"\w"#)) { try splitWordStrings(#"\w"#) }
    }

    @Test func invalidEscapeInADirectiveNamesIt() {
        let (_, diags) = parseService(#"Environment=A=\q"#)
        #expect(texts(diags) == [#"web.service:2: Environment=: invalid escape sequence "\q""#])
    }
}
