/// The lexical layer of systemd configuration files (systemd.syntax(7)): logical lines, word splitting,
/// quoting and C escapes. Everything works on UTF-8 bytes so that long lines stay linear in time.

/// One `Key=Value` assignment, a section header, or a syntax problem, in file order.
enum UnitLine: Equatable {
    case section(name: String, line: Int)
    case assignment(key: String, value: String, line: Int)
    case problem(message: String, line: Int)
    /// A malformed `[…` line: reported, and the lines after it are skipped up to the next good header.
    case invalidSection(message: String, line: Int)
}

@inline(__always) func isSpaceByte(_ b: UInt8) -> Bool {
    b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D || b == 0x0B || b == 0x0C
}

/// `bytes[range]` without leading and trailing whitespace.
func trimmedRange(_ bytes: [UInt8], _ lower: Int, _ upper: Int) -> Range<Int> {
    var lo = lower
    var hi = upper
    while lo < hi && isSpaceByte(bytes[lo]) { lo += 1 }
    while hi > lo && isSpaceByte(bytes[hi - 1]) { hi -= 1 }
    return lo..<hi
}

func decodeUTF8<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    String(decoding: bytes, as: UTF8.self)
}

extension String {
    /// The string without leading and trailing whitespace.
    var trimmedWhitespace: String {
        let bytes = Array(utf8)
        let r = trimmedRange(bytes, 0, bytes.count)
        if r.count == bytes.count { return self }
        return decodeUTF8(bytes[r])
    }
}

/// Splits a file's text into logical lines the way systemd's `config_parse()` does: comment lines (`#`, `;`) and
/// empty lines are skipped, a line ending in an unescaped backslash continues on the next line (the backslash
/// becomes a space), and comment lines inside such a continuation are skipped too.
///
/// Lines that contain a NUL byte or U+FFFD (what invalid UTF-8 becomes when a file is decoded) are reported and
/// dropped: systemd likewise refuses assignments that are not UTF-8 clean.
func logicalLines(_ text: String) -> [UnitLine] {
    let bytes = Array(text.utf8)
    var result: [UnitLine] = []
    var continuation: [UInt8] = []
    var inContinuation = false
    var continuationStart = 0
    var lineNumber = 0
    var i = 0
    let n = bytes.count

    func process(_ buf: [UInt8], _ lo: Int, _ hi: Int, line: Int) {
        let r = trimmedRange(buf, lo, hi)
        if r.isEmpty { return }
        let first = buf[r.lowerBound]
        if first == UInt8(ascii: "#") || first == UInt8(ascii: ";") { return }
        var hasNUL = false
        var hasReplacement = false
        var j = r.lowerBound
        while j < r.upperBound {
            let b = buf[j]
            if b == 0 {
                hasNUL = true
                break
            }
            if b == 0xEF && j + 2 < r.upperBound && buf[j + 1] == 0xBF && buf[j + 2] == 0xBD { hasReplacement = true }
            j += 1
        }
        if hasNUL {
            result.append(.problem(message: "line contains a NUL byte", line: line))
            return
        }
        if hasReplacement {
            result.append(.problem(message: "line is not valid UTF-8", line: line))
            return
        }
        if first == UInt8(ascii: "[") {
            guard buf[r.upperBound - 1] == UInt8(ascii: "]"), r.count >= 2 else {
                result.append(.invalidSection(message: "invalid section header \"\(decodeUTF8(buf[r]))\"", line: line))
                return
            }
            let name = decodeUTF8(buf[(r.lowerBound + 1)..<(r.upperBound - 1)])
            if name.isEmpty || name.contains("[") || name.contains("]") {
                result.append(.invalidSection(message: "invalid section header \"\(decodeUTF8(buf[r]))\"", line: line))
                return
            }
            result.append(.section(name: name, line: line))
            return
        }
        guard let eq = buf[r].firstIndex(of: UInt8(ascii: "=")) else {
            result.append(
                .problem(message: "missing '=' in \"\(shortened(decodeUTF8(buf[r])))\"", line: line))
            return
        }
        let keyRange = trimmedRange(buf, r.lowerBound, eq)
        let valueRange = trimmedRange(buf, eq + 1, r.upperBound)
        if keyRange.isEmpty {
            result.append(.problem(message: "missing key name before '='", line: line))
            return
        }
        result.append(.assignment(key: decodeUTF8(buf[keyRange]), value: decodeUTF8(buf[valueRange]), line: line))
    }

    while i < n {
        var j = i
        while j < n && bytes[j] != 0x0A { j += 1 }
        lineNumber += 1
        let lineStart = i
        let lineEnd = j
        i = j + 1

        // A comment line is skipped wherever it is, also in the middle of a continuation.
        let t = trimmedRange(bytes, lineStart, lineEnd)
        if !t.isEmpty && (bytes[t.lowerBound] == UInt8(ascii: "#") || bytes[t.lowerBound] == UInt8(ascii: ";")) {
            continue
        }
        // Count the backslashes at the end (after trailing whitespace such as \r is trimmed): an odd number
        // means the last one is unescaped and continues the line.
        var k = t.upperBound
        var backslashes = 0
        while k > t.lowerBound && bytes[k - 1] == UInt8(ascii: "\\") {
            backslashes += 1
            k -= 1
        }
        if backslashes % 2 == 1 {
            if !inContinuation {
                inContinuation = true
                continuationStart = lineNumber
                continuation.removeAll(keepingCapacity: true)
            }
            continuation.append(contentsOf: bytes[lineStart..<(t.upperBound - 1)])
            continuation.append(0x20)
            continue
        }
        if inContinuation {
            continuation.append(contentsOf: bytes[lineStart..<lineEnd])
            process(continuation, 0, continuation.count, line: continuationStart)
            inContinuation = false
            continuation.removeAll(keepingCapacity: true)
        } else {
            process(bytes, lineStart, lineEnd, line: lineNumber)
        }
    }
    if inContinuation {
        process(continuation, 0, continuation.count, line: continuationStart)
    }
    return result
}

