import Glibc
import Testing
import TendSystem

/// `tend analyze calendar` against the real `systemd-analyze calendar`: the same stdout (normalized form, next
/// elapses in local time and in UTC) and exit status for a table of expressions, accepted and refused, in three
/// local zones and across daylight saving changes. systemd-analyze comes from the machine or from Debian's
/// systemd package that .ci/run extracts ($TEND_SYSTEMD_ANALYZE, with $TEND_SYSTEMD_LIBDIR for its library).
@Suite struct CalendarAnalyzeTests {
    static let analyze: String? = {
        let env = Posix.environment()
        let candidates = [env["TEND_SYSTEMD_ANALYZE"], "/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        for case let path? in candidates where Posix.isExecutable(path) {
            if runCommand([path, "--version"], environment: libraryEnvironment).status == 0 { return path }
        }
        return nil
    }()
    static let libraryEnvironment: [String: String] =
        Posix.environment()["TEND_SYSTEMD_LIBDIR"].map { ["LD_LIBRARY_PATH": $0] } ?? [:]

    static let expressions = [
        "daily", "minutely", "hourly", "weekly", "monthly", "yearly", "annually", "quarterly", "semiannually",
        "semi-annually", "biannually", "DAILY", "Mon..Fri 09:00", "*-*-* *:00/15:00", "*-02~03", "*-*-1/30",
        "*-*-* *:*:*", "Mon", "Mon,Fri 10:00", "mon-wed", "Monday..Tuesday", "monday..sunday", "00:00:00.5",
        "@1395716396", "@0", "daily utc", "*-*-* 00:00:00 UTC", "daily Etc/UTC", "hourly Europe/Berlin",
        "05:40:00 America/New_York", "02:30 Europe/Berlin", "quarterly Asia/Kolkata", "daily Australia/Sydney",
        "Sat,Mon..Tue *-*-* 1,2:3", "2199-12-31", "12-31", "*~1", "*-*~1,3..5", "*-*~05/2", "*~28",
        "*-*-* 0..23/3:0", "*:0..59/15", "Sat *-*-* 10:00", "Wed..Sat,Tue 12-10-15 1:2:3",
        "Thu,Fri 2012-*-1,5 11:12:13", "*-*-* *:*:1.5/0.25", "*:2/3", "2003-03-05 05:40", "*-1-1,2",
        "Mon-Wed,Fri,Sat 2015-02-28", "Sun 2026-*-* 0/2:00", "00:00:00.1234567", "*-*-* *:*:59.999999",
        "2025-*-* 00:00", "Fri *-*-13", "*-*-* 1,1,1:00", "2012-02-29", "*-02-29", "*-02-30", "00-01-01",
        "69-01-01", "70-01-01", "99-01-01", "*-*-1..31/7", "2020..2030/3-01-01", "Tue 9:00", "*-*-* 02:30",
        "*-*-* 01:30", "*-*-* *:30", "*-*-* 01,02,03:00", "*-*-* *:*:00/5",
        // Refused:
        "bad", "*:*/10", "12:00:01.", "*:0/60", "  daily ", "*-*-* 00:00:90", "2200-01-01", "1..5/2", "Mon..",
        "Mon..Wed..Fri", "Fri..Mon", "*-*-* 24:00", "*-*-32", "*-13-01", "1969-01-01", "4294967296:00",
        "2147483647-01-01", "*:*:2147483648", "daily Foo/Bar", "*-*-* 9", "@", "*~29", "", "Mond", "*-*~1-2",
        "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23:00",
    ]

    /// Both commands' outputs for the same arguments and zone: (tend, systemd-analyze before, systemd-analyze
    /// after). "From now" is measured from the moment each prints, so tend's must equal one of the two.
    func outputs(_ args: [String], tz: String) -> (CommandResult, CommandResult, CommandResult) {
        let env = Self.libraryEnvironment.merging(["TZ": tz]) { $1 }
        let before = runCommand([Self.analyze!, "calendar"] + args, environment: env)
        let ours = runCommand([tendBinary, "analyze", "calendar"] + args, environment: ["TZ": tz])
        let after = runCommand([Self.analyze!, "calendar"] + args, environment: env)
        return (ours, before, after)
    }

    func withoutFromNow(_ s: String) -> String {
        s.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.contains("From now:") }
            .joined(separator: "\n")
    }

    @Test(.enabled(if: analyze != nil, "needs systemd-analyze (the machine's or Debian's systemd package)"),
          arguments: [
              ("UTC", "2026-12-02 18:00:00"), ("Europe/Berlin", "2027-03-27 12:00:00"),
              ("America/New_York", "2027-11-06 12:00:00"), ("Australia/Sydney", "2027-04-03 12:00:00"),
          ])
    func agreesWithSystemdAnalyze(tz: String, base: String) {
        for expression in Self.expressions {
            let args = ["--iterations", "3", "--base-time", base, expression]
            let (ours, before, _) = outputs(args, tz: tz)
            #expect(ours.status == before.status, "TZ=\(tz) '\(expression)': \(ours.stderr)")
            #expect(withoutFromNow(ours.stdout) == withoutFromNow(before.stdout),
                    "TZ=\(tz) '\(expression)':\n\(ours.stdout)\nsystemd-analyze:\n\(before.stdout)")
            if before.status != 0 {
                let first = { (s: String) in s.split(separator: "\n").first.map(String.init) ?? "" }
                #expect(first(ours.stderr) == first(before.stderr), "TZ=\(tz) '\(expression)'")
            }
        }
    }

    /// Without --base-time: from now, several expressions in one call (blank lines between them, exit 1 for the
    /// refused one), and "From now" as systemd-analyze prints it.
    @Test(.enabled(if: analyze != nil, "needs systemd-analyze (the machine's or Debian's systemd package)"))
    func fromNowAndSeveralExpressions() {
        let args = ["--iterations", "2", "*:*:00/5", "minutely", "bad", "Mon..Fri 09:00", "*-*-* *:00/15:00", "yearly",
                    "@1395716396"]
        for tz in ["UTC", "Europe/Berlin"] {
            var agreed = false
            // A second boundary between the runs can change a "From now" line: three tries.
            for _ in 0..<3 where !agreed {
                let (ours, before, after) = outputs(args, tz: tz)
                #expect(ours.status == 1 && before.status == 1)
                agreed = ours.stdout == before.stdout || ours.stdout == after.stdout
                if !agreed { print("TZ=\(tz):\n\(ours.stdout)\nsystemd-analyze:\n\(before.stdout)") }
            }
            #expect(agreed, "TZ=\(tz)")
        }
    }
}
