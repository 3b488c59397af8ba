import Testing

@testable import TendModel

struct SuperviseFormatTests {
    @Test func tai64nLabelHasLibtaisConstantAndBigEndianFields() {
        let t = TAI64N(unixSeconds: 1_700_000_000, nanoseconds: 123_456_789)
        let b = t.bytes
        #expect(b.count == 12)
        // 2^62 + 10 + 1_700_000_000 = 0x400000006553F10A
        #expect(b[0..<8] == [0x40, 0, 0, 0, 0x65, 0x53, 0xF1, 0x0A][...])
        #expect(b[8..<12] == [0x07, 0x5B, 0xCD, 0x15][...])
        #expect(TAI64N.parse(b[...]) == t)
        #expect(TAI64N.parse(b[0..<11]) == nil)
        #expect(TAI64N.parse([UInt8](repeating: 0, count: 12)[...]) == nil)
    }

    @Test func runitStatusIsTwentyBytesWithLittleEndianPid() {
        let s = SuperviseStatus(since: TAI64N(unixSeconds: 0, nanoseconds: 0), pid: 0x0102_0304, paused: true,
                                want: .down, gotTerm: true, state: .run)
        let b = s.bytes
        #expect(b.count == 20)
        #expect(b[12..<16] == [0x04, 0x03, 0x02, 0x01][...])
        #expect(b[16] == 1 && b[17] == UInt8(ascii: "d") && b[18] == 1 && b[19] == 1)
        #expect(SuperviseStatus.parse(b) == s)
        let up = SuperviseStatus(since: TAI64N(unixSeconds: 5, nanoseconds: 7), want: .up)
        #expect(up.bytes[17] == UInt8(ascii: "u") && up.bytes[19] == 0)
        // want-exit is recorded as 'd', as runsv does.
        #expect(SuperviseStatus(since: up.since, want: .exit).bytes[17] == UInt8(ascii: "d"))
    }

    @Test func readsDaemontoolsEighteenByteStatusAndRejectsGarbage() {
        var b = SuperviseStatus(since: TAI64N(unixSeconds: 9, nanoseconds: 0), pid: 77, want: .up).bytes
        b.removeLast(2)
        #expect(SuperviseStatus.parse(b)?.state == .run)
        #expect(SuperviseStatus.parse(b)?.pid == 77)
        b[17] = 0  // after `svc -o`: no standing want
        #expect(SuperviseStatus.parse(b)?.want == .down)
        b[17] = UInt8(ascii: "z")
        #expect(SuperviseStatus.parse(b) == nil)
        #expect(SuperviseStatus.parse(Array("garbage".utf8)) == nil)
        var bad = SuperviseStatus(since: TAI64N(unixSeconds: 9, nanoseconds: 0)).bytes
        bad[19] = 9
        #expect(SuperviseStatus.parse(bad) == nil)
    }

    @Test func statAndPidTextFollowRunsv() {
        let t = TAI64N(unixSeconds: 1, nanoseconds: 0)
        #expect(SuperviseStatus(since: t).statText == "down\n")
        #expect(SuperviseStatus(since: t, pid: 42, state: .run).statText == "run\n")
        #expect(SuperviseStatus(since: t, pid: 42, paused: true, want: .down, gotTerm: true, state: .run).statText
                == "run, paused, got TERM, want down\n")
        #expect(SuperviseStatus(since: t, pid: 43, want: .exit, state: .finish).statText == "finish, want exit\n")
        #expect(SuperviseStatus(since: t, want: .down).statText == "down\n")
        #expect(SuperviseStatus(since: t, pid: 42, state: .run).pidText == "42\n")
        #expect(SuperviseStatus(since: t).pidText == "")
    }

    @Test func everyControlLetterOfSvcAndSv() {
        let expected: [Character: SuperviseCommand] = [
            "u": .up, "d": .down, "o": .once, "x": .exit, "p": .signal(SIGSTOP), "c": .signal(SIGCONT),
            "h": .signal(SIGHUP), "a": .signal(SIGALRM), "i": .signal(SIGINT), "t": .signal(SIGTERM),
            "k": .signal(SIGKILL), "q": .signal(SIGQUIT), "1": .signal(SIGUSR1), "2": .signal(SIGUSR2),
        ]
        for (letter, command) in expected {
            #expect(SuperviseCommand(letter: letter.asciiValue!) == command, "letter \(letter)")
        }
        // Garbage written into control: every other byte is refused, not guessed at.
        let known = Set(expected.keys.map { $0.asciiValue! })
        for byte in UInt8.min...UInt8.max where !known.contains(byte) {
            #expect(SuperviseCommand(letter: byte) == nil)
        }
        #expect(SuperviseCommand.overrideScripts(for: UInt8(ascii: "d")) == ["control/t", "control/d"])
        #expect(SuperviseCommand.overrideScripts(for: UInt8(ascii: "x")) == ["control/t", "control/x"])
        #expect(SuperviseCommand.overrideScripts(for: UInt8(ascii: "h")) == ["control/h"])
    }

    @Test func runsvRestartPauseAndFinishArguments() {
        #expect(RunsvRules.restartDelayNanoseconds(livedNanoseconds: 999_999_999) == 1_000_000_000)
        #expect(RunsvRules.restartDelayNanoseconds(livedNanoseconds: 1_000_000_000) == 0)
        #expect(RunsvRules.restartDelayNanoseconds(livedNanoseconds: 0) == 1_000_000_000)
        #expect(RunsvRules.finishArguments(exitCode: 3, signal: nil) == ["3", "0"])
        #expect(RunsvRules.finishArguments(exitCode: nil, signal: SIGKILL) == ["-1", "9"])
    }

    @Test func scanPicksExecutableRunsAndReportsTheRest() {
        let entries = [
            ServiceDirectoryEntry(name: "web", isDirectory: true, hasRun: true, runExecutable: true, hasLog: true),
            ServiceDirectoryEntry(name: "idle", isDirectory: true, hasRun: true, runExecutable: true, hasDown: true),
            ServiceDirectoryEntry(name: "noexec", isDirectory: true, hasRun: true, runExecutable: false),
            ServiceDirectoryEntry(name: "empty", isDirectory: true, hasRun: false, runExecutable: false),
            ServiceDirectoryEntry(name: ".hidden", isDirectory: true, hasRun: true, runExecutable: true),
            ServiceDirectoryEntry(name: "README", isDirectory: false, hasRun: false, runExecutable: false),
            ServiceDirectoryEntry(name: "sshd", isDirectory: true, hasRun: true, runExecutable: true),
        ]
        let scan = ServiceDirectoryScan.decide(entries, existingUnits: ["sshd.service"])
        #expect(scan.services == [
            ScannedService(name: "idle", startsAutomatically: false, hasLog: false),
            ScannedService(name: "web", startsAutomatically: true, hasLog: true),
        ])
        #expect(scan.problems == [
            "empty: no ./run, not supervised",
            "noexec: ./run is not executable, not supervised",
            "sshd: the unit sshd.service has that name already; the directory is not supervised",
        ])
        let next = ServiceDirectoryScan.decide(Array(entries.dropFirst()) + [
            ServiceDirectoryEntry(name: "new", isDirectory: true, hasRun: true, runExecutable: true),
        ], existingUnits: [])
        let diff = ServiceDirectoryScan.difference(from: scan.services, to: next.services)
        #expect(diff.added.map(\.name) == ["new", "sshd"])
        #expect(diff.removed == ["web"])
    }
}
