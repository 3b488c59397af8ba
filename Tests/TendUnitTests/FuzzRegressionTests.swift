import Testing

@testable import TendControl
@testable import TendModel

/// Inputs found by the libFuzzer targets in Fuzz/ that trapped a decoder. Each is the crashing input as found
/// (Fuzz/README.md); the decoder must now answer with a value or an error.
@Suite struct FuzzRegressionTests {
    /// fuzz-control: a high surrogate escape followed by an escape that is not a low surrogate overflowed the
    /// UTF-16 arithmetic (`0x10000 + ((hi - 0xD800) << 10) + (lo &- 0xDC00)`) and trapped the manager's request
    /// decoder.
    @Test func aHighSurrogateBeforeAnEscapeThatIsNotALowOneIsALoneSurrogate() throws {
        #expect(try JSON.parse(Array("\"\\ud83d\\ud0e0d\"".utf8)) == .string("\u{FFFD}\u{D0E0}d"))
        #expect(try JSON.parse(Array("\"\\ud83d\\u0041\"".utf8)) == .string("\u{FFFD}A"))
        #expect(try JSON.parse(Array("\"\\ud83d\\ud83d\\ude00\"".utf8)) == .string("\u{FFFD}😀"))
        #expect(try JSON.parse(Array("\"\\udc00\"".utf8)) == .string("\u{FFFD}"))
        #expect(try JSON.parse(Array("\"\\ud83d\\ude00\"".utf8)) == .string("😀"))
        // The two inputs as the fuzzer found them: a request line, then one left unterminated.
        #expect(throws: ControlError.self) {
            try ControlRequest(line: [0x22, 0x5c, 0x75, 0x64, 0x38, 0x33, 0x64, 0x5c, 0x75, 0x64, 0x30, 0x65, 0x30,
                                      0x64, 0x22, 0x0a, 0xc9])
        }
        #expect(throws: JSON.ParseError.self) {
            try JSON.parse([0x22, 0x6d, 0x5c, 0x14, 0x5c, 0x75, 0x64, 0x38, 0x33, 0x64, 0x5c, 0x75, 0x30, 0x30, 0x30, 0x30])
        }
    }

    /// `\u` takes exactly four hex digits; `UInt32(_:radix:)` alone also accepted a sign.
    @Test func aUnicodeEscapeIsFourHexDigits() {
        #expect(throws: JSON.ParseError.self) { try JSON.parse("\"\\u+04a\"") }
        #expect(throws: JSON.ParseError.self) { try JSON.parse("\"\\u-04a\"") }
        #expect(throws: JSON.ParseError.self) { try JSON.parse("\"\\u04g0\"") }
        #expect((try? JSON.parse("\"\\u004A\\u004a\"")) == .string("JJ"))
    }
}