/// A value cut to a readable length for messages.
func shortened(_ s: String, limit: Int = 60) -> String {
    if s.utf8.count <= limit { return s }
    return String(s.prefix(limit)) + "…"
}

/// Why a value could not be split into words.
enum WordSplitError: Error, Equatable, CustomStringConvertible {
    case unterminatedQuote
    case invalidEscape(String)
    case trailingBackslash

    var description: String {
        switch self {
        case .unterminatedQuote: return "unterminated quoted string"
        case .invalidEscape(let e): return "invalid escape sequence \"\(e)\""
        case .trailingBackslash: return "trailing backslash"
        }
    }
}

/// One word of a split value. `bareSemicolon` is true for an unquoted, unescaped `;` (the command separator on
/// `Exec*=` lines).
struct SplitWord: Equatable {
    var text: String
    var bareSemicolon: Bool = false
}

/// Splits `value` at whitespace into words the way systemd's `extract_first_word()` does with unquoting and C
/// unescaping: `"…"` and `'…'` quote (also starting mid-word: `ONE='one'` is `ONE=one`), and the C escapes of
/// systemd.syntax(7) are decoded inside and outside quotes.
///
/// `relaxEscapes` is systemd's EXTRACT_UNESCAPE_RELAX, which `Exec*=` lines use: a backslash sequence that is not
/// one of cunescape()'s escapes (`\a \b \f \n \r \t \v \\ \" \' \s \xHH \uHHHH \UHHHHHHHH \OOO`) is kept as
/// written, backslash included (`'\w+\K'` stays `\w+\K`, `\;x` stays `\;x`), and so is a trailing backslash.
func splitWords(_ value: String, relaxEscapes: Bool = false) throws(WordSplitError) -> [SplitWord] {
    let b = Array(value.utf8)
    let n = b.count
    var words: [SplitWord] = []
    var i = 0
    while true {
        while i < n && isSpaceByte(b[i]) { i += 1 }
        if i >= n { break }
        var word: [UInt8] = []
        var quote: UInt8 = 0
        var plain = true  // nothing quoted or escaped in this word
        while i < n {
            let c = b[i]
            if quote == 0 && isSpaceByte(c) { break }
            if c == UInt8(ascii: "\\") {
                plain = false
                guard i + 1 < n else {
                    guard relaxEscapes && quote == 0 else { throw .trailingBackslash }
                    word.append(c)
                    i += 1
                    continue
                }
                if relaxEscapes {
                    let next = b[i + 1]
                    let known = next != UInt8(ascii: ";") && next != UInt8(ascii: " ") && next != UInt8(ascii: "\t")
                    if known, let after = try? decodeEscape(b, at: i, into: &word) {
                        i = after
                    } else {
                        word += [c, next]
                        i += 2
                    }
                    continue
                }
                i = try decodeEscape(b, at: i, into: &word)
                continue
            }
            if quote != 0 {
                if c == quote {
                    quote = 0
                } else {
                    word.append(c)
                }
                i += 1
                continue
            }
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
                plain = false
                quote = c
                i += 1
                continue
            }
            word.append(c)
            i += 1
        }
        if quote != 0 { throw .unterminatedQuote }
        let semicolon = plain && word == [UInt8(ascii: ";")]
        words.append(SplitWord(text: decodeUTF8(word), bareSemicolon: semicolon))
    }
    return words
}

