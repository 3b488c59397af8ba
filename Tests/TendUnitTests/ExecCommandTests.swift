import Testing

@testable import TendModel
@testable import TendSystem
@testable import TendEngine

@Suite struct ExecCommandParsingTests {
    @Test func prefixesInAnyCombination() throws {
        let config = parseService(
            """
            ExecStartPre=-/bin/might-fail
            ExecStartPre=@/bin/busybox sh -c true
            ExecStartPre=:/bin/echo $HOME
            ExecStartPre=+/bin/privileged
            ExecStartPre=!!/bin/ambient
            ExecStartPre=-@:/bin/all three
            ExecStartPre=:-!/bin/order-does-not-matter
            """
        ).config
        let c = config.execStartPre
        try #require(c.count == 7)
        #expect(c[0].ignoreFailure && c[0].words == ["/bin/might-fail"])
        #expect(c[1].hasArgv0 && c[1].words == ["/bin/busybox", "sh", "-c", "true"])
        #expect(c[2].noExpansion && c[2].words == ["/bin/echo", "$HOME"])
        #expect(c[3].fullPrivileges)
        #expect(c[4].ambient && c[4].words == ["/bin/ambient"])
        #expect(c[5].ignoreFailure && c[5].hasArgv0 && c[5].noExpansion)
        #expect(c[6].noExpansion && c[6].ignoreFailure && c[6].ambient)
        #expect(c[6].words == ["/bin/order-does-not-matter"])
    }

    @Test func bareProgramNameIsKeptForTheRuntimeToResolve() {
        let (config, diags) = parseService("ExecStart=python3 -m http.server")
        #expect(diags.isEmpty)
        #expect(config.execStart.first?.words == ["python3", "-m", "http.server"])
    }

