import CTend
import Glibc
import Testing
import TendControl
import TendModel
import TendSystem
import TendEngine

/// The log store with real services: every line kept and in order, rotation, follow, time ranges, a full
/// disk, partial and huge lines, the rate limit, TAI64N, the manager's own log, offline reading.
@Suite(.serialized)
struct LogTests {
    /// Every record's text of a unit's log, oldest first, read from the files.
    func texts(_ h: DaemonHarness, _ unit: String) -> [String] {
        var out: [String] = []
        LogReader.scan(directory: h.logs + "/" + unit, since: nil, until: nil) { line in
            if let r = LogFormat.parse(line), r.stream != "tend" { out.append(r.text) }
            return true
        }
        return out
    }

    @Test func aMillionNumberedLinesArriveOnceInOrder() {
        let h = DaemonHarness()
        h.writeUnit("counter.service", """
            [Service]
            Type=oneshot
            RemainAfterExit=yes
            ExecStart=/usr/bin/seq 1 1000000
            LogMaxSize=64M
            """)
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend(["start", "counter"], timeout: 120).status == 0)
        var expected = 1
        var bad = 0
        // The writer thread may still be writing the tail: wait (bounded) for the last number.
        #expect(waitUntil(30) { (self.texts(h, "counter.service").last ?? "") == "1000000" })
        LogReader.scan(directory: h.logs + "/counter.service", since: nil, until: nil) { line in
            guard let r = LogFormat.parse(line), r.stream == "out" else { return true }
            if r.text != String(expected) { bad += 1 }
            expected += 1
            return true
        }
        #expect(bad == 0)
        #expect(expected - 1 == 1_000_000)
        #expect(h.tend("show", "counter", "-p", "LogLinesDropped").stdout == "LogLinesDropped=0\n")
    }

    @Test func followSeesRestartsAndRotation() {
        let h = DaemonHarness()
        let counter = h.root + "/count"
        h.writeFile(counter, "0")
        // Each run prints the next 60 numbers (continuing where the last run stopped), then fails and is restarted.
        h.writeUnit("ticker.service", """
            [Service]
            ExecStart=/bin/sh -c 'n=$$(cat \(counter)); end=$$((n+60)); while [ $$n -lt $$end ]; do n=$$((n+1)); echo "tick $$n padding-padding-padding-padding"; echo $$n > \(counter); done; exit 1'
            Restart=always
            RestartSec=50ms
            StartLimitIntervalSec=0
            LogMaxSize=4K
            LogMaxFiles=1000
            """)
        h.start(extraArgs: ["--no-start"])
        let followed = h.root + "/followed"
        let follower = h.spawnBackground([tendBinary, "logs", "ticker", "-f", "-n", "0", "-o", "cat", "--log-dir", h.logs],
                                         stdout: followed)
        usleep(100_000)  // the follower has set up its watch
        #expect(h.tend("start", "ticker").status == 0)
        #expect(waitUntil(20) { h.readFile(followed).contains("tick 300 ") })
        _ = h.tend("stop", "ticker")
        _ = kill(follower, SIGTERM)
        var st: Int32 = 0
        _ = waitpid(follower, &st, 0)
        let ticks = h.readFile(followed).split(separator: "\n").filter { $0.hasPrefix("tick ") }.map {
            Int($0.split(separator: " ")[1])!
        }
        #expect(Array(ticks.prefix(300)) == Array(1...300), "every line once, in order, across restarts and rotation")
        #expect(LogReader.segments(in: h.logs + "/ticker.service").count >= 3)
        #expect((h.status("ticker")?["nRestarts"]?.int ?? 0) >= 4)
    }

    @Test func followPrintsTheHistoryThenEveryNewLineWithoutGapOrRepeat() {
        let h = DaemonHarness()
        h.writeUnit("stream.service", """
            [Service]
            ExecStart=/bin/sh -c 'i=0; while :; do i=$$((i+1)); echo "n $$i"; sleep 0.003; done'
            """)
        h.start()
        #expect(waitUntil { self.texts(h, "stream.service").count >= 50 })
        let followed = h.root + "/followed"
        let follower = h.spawnBackground([tendBinary, "logs", "stream", "-f", "-n", "3", "-o", "cat", "--log-dir", h.logs],
                                         stdout: followed)
        #expect(waitUntil(10) { h.readFile(followed).split(separator: "\n").count >= 40 })
        _ = kill(follower, SIGTERM)
        var st: Int32 = 0
        _ = waitpid(follower, &st, 0)
        let numbers = h.readFile(followed).split(separator: "\n").compactMap { Int($0.split(separator: " ").last ?? "") }
        #expect(numbers.count >= 40)
        #expect(numbers == Array(numbers.first!..<(numbers.first! + numbers.count)), "consecutive: nothing lost or repeated")
        #expect(numbers.first! >= 48, "it began with the last three records, not the whole log")
    }

    /// `--since -5min` as the README and `--help` show it, with the value as its own word (a value that starts
    /// with a dash), for `--until`, `-S` and `-U` too.
    @Test func relativeTimesWorkAsSeparateWords() {
        let h = DaemonHarness()
        let dir = h.logs + "/web.service"
        try? Posix.mkdirs(dir)
        let now = Posix.realtimeMicroseconds
        var text = ""
        for i in (0..<10).reversed() {  // records 30 s, 90 s, ... 570 s old, oldest first
            var stamp: [UInt8] = []
            LogFormat.appendTimestamp(now - UInt64(i * 60 + 30) * 1_000_000, .iso, to: &stamp)
            text += String(decoding: stamp, as: UTF8.self) + " out 7 age \(i)\n"
        }
        h.writeFile(dir + "/current", text)
        func query(_ args: String...) -> CommandResult {
            runCommand([tendBinary, "logs", "web", "-o", "cat", "--log-dir", h.logs] + args)
        }
        let recent = ["age 4", "age 3", "age 2", "age 1", "age 0"]
        let older = ["age 9", "age 8", "age 7", "age 6", "age 5"]
        for args in [["--since", "-5min"], ["-S", "-5min"], ["--since=-5min"]] {
            let r = runCommand([tendBinary, "logs", "web", "-o", "cat", "--log-dir", h.logs] + args)
            #expect(r.status == 0, "\(args): \(r.stderr)")
            #expect(r.stdout.split(separator: "\n").map(String.init) == recent, "\(args)")
        }
        let until = query("--until", "-5min")
        #expect(until.stdout.split(separator: "\n").map(String.init) == older, "\(until.stderr)")
        #expect(query("-U", "-5min", "-S", "-7min").stdout.split(separator: "\n").map(String.init) == ["age 6", "age 5"])
    }

    /// journalctl's spellings: `-u NAME` (repeatable), `-n50` with the count attached, `-e` for the end.
    @Test func journalctlSpellingsWork() {
        let h = DaemonHarness()
        for unit in ["web", "db"] {
            try? Posix.mkdirs(h.logs + "/\(unit).service")
            var text = ""
            for i in 0..<1500 {
                var stamp: [UInt8] = []
                LogFormat.appendTimestamp(1_795_000_000_000_000 + UInt64(i * 2 + (unit == "db" ? 1 : 0)), .iso, to: &stamp)
                text += String(decoding: stamp, as: UTF8.self) + " out 7 \(unit) \(i)\n"
            }
            h.writeFile(h.logs + "/\(unit).service/current", text)
        }
        func lines(_ args: String...) -> [String] {
            runCommand([tendBinary, "logs", "-o", "cat", "--log-dir", h.logs] + args).stdout.split(separator: "\n").map(String.init)
        }
        #expect(lines("-u", "web", "-n2") == ["web 1498", "web 1499"])
        #expect(lines("-u", "web", "-u", "db.service", "-n", "2") == ["web 1499", "db 1499"])
        #expect(lines("-u", "web", "-e").count == 1000)
        #expect(lines("-u", "web", "-e", "-n5").count == 5)
        #expect(lines("web", "-n3").first == "web 1497")
    }

    /// Nothing to show is said, as journalctl says it; and with no manager to ask, which store was read.
    @Test func noEntriesAndTheStoreReadAreSaid() {
        let h = DaemonHarness()
        h.writeUnit("quiet.service", "[Service]\nExecStart=/bin/sleep 1000\n")
        h.start()
        #expect(h.waitFor("quiet", sub: "running"))
        let none = h.tend("logs", "nosuchunit")
        #expect(none.status == 0 && none.stdout == "-- No entries --\n", "\(none.stdout)")
        #expect(none.stderr.isEmpty, "the manager answered: no note about the store")
        #expect(h.tend("logs", "quiet", "--grep", "nothing-like-this").stdout == "-- No entries --\n")
        #expect(h.tend("logs", "nosuchunit", "-o", "json").stdout.isEmpty, "JSON stays parseable")
        h.stop()
        let offline = runCommand([tendBinary, "logs", "quiet", "--state-dir", h.state])
        #expect(offline.stderr.contains("no manager answers at \(h.state); reading "), "\(offline.stderr)")
    }

    @Test func sinceAndUntilAreExactAtTheBoundaries() {
        // Offline: a log directory written by hand, read without a manager.
        let h = DaemonHarness()
        let dir = h.logs + "/web.service"
        try? Posix.mkdirs(dir)
        let base: UInt64 = 1_795_000_000_000_000
        var text = ""
        for i in 0..<100 {
            var stamp: [UInt8] = []
            LogFormat.appendTimestamp(base + UInt64(i) * 1_000_000, .iso, to: &stamp)
            text += String(decoding: stamp, as: UTF8.self) + " out 7 line \(i)\n"
        }
        h.writeFile(dir + "/current", text)
        func query(_ args: String...) -> [String] {
            let r = runCommand([tendBinary, "logs", "web", "-o", "cat", "--log-dir", h.logs] + args)
            return r.stdout.split(separator: "\n").map(String.init)
        }
        // base + 10 s and base + 20 s, both inclusive.
        let lines = query("--since", "@\(base / 1_000_000 + 10)", "--until", "@\(base / 1_000_000 + 20)")
        #expect(lines.first == "line 10")
        #expect(lines.last == "line 20")
        #expect(lines.count == 11)
        #expect(query("--since", "@\(base / 1_000_000 + 10).000001").first == "line 11")
        #expect(query("-n", "2").suffix(2) == ["line 98", "line 99"])
        #expect(query("-n", "2", "--reverse") == ["line 99", "line 98"])
        #expect(query("--grep", "line [45]$") == ["line 4", "line 5"])
        let json = runCommand([tendBinary, "logs", "web", "-o", "json", "-n", "1", "--log-dir", h.logs]).stdout
        let parsed = try? JSON.parse(json.trimmingCharacters(in: "\n"))
        #expect(parsed?["message"]?.string == "line 99")
        #expect(parsed?["stream"]?.string == "stdout")
        #expect(parsed?["pid"]?.int == 7)
        #expect(parsed?["realtimeUsec"]?.int == Int64(base + 99_000_000))
    }

    @Test func aLineWithoutNewlineAtExitIsKeptAndHugeLinesAreSplit() {
        let h = DaemonHarness()
        h.writeUnit("partial.service", "[Service]\nType=oneshot\nExecStart=/usr/bin/printf 'first\\nno newline at the end'\n")
        h.writeUnit("huge.service", """
            [Service]
            Type=oneshot
            ExecStart=/usr/bin/env python3 -c 'import sys; sys.stdout.write("x" * 1048576 + "\\\\nafter\\\\n")'
            """)
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "partial").status == 0)
        #expect(waitUntil { self.texts(h, "partial.service") == ["first", "no newline at the end"] })
        #expect(h.tend("start", "huge").status == 0)
        #expect(waitUntil { self.texts(h, "huge.service").last == "after" })
        let pieces = texts(h, "huge.service").dropLast()
        #expect(pieces.count == (1_048_576 + 49_151) / 49_152)
        #expect(pieces.allSatisfy { $0.allSatisfy { $0 == "x" } })
        #expect(pieces.reduce(0) { $0 + $1.utf8.count } == 1_048_576)
    }

    @Test func rateLimitDropsAndReports() {
        let h = DaemonHarness()
        h.writeUnit("chatty.service", """
            [Service]
            Type=oneshot
            LogRateLimitIntervalSec=500ms
            LogRateLimitBurst=100
            ExecStart=/bin/sh -c 'seq 1 1000; sleep 0.7; echo later'
            """)
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "chatty").status == 0)
        #expect(waitUntil { self.texts(h, "chatty.service").last == "later" })
        let t = texts(h, "chatty.service")
        #expect(Array(t.prefix(100)) == (1...100).map(String.init))
        #expect(!t.contains("101"))
        let all = h.readFile(h.logs + "/chatty.service/current")
        #expect(all.contains("-- tend: 900 lines suppressed by the rate limit"))
        #expect(h.tend("show", "chatty", "-p", "LogLinesSuppressed").stdout == "LogLinesSuppressed=900\n")
    }

    /// The suppression is reported when the window ends with nothing more written, and when the process exits
    /// inside the window: never silently.
    @Test func rateLimitSuppressionIsReportedAtTheWindowsEndAndAtExit() {
        let h = DaemonHarness()
        h.writeUnit("quiet-after.service", """
            [Service]
            LogRateLimitIntervalSec=300ms
            LogRateLimitBurst=10
            ExecStart=/bin/sh -c 'seq 1 50; exec sleep 1000'
            """)
        h.writeUnit("exits.service", """
            [Service]
            Type=oneshot
            LogRateLimitIntervalSec=1h
            LogRateLimitBurst=10
            ExecStart=/bin/sh -c 'seq 1 70'
            """)
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "quiet-after", "exits").status == 0)
        #expect(waitUntil(5) { h.readFile(h.logs + "/quiet-after.service/current").contains("-- tend: 40 lines suppressed by the rate limit") })
        #expect(waitUntil(5) { h.readFile(h.logs + "/exits.service/current").contains("-- tend: 60 lines suppressed by the rate limit") })
    }

    @Test func tai64nRecordsAndTheManagersOwnLog() {
        let h = DaemonHarness()
        h.writeUnit("tai.service", "[Service]\nType=oneshot\nLogTimestamp=tai64n\nExecStart=/bin/echo stamped\n")
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "tai").status == 0)
        #expect(waitUntil { self.texts(h, "tai.service") == ["stamped"] })
        let raw = h.readFile(h.logs + "/tai.service/current")
        let line = raw.split(separator: "\n").first { $0.hasSuffix(" stamped") } ?? ""
        #expect(line.hasPrefix("@4000000"))
        let fields = line.split(separator: " ")
        #expect(fields.count == 4)
        #expect(fields.first?.utf8.count == 25)
        #expect(fields.count == 4 && fields[1] == "out" && fields[3] == "stamped")
        // The manager's own events are a log of their own.
        #expect(waitUntil { h.tend("logs", "tend", "-o", "cat").stdout.contains("tai.service: Main process exited, code=exited, status=0/SUCCESS") })
        // And everything reads offline once the manager is gone.
        #expect(h.stop() == 0)
        let offline = runCommand([tendBinary, "logs", "tai", "-o", "cat", "--log-dir", h.logs])
        #expect(offline.stdout.contains("stamped\n"))
    }

    @Test(.enabled(if: Posix.isExecutable("/usr/bin/tai64nlocal"), "needs daemontools' tai64nlocal (installed by .ci/run)"))
    func tai64nlocalReadsOurLabels() {
        let h = DaemonHarness()
        h.writeUnit("tai.service", "[Service]\nType=oneshot\nLogTimestamp=tai64n\nExecStart=/bin/echo for multilog fans\n")
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "tai").status == 0)
        #expect(waitUntil { self.texts(h, "tai.service") == ["for multilog fans"] })
        let r = runCommand(["/bin/sh", "-c", "/usr/bin/tai64nlocal < \(h.logs)/tai.service/current"])
        // tai64nlocal turns the label into local time: `2026-11-22 02:50:01.123456000 out 42 for multilog fans`.
        let line = r.stdout.split(separator: "\n").first { $0.hasSuffix("for multilog fans") } ?? ""
        #expect(line.hasPrefix("20"))
        #expect(line.contains(" out "))
        #expect(!line.hasPrefix("@"))
    }

    /// `tend status -n 1000` of a unit with 100 MB of long lines reads at most 1 MiB of them on the manager's
    /// thread, so asking for it over and over doesn't hold up the restart of another service.
    @Test func statusOfAHugeLogDoesNotDelayARestart() {
        let h = DaemonHarness()
        // 1000 records of 100 KB each, written as the store would (the unit never has to run).
        try? Posix.mkdirs(h.logs + "/big.service")
        let fd = Glibc.open(h.logs + "/big.service/current", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        var t = Posix.realtimeMicroseconds - 10_000_000
        let filler = String(repeating: "x", count: 100_000)
        for i in 0..<1000 {
            var out: [UInt8] = []
            t += 1
            LogFormat.appendTimestamp(t, .iso, to: &out)
            out += Array(" out 42 \(i) \(filler)\n".utf8)
            _ = out.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        }
        Glibc.close(fd)
        h.writeUnit("big.service", "[Service]\nExecStart=/bin/true\nLineMax=1M\n")
        h.writeUnit("phoenix.service", """
            [Unit]
            StartLimitIntervalSec=0
            [Service]
            ExecStart=/bin/sleep 1000
            Restart=always
            RestartSec=0
            """)
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "phoenix").status == 0)
        #expect(h.waitFor("phoenix", sub: "running"))

        let r = h.tend(["status", "big", "-n", "1000", "--output", "json"])
        let log = (try? JSON.parse(r.stdout))?.array?.first?["log"]?.array ?? []
        #expect(!log.isEmpty && log.count < 11, "1 MiB holds 10 of the 100 KB records, got \(log.count)")
        #expect(log.last?.string?.contains(" out 42 999 ") == true, "the newest records are the ones shown")

        // A client asking for the whole tail in a loop while the other service is killed (speaking the protocol
        // itself, so the loop's cost is the manager's, not the CLI's rendering).
        let script = """
            import socket
            while True:
                s = socket.socket(socket.AF_UNIX); s.connect('\(h.state)/control.sock')
                s.sendall(b'{"cmd":"status","units":["big"],"lines":1000}\\n')
                while s.recv(1 << 20): pass
                s.close()
            """
        let loops = [h.spawnBackground(["/usr/bin/python3", "-c", script], stdout: "/dev/null")]
        defer { for pid in loops where pid > 0 { kill(pid, SIGKILL); var st: Int32 = 0; waitpid(pid, &st, 0) } }
        var worst: UInt64 = 0
        for _ in 0..<5 {
            let old = h.mainPID("phoenix")
            let parent = ProcessTable.stat(old)?.ppid ?? -1
            #expect(old > 0 && parent > 0)
            let killed = Posix.monotonicNow
            _ = kill(old, SIGKILL)
            var back: UInt64 = 0
            #expect(waitUntil(10) {
                let respawned = ProcessTable.scan().contains { $0.ppid == parent && $0.pid != old && $0.comm == "sleep" }
                if respawned { back = Posix.monotonicNow.ns - killed.ns }
                return respawned
            })
            worst = max(worst, back)
            #expect(waitUntil { let p = h.mainPID("phoenix"); return p != 0 && p != old })
        }
        // Measured at a few ms on an idle machine (seconds before the byte limit); the bound allows for a busy one.
        #expect(worst < 1_000_000_000, "a restart took \(worst / 1_000_000) ms while status requests were served")
    }

    @Test(.enabled(if: getuid() == 0 && canMountTmpfs(), "needs root to mount a small tmpfs"))
    func aFullDiskDropsLinesVisiblyAndRecovers() {
        let h = DaemonHarness()
        try? Posix.mkdirs(h.logs)
        #expect(runCommand(["/bin/mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", h.logs]).status == 0)
        defer {
            h.stop()
            _ = runCommand(["/bin/umount", "-l", h.logs])
        }
        h.writeUnit("writer.service", """
            [Service]
            ExecStart=/bin/sh -c 'i=0; while :; do i=$$((i+1)); echo "line $$i"; sleep 0.002; done'
            """)
        h.start()
        #expect(h.waitFor("writer", sub: "running"))
        let pid = h.mainPID("writer")
        // Fill the disk.
        _ = runCommand(["/bin/sh", "-c", "dd if=/dev/zero of=\(h.logs)/filler bs=4k 2>/dev/null; true"])
        let dropped = { Int(h.tend("show", "writer", "-p", "LogLinesDropped").stdout.split(separator: "=").last?.trimmingCharacters(in: "\n") ?? "0") ?? 0 }
        #expect(waitUntil(10) { dropped() > 0 })
        #expect(h.mainPID("writer") == pid, "the service keeps running")
        #expect(h.sub("writer") == "running")
        #expect(h.daemonLog.contains("dropping lines until it can be written again"))
        // Space returns: writing resumes, and the log says what is missing.
        unlink(h.logs + "/filler")
        #expect(waitUntil(10) { h.readFile(h.logs + "/writer.service/current").contains("lines dropped (No space left on device)") })
        #expect(waitUntil(10) { h.daemonLog.contains("again;") })
        #expect(h.mainPID("writer") == pid)
    }
}

func canMountTmpfs() -> Bool {
    var template = Array("/tmp/tend-mountprobe-XXXXXX".utf8CString)
    let dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    defer { rmdir(dir) }
    guard runCommand(["/bin/mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", dir]).status == 0 else { return false }
    _ = runCommand(["/bin/umount", dir])
    return true
}
