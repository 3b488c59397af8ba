/// The pure rules behind `tend exec`, the one-binary stand-in for the chain-loading tools of daemontools and
/// runit (`chpst`, `setuidgid`, `envdir`, `softlimit`, `setlock`, `pgrphack`): how an envdir file becomes a
/// variable, how a limit, a nice increment, a umask and a `user:group` argument are read. The CLI applies them.
public enum ChainLoading {
    /// envdir's rule for one file: nil when the file is empty (0 bytes: the variable is removed), else its first
    /// line with trailing spaces and tabs removed and each NUL turned into a newline.
    public static func envDirValue(_ content: [UInt8]) -> [UInt8]? {
        if content.isEmpty { return nil }
        var line = Array(content.prefix { $0 != UInt8(ascii: "\n") })
        while let last = line.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { line.removeLast() }
        return line.map { $0 == 0 ? UInt8(ascii: "\n") : $0 }
    }

    /// Whether an envdir file name can be a variable: envdir skips names starting with a dot; a name holding
    /// `=` cannot name a variable (chpst: "the name k must not contain =").
    public enum EnvDirName: Equatable {
        case variable, skipped, invalid
    }

    public static func envDirName(_ name: String) -> EnvDirName {
        if name.hasPrefix(".") { return .skipped }
        return name.contains("=") ? .invalid : .variable
    }

    /// A decimal number without sign, overflow-checked.
    public static func unsigned(_ s: Substring) -> UInt64? {
        guard !s.isEmpty else { return nil }
        var v: UInt64 = 0
        for c in s.utf8 {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(c - UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            v = a
        }
        return v
    }

    /// A soft limit as softlimit and chpst take it: a number of bytes, files, processes or seconds, with an
    /// optional binary suffix K, M, G or T (tend's addition); `=` (softlimit's spelling), `unlimited` or
    /// `infinity` ask for the hard limit. A value above the hard limit is lowered to it when applied.
    public enum Limit: Equatable, Sendable {
        case value(UInt64)
        case hard
    }

    public static func limit(_ s: String) -> Limit? {
        if s == "=" || s == "unlimited" || s == "infinity" { return .hard }
        var digits = Substring(s)
        var factor: UInt64 = 1
        if let last = digits.last, let shift = ["K": 10, "M": 20, "G": 30, "T": 40][String(last).uppercased()] {
            factor = 1 << UInt64(shift)
            digits = digits.dropLast()
        }
        guard let n = unsigned(digits) else { return nil }
        let (v, overflow) = n.multipliedReportingOverflow(by: factor)
        return overflow ? nil : .value(v)
    }

    /// chpst's `-n inc`: an integer that may start with a minus or a plus, added to the niceness. The kernel
    /// clamps the result to -20...19, so anything beyond ±40 is refused as a typo.
    public static func niceIncrement(_ s: String) -> Int32? {
        var body = Substring(s)
        var negative = false
        if body.first == "-" || body.first == "+" {
            negative = body.first == "-"
            body = body.dropFirst()
        }
        guard let n = unsigned(body), n <= 40 else { return nil }
        return negative ? -Int32(n) : Int32(n)
    }

    /// An octal file mode creation mask, 0 to 0777 (`022`, `0027`).
    public static func umask(_ s: String) -> UInt32? {
        guard !s.isEmpty, s.utf8.count <= 4 else { return nil }
        var v: UInt32 = 0
        for c in s.utf8 {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "7") else { return nil }
            v = v * 8 + UInt32(c - UInt8(ascii: "0"))
        }
        return v <= 0o777 ? v : nil
    }

    /// chpst's `-u [:]user[:group[:group...]]`: names to look up, or, with a leading colon, numeric ids that
    /// are not looked up (the first gid is the primary group, all of them are the groups).
    public enum Account: Equatable, Sendable {
        case names(user: String, groups: [String])
        case ids(uid: UInt32, gids: [UInt32])
    }

    /// The account, or nil when it cannot be one (an empty name, a numeric form that is not numbers or has no
    /// gid).
    public static func account(_ s: String) -> Account? {
        if s.hasPrefix(":") {
            let parts = s.dropFirst().split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count >= 2 else { return nil }
            var ids: [UInt32] = []
            for p in parts {
                guard let n = unsigned(p), n <= UInt64(UInt32.max - 1) else { return nil }  // -1 is no id
                ids.append(UInt32(n))
            }
            return .ids(uid: ids[0], gids: Array(ids.dropFirst()))
        }
        let parts = s.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard !parts.contains(where: \.isEmpty) else { return nil }
        return .names(user: parts[0], groups: Array(parts.dropFirst()))
    }
}
