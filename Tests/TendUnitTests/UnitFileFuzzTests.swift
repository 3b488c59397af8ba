import Testing

@testable import TendModel
@testable import TendSystem
@testable import TendEngine

/// Deterministic mutation fuzzing with capped input, in the spirit of systemd's fuzz-unit-file: the parsers
/// must never crash, whatever they are fed.
@Suite struct UnitFileFuzzTests {
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    /// Characters that matter to the parsers, so mutations hit interesting paths more often than random bytes.
    static let alphabet: [UInt8] = Array("\\\"'%$;#=[]{} \t\n\r@-+!:0123456789xuUsmhKG".utf8) + [0, 0xFF, 0xC3, 0xE2]

    static let seeds = [
        huobiUnit,
        """
        [Unit]
        Description=Getty on %I
        Documentation=man:agetty(8)
        ConditionPathExists=/dev/%I
        [Service]
        ExecStart=-/sbin/agetty -o '-p -- \\\\u' --noclear %I $TERM ; /bin/echo "a b" \\x41
        Environment="A=1 2" B='3' C=\\u00e9
        LimitNOFILE=1024:4096
        LimitCPU=1.5min
        TimeoutSec=1min 30s
        SuccessExitStatus=1 SIGKILL TEMPFAIL
        StandardOutput=append:%t/%p.log
        [Install]
        WantedBy=getty.target
        """,
    ]

    @Test func mutatedUnitsNeverCrashTheParser() {
        var g = Generator(state: 42)
        for round in 0..<600 {
            var bytes = Array(Self.seeds[round % Self.seeds.count].utf8)
            for _ in 0..<(1 + g.below(12)) {
                let pos = g.below(bytes.count + 1)
                switch g.below(4) {
                case 0: bytes.insert(Self.alphabet[g.below(Self.alphabet.count)], at: pos)
                case 1 where pos < bytes.count: bytes.remove(at: pos)
                case 2 where pos < bytes.count: bytes[pos] = UInt8(truncatingIfNeeded: g.next())
                default:
                    let start = g.below(bytes.count)
                    let chunk = bytes[start..<min(bytes.count, start + g.below(40))]
                    bytes.insert(contentsOf: chunk, at: pos)
                }
            }
            if bytes.count > 64 << 10 { bytes.removeLast(bytes.count - (64 << 10)) }
            let text = String(decoding: bytes, as: UTF8.self)
            let name = round % 3 == 0 ? "getty@tty\\x2d1.service" : "web.service"
            var config = ServiceConfig(name: UnitName(parsing: name)!)
            var diagnostics: [Diagnostic] = []
            parseUnitText(text, file: name, into: &config, context: testContext, diagnostics: &diagnostics)
            _ = validateServiceConfig(config, file: name)
            for command in config.execStart + config.execStartPre {
                _ = command.expandedWords(environment: ["TERM": "vt100", "A": "x y"])
            }
            _ = parseEnvironmentFile(text)
            for diagnostic in diagnostics { _ = diagnostic.description }
        }
    }

    @Test func randomStringsNeverCrashTheValueParsers() {
        var g = Generator(state: 7)
        for _ in 0..<3000 {
            let length = g.below(24)
            let bytes = (0..<length).map { _ in Self.alphabet[g.below(Self.alphabet.count)] }
            let s = String(decoding: bytes, as: UTF8.self)
            _ = parseTimeSpan(s)
            _ = parseBoolean(s)
            _ = Signals.number(named: s)
            _ = parseByteSize(s)
            _ = try? splitWords(s)
            _ = unescapeUnitNamePart(s)
            _ = ExecCommand(words: [s, "$" + s, "${" + s + "}"]).expandedWords(environment: [s: s])
            if let name = UnitName(parsing: s.isEmpty ? "x" : s) {
                _ = try? SpecifierResolver(name: name, context: testContext).expand(s)
            }
        }
    }
}
