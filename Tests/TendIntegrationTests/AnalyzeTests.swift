import Glibc
import Testing
import TendControl

/// `tend analyze` with a real daemon: a service that keeps exiting and being restarted still shows the time its
/// start-up took (milliseconds), not the seconds of its restart cycle.
@Suite(.serialized)
struct AnalyzeTests {
    /// Every "waited for" connector of a plot as (from x, to x).
    func connectors(_ svg: String) -> [(Double, Double)] {
        svg.split(separator: "\n").compactMap { line -> (Double, Double)? in
            guard line.hasPrefix("<path class=\"held\" d=\"M") else { return nil }
            let d = line.dropFirst("<path class=\"held\" d=\"M".count).prefix { $0 != "\"" }
            let parts = d.split(separator: " ")
            guard let first = parts.first, let last = parts.last, last.hasPrefix("H"),
                let x1 = Double(first), let x2 = Double(last.dropFirst())
            else { return nil }
            return (x1, x2)
        }
    }

    @Test func aRestartingSimpleServiceKeepsItsStartUpTime() throws {
        let h = DaemonHarness()
        // Each run lasts 200 ms and exits 1; Restart=always brings it back 700 ms later.
        h.writeUnit("flappy.service", """
            [Service]
            ExecStart=/bin/sh -c 'sleep 0.2; exit 1'
            Restart=always
            RestartSec=700ms
            """)
        h.writeUnit("late.service", """
            [Unit]
            Wants=flappy.service
            After=flappy.service
            [Service]
            ExecStart=/bin/sleep 100
            """)
        h.start()
        #expect(h.waitFor("late", sub: "running"))
        // Two restarts, and running again: at least 1.8 s after the start-up.
        #expect(waitUntil(20) { (h.status("flappy")?["nRestarts"]?.int ?? 0) >= 2 && h.sub("flappy") == "running" })

        let blame = try JSON.parse(h.tend("analyze", "blame", "-o", "json").stdout)
        let row = try #require(blame.array?.first { $0["unit"]?.string == "flappy.service" })
        let seconds = try #require(row["seconds"]?.number)
        #expect(seconds < 0.9, "the start-up (a spawn), not a restart cycle: \(seconds) s")
        #expect((row["restarts"]?.int ?? 0) >= 2)
        let text = h.tend("analyze", "blame").stdout
        let line = try #require(text.split(separator: "\n").first { $0.hasSuffix(" flappy.service") })
        #expect(line.contains("ms flappy.service"), "\(text)")

        // late waited for flappy's start-up: the chain goes through it, both within the start-up.
        let chain = try JSON.parse(h.tend("analyze", "critical-chain", "late", "-o", "json").stdout)
        let names = chain.array?.compactMap { $0["unit"]?.string } ?? []
        #expect(names.prefix(2) == ["late.service", "flappy.service"], "\(h.tend("analyze", "critical-chain", "late").stdout)")
        for entry in chain.array ?? [] where names.prefix(2).contains(entry["unit"]?.string ?? "") {
            #expect((entry["active"]?.number ?? 99) < 0.9, "\(entry)")
        }

        let svg = h.tend("analyze", "plot").stdout
        #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n"))
        #expect(svg.contains("restarted "), "the restarts are a note")
        // The summary's "last became ready" is the start-up's (milliseconds), not the latest restart's.
        let summary = try #require(svg.split(separator: "\n").first { $0.contains("last became ready at ") })
        #expect(summary.hasSuffix("ms</text>"), "\(summary)")
        // Each "waited for" line goes forward in time: from the end of what was waited for to the start.
        let lines = connectors(svg)
        #expect(!lines.isEmpty)
        for (from, to) in lines { #expect(from <= to + 0.1, "a connector from x=\(from) back to x=\(to)") }
        #expect(h.stop() == 0)
    }
}
