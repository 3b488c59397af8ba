import Glibc
import TendModel
import TendSystem

/// `Condition*=` and `Assert*=` (systemd.unit(5), "Conditions and Asserts"), checked right before a start job
/// runs. A failed condition skips the unit (the job succeeds, the unit stays inactive, dependants proceed); a
/// failed assert fails the job. `!` negates a check; `|` makes it a triggering one: with any triggering checks
/// present, at least one of them must hold (and all the others).
public struct ConditionOutcome: Sendable, Equatable {
    /// Whether the `Condition*=` checks hold.
    public var conditionsMet = true
    /// Whether the `Assert*=` checks hold.
    public var assertsMet = true
    /// The first check that did not hold, as written (`ConditionPathExists=/etc/foo`).
    public var failed: String?
}

public enum Conditions {
    /// The checks tend evaluates; others are accepted and taken as holding (logged by the manager).
    public static let supported: Set<String> = [
        "PathExists", "PathIsDirectory", "FileNotEmpty", "Environment", "User", "PathIsSymbolicLink",
        "DirectoryNotEmpty", "FileIsExecutable", "PathExistsGlob", "Group", "PathIsReadWrite",
    ]

    /// Evaluates `checks` (the unit's raw `(directive, value)` pairs).
    public static func evaluate(
        _ checks: [(directive: String, value: String)], environment: [String: String], uid: uid_t = getuid(),
        gid: gid_t = getgid()
    ) -> ConditionOutcome {
        var outcome = ConditionOutcome()
        for prefix in ["Condition", "Assert"] {
            var list: [(name: String, value: String, raw: String)] = []
            for c in checks where c.directive.hasPrefix(prefix) {
                let name = String(c.directive.dropFirst(prefix.count))
                if c.value.isEmpty {
                    list.removeAll { $0.name == name }  // an empty assignment resets the list
                } else {
                    list.append((name, c.value, "\(c.directive)=\(c.value)"))
                }
            }
            var anyTrigger = false
            var triggerHeld = false
            var firstTriggerFailure: String?
            for item in list {
                var value = Substring(item.value)
                var trigger = false
                var negate = false
                if value.hasPrefix("|") {
                    trigger = true
                    value = value.dropFirst()
                }
                if value.hasPrefix("!") {
                    negate = true
                    value = value.dropFirst()
                }
                let held = check(item.name, String(value), environment: environment, uid: uid, gid: gid) != negate
                if trigger {
                    anyTrigger = true
                    if held { triggerHeld = true } else if firstTriggerFailure == nil { firstTriggerFailure = item.raw }
                } else if !held {
                    record(prefix, item.raw, &outcome)
                }
            }
            if anyTrigger && !triggerHeld { record(prefix, firstTriggerFailure ?? prefix, &outcome) }
        }
        return outcome
    }

    private static func record(_ prefix: String, _ raw: String, _ o: inout ConditionOutcome) {
        if prefix == "Condition" { o.conditionsMet = false } else { o.assertsMet = false }
        if o.failed == nil { o.failed = raw }
    }

    /// One check, without `!`/`|`. Unknown checks hold.
    static func check(_ name: String, _ value: String, environment: [String: String], uid: uid_t, gid: gid_t) -> Bool {
        var st = stat()
        switch name {
        case "PathExists":
            return access(value, F_OK) == 0
        case "PathIsDirectory":
            return stat(value, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
        case "PathIsSymbolicLink":
            return lstat(value, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK
        case "FileNotEmpty":
            return stat(value, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG && st.st_size > 0
        case "FileIsExecutable":
            return stat(value, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG && (st.st_mode & 0o111) != 0
        case "DirectoryNotEmpty":
            guard stat(value, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { return false }
            return listDirectory(value).contains { !$0.hasPrefix(".") }
        case "PathIsReadWrite":
            return access(value, W_OK) == 0
        case "PathExistsGlob":
            var g = glob_t()
            defer { globfree(&g) }
            return glob(value, 0, nil, &g) == 0 && g.gl_pathc > 0
        case "Environment":
            if let eq = value.firstIndex(of: "=") {
                return environment[String(value[..<eq])] == String(value[value.index(after: eq)...])
            }
            return environment[value] != nil
        case "User":
            if value == "@system" { return uid < 1000 }
            if let n = UInt32(value) { return n == uid }
            guard let pw = getpwnam(value) else { return false }
            return pw.pointee.pw_uid == uid
        case "Group":
            if let n = UInt32(value) { return n == gid }
            guard let gr = getgrnam(value) else { return false }
            return gr.pointee.gr_gid == gid
        default:
            return true
        }
    }
}