    @Test func relativePathWithSlashIsAnError() {
        #expect(
            texts(parseService("ExecStart=./run.sh").diagnostics) == [
                #"web.service:2: ExecStart=: "./run.sh" is neither an absolute path nor a plain executable name"#
            ])
    }

    @Test func badPrefixCombinationsAreErrors() {
        #expect(
            texts(parseService("ExecStart=+!/bin/x").diagnostics) == [
                "web.service:2: ExecStart=: the '+' prefix cannot be combined with '!' or '!!'"
            ])
        #expect(
            texts(parseService("ExecStart=--/bin/x").diagnostics) == [
                #"web.service:2: ExecStart=: "-/bin/x" is neither an absolute path nor a plain executable name"#
            ])
        #expect(
            texts(parseService("ExecStart=- /bin/x").diagnostics) == [
                "web.service:2: ExecStart=: empty executable path after the prefixes"
            ])
        #expect(
            texts(parseService("ExecStart=@/bin/x").diagnostics) == [
                "web.service:2: ExecStart=: the '@' prefix needs an argv[0] word after the program"
            ])
    }

    @Test func quotingEscapesAndSpecifiersInCommandLines() {
        let (config, diags) = parseService(
            #"ExecStart=/bin/sh -c "echo 'hi there' \x41" %i %%s ${HOME}"#, name: "web@blue.service")
        #expect(diags.isEmpty)
        #expect(config.execStart.first?.words == ["/bin/sh", "-c", "echo 'hi there' A", "blue", "%s", "${HOME}"])
    }

    @Test func loneSemicolonSeparatesCommandsAndEscapedOneDoesNot() {
        let (config, diags) = parseService(#"ExecStartPre=/bin/a 1 ; -/bin/b \; ";""#)
        #expect(diags.isEmpty)
        #expect(config.execStartPre.map(\.words) == [["/bin/a", "1"], ["/bin/b", ";", ";"]])
        #expect(config.execStartPre.map(\.ignoreFailure) == [false, true])
    }

    @Test func emptyAssignmentResetsTheList() {
        let config = parseService("ExecStartPre=/bin/a\nExecStartPre=\nExecStartPre=/bin/b\nExecStop=/bin/s\nExecStop=")
            .config
        #expect(config.execStartPre.map(\.words) == [["/bin/b"]])
        #expect(config.execStop.isEmpty)
    }

    @Test func everyExecDirective() {
        let config = parseService(
            """
            ExecCondition=/bin/c
            ExecStartPre=/bin/pre
            ExecStart=/bin/start
            ExecStartPost=/bin/post
            ExecReload=/bin/kill -HUP $MAINPID
            ExecStop=/bin/stop
            ExecStopPost=/bin/stoppost
            """
        ).config
        #expect(config.execCondition.first?.words == ["/bin/c"])
        #expect(config.execStartPre.first?.words == ["/bin/pre"])
        #expect(config.execStart.first?.words == ["/bin/start"])
        #expect(config.execStartPost.first?.words == ["/bin/post"])
        #expect(config.execReload.first?.words == ["/bin/kill", "-HUP", "$MAINPID"])
        #expect(config.execStop.first?.words == ["/bin/stop"])
        #expect(config.execStopPost.first?.words == ["/bin/stoppost"])
        #expect(config.execReload.first?.location == SourceLocation(file: "web.service", line: 6))
    }
}

@Suite struct ExecCommandExpansionTests {
    let env = ["HOME": "/home/alice", "OPTS": "-v  --color=auto\t-x", "EMPTY": "", "ONE": "one"]

    @Test func bracedVariableIsReplacedInsideAWord() {
        let c = ExecCommand(words: ["/bin/ls", "--dir=${HOME}/x", "${UNSET}end", "${ONE}${ONE}"])
        #expect(c.expandedWords(environment: env) == ["/bin/ls", "--dir=/home/alice/x", "end", "oneone"])
    }

    @Test func bareVariableAsAWordIsSplitAtWhitespace() {
        let c = ExecCommand(words: ["/bin/prog", "$OPTS", "last"])
        #expect(c.expandedWords(environment: env) == ["/bin/prog", "-v", "--color=auto", "-x", "last"])
    }

    @Test func unsetOrEmptyBareVariableDropsTheWord() {
        let c = ExecCommand(words: ["/bin/prog", "$UNSET", "$EMPTY", "x"])
        #expect(c.expandedWords(environment: env) == ["/bin/prog", "x"])
    }

    @Test func bareVariableInsideAWordStaysAsIs() {
        let c = ExecCommand(words: ["/bin/prog", "a$ONE", "x${ONE}y"])
        #expect(c.expandedWords(environment: env) == ["/bin/prog", "a$ONE", "xoney"])
    }

    /// systemd >= 252: a word starting with `$` is one variable name, all of it: `$ONE$ONE` names `ONE$ONE` and
    /// `$ONE-x` names `ONE-x`, both unset, so the words disappear.
    @Test func aWordStartingWithDollarIsLookedUpWhole() {
        let c = ExecCommand(words: ["/bin/prog", "$ONE$ONE", "$ONE-x", "$ONE", "end"])
        #expect(c.expandedWords(environment: env) == ["/bin/prog", "one", "end"])
        #expect(ExecCommand(words: ["/bin/p", "$A-B"]).expandedWords(environment: ["A-B": "set"]) == ["/bin/p", "set"])
    }

    /// The value of a `$VAR` word is split honouring its quotes and backslashes.
    @Test func bareVariableSplittingHonoursQuotes() {
        let env = ["TWO": "'two two' too", "MIX": #"a "b c" d\ e 'open"#]
        #expect(ExecCommand(words: ["/bin/p", "$TWO"]).expandedWords(environment: env) == ["/bin/p", "two two", "too"])
        #expect(ExecCommand(words: ["/bin/p", "$MIX"]).expandedWords(environment: env) == ["/bin/p", "a", "b c", "d e", "open"])
        #expect(ExecCommand(words: ["/bin/p", "${TWO}"]).expandedWords(environment: env) == ["/bin/p", "'two two' too"])
    }

    @Test func doubleDollarIsALiteralDollar() {
        let c = ExecCommand(words: ["/bin/sh", "-c", "echo $$ONE $${ONE}"])
        #expect(c.expandedWords(environment: env) == ["/bin/sh", "-c", "echo $ONE ${ONE}"])
    }

    @Test func unterminatedBraceStaysLiteral() {
        let c = ExecCommand(words: ["/bin/x", "${ONE", "${1BAD}"])
        #expect(c.expandedWords(environment: env) == ["/bin/x", "${ONE", "${1BAD}"])
    }

    @Test func noExpansionPrefixKeepsWords() {
        var c = ExecCommand(words: ["/bin/echo", "$ONE", "${ONE}"])
        c.noExpansion = true
        #expect(c.expandedWords(environment: env) == ["/bin/echo", "$ONE", "${ONE}"])
    }

    @Test func argv0IsStillTheSecondWord() {
        var c = ExecCommand(words: ["/bin/busybox", "$ONE", "${ONE}"])
        c.hasArgv0 = true
        #expect(c.expandedWords(environment: env) == ["/bin/busybox", "one", "one"])
    }

    @Test func argvSplitsProgramAndArgv0() {
        var c = ExecCommand(words: ["/bin/busybox", "sh", "-c", "${ONE}"])
        #expect(c.argv(environment: env)?.program == "/bin/busybox")
        #expect(c.argv(environment: env)?.arguments == ["/bin/busybox", "sh", "-c", "one"])
        c.hasArgv0 = true
        #expect(c.argv(environment: env)?.arguments == ["sh", "-c", "one"])
        #expect(ExecCommand(words: ["$UNSET"]).argv(environment: env) == nil)
    }

    @Test func parsedLineExpandsAsSystemdDoes() {
        let config = parseService(#"ExecStart=/usr/bin/web $OPTS "--home=${HOME}" $UNSET"#).config
        #expect(
            config.execStart.first?.expandedWords(environment: env) == [
                "/usr/bin/web", "-v", "--color=auto", "-x", "--home=/home/alice",
            ])
    }
}
