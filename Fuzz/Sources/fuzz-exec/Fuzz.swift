// `Exec*=` command lines (systemd.service(5), "COMMAND LINES"): word splitting and escapes, prefixes, specifiers,
// and the `$VAR` / `${VAR}` substitution done at spawn time. The input is one command line; after a NUL byte
// comes an environment file (`EnvironmentFile=`, parsed too) whose variables the substitution uses.
@testable import TendModel

let context = SpecifierContext(
    userName: "alice", uid: 1000, home: "/home/alice", runtimeDir: "/run/user/1000",
    stateDir: "/home/alice/.local/state", cacheDir: "/home/alice/.cache", logsDir: "/home/alice/.local/state/log",
    configDir: "/home/alice/.config", hostName: "box.example.org")
let plain = SpecifierResolver(name: UnitName(parsing: "web.service")!, context: context, fragmentPath: "/etc/tend/web.service")
let instance = SpecifierResolver(
    name: UnitName(parsing: "getty@tty\\x2d1.service")!, context: context, fragmentPath: nil)
let location = SourceLocation(file: "fuzz.service", line: 1)
let baseEnvironment = ["A": "1 2", "B": "", "TERM": "linux", "Q": "'a b' \"c d\" e\\ f", "MAINPID": "42"]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeBufferPointer(start: data, count: min(size, 64 << 10))
    let nul = bytes.firstIndex(of: 0) ?? bytes.endIndex
    let line = String(decoding: bytes[..<nul], as: UTF8.self)
    var environment = baseEnvironment
    if nul < bytes.endIndex {
        let file = String(decoding: bytes[(nul + 1)...], as: UTF8.self)
        for (key, value) in parseEnvironmentFile(file) { environment[key] = value }
    }

    for resolver in [plain, instance] {
        guard let commands = try? parseExecLine(line, resolver: resolver, location: location) else { continue }
        for command in commands {
            _ = command.expandedWords(environment: environment)
            _ = command.argv(environment: environment)
            _ = command.argv(environment: [:])
        }
        _ = try? resolver.expand(line)
    }
    _ = try? splitWords(line)
    _ = try? splitWordStrings(line)
    _ = ExecCommand.splitValue(line)
    _ = ExecCommand.substituteBraced(Array(line.utf8), environment: environment)
    _ = unescapeUnitNamePart(line)
    _ = unescapedPath(line)
    _ = UnitName(parsing: line)
    return 0
}