/// The words of `value` as plain strings.
func splitWordStrings(_ value: String) throws(WordSplitError) -> [String] {
    try splitWords(value).map(\.text)
}

/// Decodes the C escape starting at `b[i]` (a backslash) into `out`, returning the index after it.
func decodeEscape(_ b: [UInt8], at i: Int, into out: inout [UInt8]) throws(WordSplitError) -> Int {
    let n = b.count
    let c = b[i + 1]
    func hexValue(_ x: UInt8) -> UInt32? {
        switch x {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(x - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(x - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(x - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }
    func bad(_ len: Int) -> WordSplitError {
        .invalidEscape(decodeUTF8(b[i..<min(n, i + len)]))
    }
    switch c {
    case UInt8(ascii: "a"): out.append(0x07)
    case UInt8(ascii: "b"): out.append(0x08)
    case UInt8(ascii: "f"): out.append(0x0C)
    case UInt8(ascii: "n"): out.append(0x0A)
    case UInt8(ascii: "r"): out.append(0x0D)
    case UInt8(ascii: "t"): out.append(0x09)
    case UInt8(ascii: "v"): out.append(0x0B)
    case UInt8(ascii: "s"): out.append(0x20)
    case UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: ";"), UInt8(ascii: " "),
        UInt8(ascii: "\t"):
        out.append(c)
    case UInt8(ascii: "x"):
        guard i + 4 <= n, let h = hexValue(b[i + 2]), let l = hexValue(b[i + 3])
        else { throw bad(4) }
        let v = h << 4 | l
        if v == 0 { throw bad(4) }
        out.append(UInt8(v))
        return i + 4
    case UInt8(ascii: "u"), UInt8(ascii: "U"):
        let digits = c == UInt8(ascii: "u") ? 4 : 8
        guard i + 2 + digits <= n else { throw bad(2 + digits) }
        var v: UInt32 = 0
        for k in 0..<digits {
            guard let d = hexValue(b[i + 2 + k]) else { throw bad(2 + digits) }
            v = v << 4 | d
        }
        guard v != 0, let scalar = Unicode.Scalar(v) else { throw bad(2 + digits) }
        out.append(contentsOf: Array(String(Character(scalar)).utf8))
        return i + 2 + digits
    case UInt8(ascii: "0")...UInt8(ascii: "7"):
        guard i + 4 <= n else { throw bad(4) }
        var v: UInt32 = 0
        for k in 1...3 {
            let d = b[i + k]
            guard d >= UInt8(ascii: "0") && d <= UInt8(ascii: "7") else { throw bad(4) }
            v = v << 3 | UInt32(d - UInt8(ascii: "0"))
        }
        guard v != 0, v <= 0xFF else { throw bad(4) }
        out.append(UInt8(v))
        return i + 4
    default:
        throw bad(2)
    }
    return i + 2
}
