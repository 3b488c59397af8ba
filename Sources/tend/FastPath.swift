import Glibc

/// `tend status` and `tend list` in their plain forms, parsed by hand: ArgumentParser's reflection costs
/// about a millisecond per run, which is most of a status query's budget (a `svstat` of 100 services takes
/// ~3 ms). Anything unusual (`--help`, an unknown option, a missing value) returns nil and goes to
/// ArgumentParser, which gives the proper message; both paths run the same `execute` functions.
enum FastPath {
    static func run(_ args: [String]) -> Int32? {
        guard let command = args.first, command == "status" || command == "list" else { return nil }
        var units: [String] = []
        var all = false
        var lines = 10
        var output = OutputFormat.text
        var stateDir: String?
        var i = 1
        func value() -> String? {
            i += 1
            return i < args.count ? args[i] : nil
        }
        while i < args.count {
            let a = args[i]
            // A `where` clause would bind to the last pattern only: check the command explicitly.
            if (a == "-a" || a == "--all") && command == "list" {
                all = true
                i += 1
                continue
            }
            if (a == "-n" || a == "--lines") && command == "status" {
                guard let v = value(), let n = Int(v), n >= 0 else { return nil }
                lines = n
                i += 1
                continue
            }
            switch a {
            case "-l", "--full":
                break  // systemctl's habit: tend never ellipsizes
            case "-o", "--output":
                guard let v = value(), let f = OutputFormat(rawValue: v) else { return nil }
                output = f
            case "--state-dir":
                guard let v = value() else { return nil }
                stateDir = v
            default:
                if a.hasPrefix("--output="), let f = OutputFormat(rawValue: String(a.dropFirst(9))) {
                    output = f
                } else if a.hasPrefix("--state-dir=") {
                    stateDir = String(a.dropFirst(12))
                } else if a.hasPrefix("-") || command == "list" {
                    return nil
                } else {
                    units.append(a)
                }
            }
            i += 1
        }
        do {
            if command == "list" {
                try List.execute(all: all, output: output, stateDir: stateDir)
                return 0
            }
            return try Status.execute(units: units, lines: lines, output: output, stateDir: stateDir)
        } catch {
            if let (message, code) = failure(error) {
                printError(message)
                return code
            }
            printError("\(error)")
            return 1
        }
    }
}
