/// `EnvironmentFile=` syntax (systemd.exec(5)): one `KEY=VALUE` assignment per line.
///
/// - Empty lines and lines starting with `#` or `;` are ignored.
/// - Whitespace around the key and around an unquoted value is removed; an `export ` before the key is
///   accepted (and not needed).
/// - A value may be quoted with `"…"` (where `\"`, `\\`, `` \` `` and `\$` are escapes and a backslash-newline
///   joins lines) or `'…'` (taken literally, newlines included).
/// - Outside quotes, a backslash escapes the next character, and a backslash at the end of a line continues the
///   value on the next line.
/// - Lines without `=`, or with an invalid variable name, are skipped.
public func parseEnvironmentFile(_ text: String) -> [(key: String, value: String)] {
    let b = Array(text.utf8)
    let n = b.count
    var result: [(key: String, value: String)] = []
    var i = 0
    func skipToEndOfLine() {
        while i < n && b[i] != 0x0A { i += 1 }
        if i < n { i += 1 }
    }
    while i < n {
        // Leading whitespace, then a comment or an empty line.
        while i < n && isSpaceByte(b[i]) { i += 1 }
        if i >= n { break }
        if b[i] == UInt8(ascii: "#") || b[i] == UInt8(ascii: ";") {
            skipToEndOfLine()
            continue
        }
        // The key runs up to '=' or the end of the line.
        let keyStart = i
        while i < n && b[i] != UInt8(ascii: "=") && b[i] != 0x0A { i += 1 }
        if i >= n || b[i] == 0x0A {
            skipToEndOfLine()
            continue
        }
        var key = decodeUTF8(b[trimmedRange(b, keyStart, i)])
        if key.hasPrefix("export ") || key.hasPrefix("export\t") { key = String(key.dropFirst(7)).trimmedWhitespace }
        i += 1  // '='
        // The value.
        while i < n && (b[i] == 0x20 || b[i] == 0x09) { i += 1 }
        var value: [UInt8] = []
        var lastNonSpace = 0  // length of `value` up to its last character that must be kept
        var quote: UInt8 = 0
        while i < n {
            let c = b[i]
            if quote == UInt8(ascii: "'") {
                if c == quote { quote = 0 } else { value.append(c) }
                lastNonSpace = value.count
                i += 1
                continue
            }
            if quote == UInt8(ascii: "\"") {
                if c == quote {
                    quote = 0
                    lastNonSpace = value.count
                    i += 1
                    continue
                }
                if c == UInt8(ascii: "\\"), i + 1 < n {
                    let d = b[i + 1]
                    if d == 0x0A {
                        i += 2
                        continue
                    }
                    if d == UInt8(ascii: "\"") || d == UInt8(ascii: "\\") || d == UInt8(ascii: "`")
                        || d == UInt8(ascii: "$")
                    {
                        value.append(d)
                    } else {
                        value.append(c)
                        value.append(d)
                    }
                    lastNonSpace = value.count
                    i += 2
                    continue
                }
                value.append(c)
                lastNonSpace = value.count
                i += 1
                continue
            }
            if c == 0x0A { break }
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
                quote = c
                i += 1
                continue
            }
            if c == UInt8(ascii: "\\") {
                if i + 1 < n {
                    let d = b[i + 1]
                    if d == 0x0A {
                        i += 2
                        continue
                    }
                    value.append(d)
                    lastNonSpace = value.count
                    i += 2
                    continue
                }
                i += 1
                continue
            }
            value.append(c)
            if !isSpaceByte(c) { lastNonSpace = value.count }
            i += 1
        }
        if i < n { i += 1 }  // the newline
        value.removeLast(value.count - lastNonSpace)
        if isValidEnvironmentName(key) {
            result.append((key: key, value: decodeUTF8(value)))
        }
    }
    return result
}
