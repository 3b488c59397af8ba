import Glibc
import Testing
import TendControl
import TendSystem

/// `.timer` units with a real manager: monotonic and calendar elapses at the right times, Persistent= catching
/// up a run missed while the manager was down, and no wakeups between elapses.
@Suite(.serialized)
struct TimerTests {
    /// The realtime seconds a service recorded, one per line, each run.
    func runs(_ h: DaemonHarness, _ file: String) -> [Double] {
        h.readFile(h.root + "/" + file).split(separator: "\n").compactMap { Double($0) }
    }

    func recorder(_ h: DaemonHarness, _ file: String) -> String {
        """
        [Service]
        Type=oneshot
        ExecStart=/bin/sh -c 'date +%%s.%%N >> \(h.root)/\(file)'
        """
    }

    @Test func monotonicAndCalendarTimersElapseOnTime() throws {
        let h = DaemonHarness()
        h.writeUnit("tick.timer", "[Timer]\nOnActiveSec=2s\nOnUnitActiveSec=3s\nAccuracySec=1ms\n")
        h.writeUnit("tick.service", recorder(h, "tick"))
        h.writeUnit("five.timer", "[Timer]\nOnCalendar=*-*-* *:*:00/5\nAccuracySec=1ms\nUnit=every-five.service\n")
        h.writeUnit("every-five.service", recorder(h, "five"))
        let before = Double(Posix.realtimeMicroseconds) / 1e6
        h.start()
        // Started by the timers only: nothing ran at launch.
        #expect(runs(h, "tick").isEmpty && runs(h, "five").isEmpty)
        #expect(h.sub("tick.timer") == "waiting")
        #expect(waitUntil(12) { runs(h, "tick").count >= 3 && runs(h, "five").count >= 2 })
        let tick = runs(h, "tick")
        try #require(tick.count >= 3)
        // 2 s after the timer started (the manager's launch, within a second of `before`), then every 3 s.
        #expect(tick[0] - before >= 2 && tick[0] - before < 3.2, "\(tick.map { $0 - before })")
        #expect(abs(tick[1] - tick[0] - 3) < 0.4 && abs(tick[2] - tick[1] - 3) < 0.4, "\(tick.map { $0 - before })")
        let five = runs(h, "five")
        for t in five {
            // At a multiple of 5 seconds, a little after it (the start of the process).
            let past = t.truncatingRemainder(dividingBy: 5)
            #expect(past < 0.5, "ran \(past) s after a multiple of 5 s")
        }
        #expect(abs(five[1] - five[0] - 5) < 0.5)
        // The timer stays active, waiting again once its unit is down.
        #expect(h.active("five.timer") == "active")
        // list-timers: the soonest first, with its unit; JSON has the same rows; status shows the trigger.
        let table = h.tend("list-timers").stdout
        let lines = table.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("NEXT ") == true && lines.first?.hasSuffix(" ACTIVATES") == true, "\(table)")
        #expect(lines.contains { $0.contains(" five.timer ") && $0.hasSuffix(" every-five.service") }, "\(table)")
        #expect(lines.contains { $0.contains(" left ") && $0.contains(" ago ") && $0.hasSuffix(" tick.service") }, "\(table)")
        #expect(table.contains("\n2 timers listed.\n"))
        let rows = try JSON.parse(h.tend("list-timers", "-o", "json").stdout).array ?? []
        #expect(rows.count == 2)
        for row in rows {
            #expect((row["next"]?.int ?? 0) > Int64(before * 1e6) && (row["last"]?.int ?? 0) > Int64(before * 1e6), "\(row)")
        }
        let status = h.tend("status", "tick.timer").stdout
        #expect(status.contains("    Trigger: ") && status.contains("   Triggers: tick.service"), "\(status)")
        #expect(h.stop() == 0)
    }

    @Test func persistentTimerCatchesUpARunMissedWhileTheManagerWasDown() {
        let h = DaemonHarness()
        h.writeUnit("nightly.timer", "[Timer]\nOnCalendar=daily\nPersistent=true\nAccuracySec=1ms\n")
        h.writeUnit("nightly.service", recorder(h, "nightly"))
        h.writeUnit("forgetful.timer", "[Timer]\nOnCalendar=daily\nAccuracySec=1ms\n")
        h.writeUnit("forgetful.service", recorder(h, "forgetful"))
        // The last run of the earlier manager: two days ago, so last night's run was missed.
        let twoDaysAgo = Posix.realtimeMicroseconds - 2 * 86_400_000_000
        try? Posix.mkdirs(h.state + "/timers")
        h.writeFile(h.state + "/timers/stamp-nightly.timer", "\(twoDaysAgo)\n")
        h.writeFile(h.state + "/timers/stamp-forgetful.timer", "\(twoDaysAgo)\n")
        h.start()
        #expect(waitUntil(5) { runs(h, "nightly").count == 1 }, "\(h.daemonLog)")
        #expect(runs(h, "forgetful").isEmpty, "without Persistent= the stamp is not read")
        // The stamp now holds this run, for the next manager.
        let stamp = UInt64(h.readFile(h.state + "/timers/stamp-nightly.timer").filter(\.isNumber)) ?? 0
        #expect(stamp > twoDaysAgo + 86_400_000_000)
        #expect(h.stop() == 0)

        // A manager started again the same day runs nothing: the stamp is of today's run.
        h.start()
        #expect(h.sub("nightly.timer") == "waiting")
        #expect(runs(h, "nightly").count == 1)
        #expect(h.stop() == 0)
    }

    /// The voluntary and involuntary context switches of all of a process's threads.
    func contextSwitches(_ pid: Int32) -> Int {
        var total = 0
        for task in (try? listDirectoryNames("/proc/\(pid)/task")) ?? [] {
            let text = Posix.readFile("/proc/\(pid)/task/\(task)/status").map { String(decoding: $0, as: UTF8.self) } ?? ""
            for line in text.split(separator: "\n") where line.contains("ctxt_switches:") {
                total += Int(line.split(separator: "\t").last ?? "") ?? 0
            }
        }
        return total
    }

    func listDirectoryNames(_ path: String) throws -> [String] {
        guard let d = opendir(path) else { return [] }
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let name = withUnsafePointer(to: e.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
            if name != "." && name != ".." { out.append(name) }
        }
        return out
    }

    @Test func aHundredWaitingTimersDoNotWakeTheManager() {
        let h = DaemonHarness()
        for i in 0..<100 {
            // Elapses spread over the day, none in the next minutes.
            h.writeUnit("t\(i).timer", "[Timer]\nOnCalendar=*-*-* \((i % 20) + 1):\(i % 60):00 UTC\nOnActiveSec=\(1000 + i)s\n")
            h.writeUnit("t\(i).service", "[Service]\nType=oneshot\nExecStart=/bin/true\n")
        }
        h.start()
        #expect(waitUntil(10) { h.sub("t99.timer") == "waiting" })
        let pid = h.managerPID
        // Let the start-up's work (the log writer, the control connections) settle, then measure a quiet window.
        var quiet = false
        for _ in 0..<3 where !quiet {
            let before = contextSwitches(pid)
            usleep(2_000_000)  // the measurement window, not a synchronisation
            let after = contextSwitches(pid)
            quiet = after == before
            if !quiet { print("manager woke \(after - before) times in 2 s") }
        }
        #expect(quiet, "the manager woke between elapses")
        #expect(h.stop() == 0)
    }
}
