import Testing

@testable import TendControl

struct JSONTests {
    @Test func roundTripsEveryKind() throws {
        let v = JSON.object([
            ("null", .null), ("t", .bool(true)), ("f", .bool(false)), ("int", .int(-42)), ("big", .int(Int64.max)),
            ("double", .double(1.5)), ("s", .string("quote \" backslash \\ newline \n tab \t ctl \u{1} é ✓")),
            ("arr", .array([.int(1), .string("two"), .array([]), .object([])])),
        ])
        #expect(try JSON.parse(v.serialized()) == v)
        #expect(try JSON.parse(v.serialized(pretty: true)) == v)
    }

    @Test func escapesControlCharacters() {
        #expect(JSON.string("a\u{1}b\u{7f}").serialized() == "\"a\\u0001b\\u007f\"")
        #expect(JSON.string("\"\\\n").serialized() == "\"\\\"\\\\\\n\"")
    }

    @Test func parsesUnicodeEscapesAndSurrogatePairs() throws {
        #expect(try JSON.parse("\"\\u00e9\\ud83d\\ude00\"") == .string("é😀"))
    }

    @Test(arguments: ["", "{", "[1,", "{\"a\" 1}", "tru", "\"unterminated", "{\"a\":1}x", "[1 2]", "-", "\u{0}"])
    func rejectsMalformedInput(_ text: String) {
        #expect(throws: JSON.ParseError.self) { try JSON.parse(text) }
    }

    @Test func nestingIsBounded() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSON.ParseError.self) { try JSON.parse(deep) }
    }

    @Test func randomBytesNeverCrash() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 0..<64, using: &rng)).map { _ in
                Array("{}[]\",:0123456789.-eEtrufalsn \\u".utf8).randomElement(using: &rng)!
            }
            _ = try? JSON.parse(bytes)
        }
    }
}
