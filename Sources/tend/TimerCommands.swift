import ArgumentParser
import TendControl
import TendModel
import TendSystem

/// `tend list-timers [--all]`: systemctl list-timers' table (NEXT LEFT LAST PASSED UNIT ACTIVATES), the soonest
/// first, timers that will not elapse again last.
struct ListTimers: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list-timers", abstract: "List timer units with their next and last elapse, like systemctl list-timers.")
    @Flag(name: .shortAndLong, help: "Include inactive timers.") var all = false
    @OptionGroup var client: ClientOptions

    func run() throws {
        try guarded {
            let names = try client.call(.list(all: true), as: StatusReply.self).units.map(\.unit).filter { $0.hasSuffix(".timer") }
            var timers = names.isEmpty ? [] : try client.call(.status(units: names, lines: 0), as: StatusReply.self).units
            if !all { timers = timers.filter { $0.active != "inactive" && $0.active != "failed" } }
            timers.sort { a, b in
                switch (a.timerNext, b.timerNext) {
                case let (x?, y?): return x < y || x == y && a.unit < b.unit
                case (.some, nil): return true
                case (nil, .some): return false
                case (nil, nil): return a.unit < b.unit
                }
            }
            if client.output == .json {
                out(JSON.array(timers.map { t in
                    .object([("next", t.timerNext.map { .int($0) } ?? .null), ("last", t.timerLast.map { .int($0) } ?? .null),
                             ("unit", .string(t.unit)), ("activates", .string(t.timerUnit ?? ""))])
                }).serialized(pretty: true) + "\n")
                return
            }
            let now = Int64(Posix.realtimeMicroseconds)
            var rows = [["NEXT", "LEFT", "LAST", "PASSED", "UNIT", "ACTIVATES"]]
            for t in timers {
                rows.append([
                    t.timerNext.map { TimeFormat.timestamp(UInt64($0)) } ?? "n/a",
                    t.timerNext.map { relativeTimeText($0, now: now) } ?? "n/a",
                    t.timerLast.map { TimeFormat.timestamp(UInt64($0)) } ?? "n/a",
                    t.timerLast.map { relativeTimeText($0, now: now) } ?? "n/a",
                    t.unit, t.timerUnit ?? "",
                ])
            }
            var widths = [Int](repeating: 0, count: 6)
            for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
            var text = ""
            for r in rows {
                let line = r.enumerated().map { i, c in i == 5 ? c : c + String(repeating: " ", count: widths[i] - c.count) }
                text += line.joined(separator: " ") + "\n"
            }
            text += "\n\(timers.count) timers listed.\n"
            if !all { text += "Pass --all to see loaded but inactive timers, too.\n" }
            out(text)
        }
    }
}
