import ArgumentParser
import TendEngine
import TendModel
import TendSystem

/// `tend analyze calendar EXPR...`: systemd-analyze calendar's output, line for line (the original form when it
/// differs from the normalized one, the next elapses in local time, in UTC when local time is not UTC, and how
/// far away each is). Needs no manager.
struct CalendarAnalyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calendar",
        abstract: "Normalize calendar expressions (OnCalendar=) and show when they elapse next.",
        discussion: "As systemd-analyze calendar: exits 1 when an expression is refused, after showing the others.")

    @Argument(help: "Calendar expressions (systemd.time(7)), e.g. 'Mon..Fri 09:00' or '*-*-* *:00/15:00'.")
    var expressions: [String]

    @Option(help: "How many next elapses to show for each expression.")
    var iterations: UInt = 1

    @Option(name: .customLong("base-time"), help: "Compute the elapses after this time (a timestamp) instead of now.")
    var baseTime: String?

    func run() throws {
        let now = Posix.realtimeMicroseconds
        var base = Int64(now)
        if let baseTime {
            guard let t = TimeParsing.parse(baseTime, now: now) else {
                printError("Failed to parse --base-time= parameter: \(baseTime)")
                throw ExitCode(1)
            }
            base = Int64(clamping: t)
        }
        let local = ZoneInfo.local()
        var failed = false
        for (index, expression) in expressions.enumerated() {
            switch CalendarText.render(expression, base: base, now: Int64(now), iterations: Int(clamping: iterations),
                                       local: local) {
            case .success(let text): out(text)
            case .failure(let message):
                printError(message)
                failed = true
            }
            if index + 1 < expressions.count { out("\n") }
        }
        if failed { throw ExitCode(1) }
    }
}

enum CalendarText {
    enum Outcome { case success(String), failure(String) }

    /// One expression's block, or the error message systemd-analyze gives for it.
    static func render(_ expression: String, base: Int64, now: Int64, iterations: Int, local: ZoneRules) -> Outcome {
        let spec: CalendarSpec
        do {
            spec = try CalendarSpec.parse(expression, isZone: ZoneInfo.isValidName,
                                          localAbbreviations: ZoneInfo.abbreviations(local))
        } catch {
            var message = "Failed to parse calendar specification '\(expression)': \(error)"
            if let span = parseTimeSpan(expression), !span.isInfinite {
                message += "\nHint: this expression is a valid timespan, not a calendar expression."
            } else if TimeParsing.parse(expression, now: UInt64(clamping: now)) != nil {
                message += "\nHint: this expression is a valid timestamp, not a calendar expression."
            }
            return .failure(message)
        }
        var rows: [(String, String)] = []
        let normalized = spec.normalized
        if normalized != expression { rows.append(("Original form", expression)) }
        rows.append(("Normalized form", normalized))
        let zone: ZoneRules
        if spec.utc {
            zone = .utc
        } else if let name = spec.timezone {
            guard let rules = ZoneInfo.load(name) else {
                return .failure("Failed to determine next elapse for '\(expression)': Invalid argument")
            }
            zone = rules
        } else {
            zone = local
        }
        let showUTC = !ZoneInfo.isUTC(local)
        var after = base
        for i in 0..<iterations {
            guard let next = spec.next(after: after, zone: zone) else {
                if i == 0 { rows.append(("Next elapse", "never")) }
                break
            }
            rows.append((i == 0 ? "Next elapse" : "Iter. #\(i + 1)", local.timestamp(next)))
            if showUTC { rows.append(("(in UTC)", ZoneRules.utc.timestamp(next))) }
            rows.append(("From now", relativeTimeText(next, now: now)))
            after = next
        }
        let width = rows.map(\.0.count).max() ?? 0
        return .success(rows.map { String(repeating: " ", count: width - $0.0.count) + $0.0 + ": " + $0.1 + "\n" }.joined())
    }
}
