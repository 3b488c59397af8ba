import Glibc
import Testing
import TendControl
import TendModel
import TendSystem
import TendEngine

/// What a new user meets in `tend logs`: stdout and stderr apart, a follower that loses nothing however fast the
/// log rotates, who wrote each line, the words for an empty answer, and a deliberate stop that reads as one.
@Suite(.serialized)
struct LogCaptureTests {
    /// Every record of a unit's log as (stream, pid, text), oldest first, read from the files.
    func records(_ h: DaemonHarness, _ unit: String) -> [(stream: String, pid: Int32, text: String)] {
        var out: [(String, Int32, String)] = []
        LogReader.scan(directory: h.logs + "/" + unit, since: nil, until: nil) { line in
            if let r = LogFormat.parse(line) { out.append((r.stream, r.pid, r.text)) }
            return true
        }
        return out
    }

    /// Reaps a background `tend logs -f` after SIGTERM.
    func end(_ pid: Int32) {
        _ = kill(pid, SIGTERM)
        var st: Int32 = 0
        _ = waitpid(pid, &st, 0)
    }

    @Test func aFollowerAttachedBeforeLosesNoLineAcrossFastRotation() {
        let h = DaemonHarness()
        let go = h.root + "/go"
        let script = h.root + "/burst.sh"
        h.writeFile(script, """
            #!/bin/sh
            echo ready
            while [ ! -e \(go) ]; do sleep 0.01; done
            i=0
            while [ $i -lt 20000 ]; do i=$((i+1)); echo "line $i"; done
            exec sleep 1000
            """, mode: 0o755)
        h.writeUnit("burst.service", "[Service]\nExecStart=\(script)\nLogMaxSize=64K\n")
        h.start()
        #expect(waitUntil { self.records(h, "burst.service").contains { $0.text == "ready" } })
        let followed = h.root + "/followed"
        let follower = h.spawnBackground([tendBinary, "logs", "burst", "-f", "-n", "1", "-o", "cat", "--log-dir", h.logs],
                                         stdout: followed)
        defer { end(follower) }
        // The follower prints its history (the last record) only once its watch is set: then the burst begins.
        #expect(waitUntil(15) { h.readFile(followed).hasPrefix("ready\n") })
        h.writeFile(go, "")
        #expect(waitUntil(90) { h.readFile(followed).hasSuffix("line 20000\n") })
        let lines = h.readFile(followed).split(separator: "\n").filter { $0.hasPrefix("line ") }.map(String.init)
        #expect(lines.count == 20000)
        let wrong = lines.enumerated().first { $0.element != "line \($0.offset + 1)" }
        #expect(wrong == nil, "every line exactly once, in order; first wrong: \(String(describing: wrong))")
        // 20,000 records of about 45 bytes at LogMaxSize=64K: about 14 rotations while the follower read (retention
        // may have removed the oldest segments since).
        #expect(!LogReader.segments(in: h.logs + "/burst.service").isEmpty, "the log rotated")
        #expect(lines.count * 45 > 10 * 65_536)
    }

    @Test func stderrIsMarkedAsStderrAndExecStartPreLinesCarryTheirPid() {
        let h = DaemonHarness()
        h.writeUnit("both.service", """
            [Service]
            ExecStartPre=/bin/sh -c 'echo pre $$$$'
            ExecStart=/bin/sh -c 'echo to-out; echo to-err >&2; exec sleep 1000'
            """)
        h.start()
        #expect(waitUntil { self.records(h, "both.service").contains { $0.text == "to-err" } })
        let r = records(h, "both.service")
        #expect(r.first { $0.text == "to-out" }?.stream == "out")
        #expect(r.first { $0.text == "to-err" }?.stream == "err", "StandardError=inherit still tells stderr apart")
        let pre = r.first { $0.text.hasPrefix("pre ") }
        #expect(pre != nil && pre!.pid != 0 && pre!.text == "pre \(pre!.pid)", "the ExecStartPre= line carries its command's pid")
        let json = h.tend("logs", "both", "--stream", "stderr", "-o", "cat", "--log-dir", h.logs).stdout
        #expect(json == "to-err\n")
    }

    @Test func syslogIdentifierTagsTheLines() {
        let h = DaemonHarness()
        h.writeUnit("dl@.service", """
            [Service]
            SyslogIdentifier=fetch-%i
            ExecStart=/bin/sh -c 'echo hello; exec sleep 1000'
            """)
        h.writeUnit("plain.service", "[Service]\nExecStart=/bin/sh -c 'echo hi; exec sleep 1000'\n")
        h.start()
        _ = h.tend("start", "dl@eu", "plain")
        #expect(waitUntil { self.records(h, "dl@eu.service").contains { $0.text == "hello" } })
        #expect(waitUntil { self.records(h, "plain.service").contains { $0.text == "hi" } })
        let pid = h.mainPID("dl@eu")
        let short = h.tend("logs", "dl@eu", "--log-dir", h.logs).stdout
        #expect(short.contains("fetch-eu[\(pid)]: hello"), "tagged with SyslogIdentifier=: \(short)")
        let json = h.tend("logs", "dl@eu", "-o", "json", "--log-dir", h.logs).stdout
        #expect(json.contains(#""identifier":"fetch-eu""#) && json.contains(#""message":"hello""#))
        #expect(h.tend("logs", "plain", "--log-dir", h.logs).stdout.contains("plain[\(h.mainPID("plain"))]: hi"),
                "without it, the unit's name")
    }
}
