/// The mount namespace a service's sandbox asks for, as an ordered list of steps for the child
/// (`ctend_sandbox.h`): pure, so that the order and the coverage of submounts are tested without root.

/// One step of the child's mount set-up.
public enum MountOperation: Hashable, Sendable, CustomStringConvertible {
    /// `source` bound onto `target` (recursively); source == target makes the path a mount point of its own.
    case bind(source: String, target: String)
    case readOnly(String)
    case readWrite(String)
    /// A read-only tmpfs (`ProtectHome=tmpfs`).
    case tmpfs(String, options: String)
    /// An empty node of mode 0000 (`source`) bound over the path.
    case inaccessible(String, source: String)
    /// A fresh /dev with only the pseudo devices.
    case privateDevices(String)

    public var path: String {
        switch self {
        case .bind(_, let p), .readOnly(let p), .readWrite(let p), .tmpfs(let p, _), .inaccessible(let p, _),
            .privateDevices(let p):
            return p
        }
    }

    public var description: String {
        switch self {
        case .bind(let s, let t): return s == t ? "\(t) (own mount)" : "\(t) (from \(s))"
        case .readOnly(let p): return "\(p) (read-only)"
        case .readWrite(let p): return "\(p) (writable)"
        case .tmpfs(let p, _): return "\(p) (empty tmpfs)"
        case .inaccessible(let p, _): return "\(p) (inaccessible)"
        case .privateDevices(let p): return "\(p) (private devices)"
        }
    }
}

public enum SandboxMounts {
    /// What a path is on the host, as the planner needs to know it.
    public enum PathKind: Sendable { case missing, directory, other }

    /// Where a unit's private /tmp and /var/tmp live below its private directory.
    public static func privateTmp(_ privateDirectory: String) -> (tmp: String, varTmp: String) {
        (privateDirectory + "/tmp", privateDirectory + "/var-tmp")
    }

    private enum Rule { case readOnly, readWrite, inaccessible, tmpfs }

    /// The steps for `c`, given the host's mount points (as /proc/self/mountinfo lists them), the unit's
    /// private directory and the two inaccessible nodes (a directory and a file of mode 0000); or the
    /// message for a path that must exist and doesn't.
    public static func operations(
        _ c: SandboxConfig, mountPoints hostMounts: [String], privateDirectory: String,
        inaccessible: (directory: String, file: String), kind: (String) -> PathKind
    ) -> Result<[MountOperation], SandboxMountError> {
        var ops: [MountOperation] = []
        var mounts = hostMounts
        if c.privateDevices { ops.append(.privateDevices("/dev")) }

        // (path, rule, must exist), in the order that makes later ones win for equal depth.
        var rules: [(String, Rule, Bool)] = []
        switch c.protectSystem {
        case .no: break
        case .yes, .full:
            rules += [("/usr", .readOnly, true), ("/boot", .readOnly, false), ("/efi", .readOnly, false)]
            if c.protectSystem == .full { rules.append(("/etc", .readOnly, true)) }
        case .strict:
            rules.append(("/", .readOnly, true))
        }
        let homes = ["/home", "/root", "/run/user"]
        switch c.protectHome {
        case .no: break
        case .yes: rules += homes.map { ($0, .inaccessible, false) }
        case .readOnly: rules += homes.map { ($0, .readOnly, false) }
        case .tmpfs: rules += homes.map { ($0, .tmpfs, false) }
        }
        rules += c.readOnlyPaths.map { ($0.path, .readOnly, !$0.ignoreMissing) }
        rules += c.readWritePaths.map { ($0.path, .readWrite, !$0.ignoreMissing) }
        if c.protectSystem == .strict {
            // systemd.exec(5): under strict the unit's own runtime, state, cache and logs directories stay writable.
            for k in [ExecDirectoryKind.runtime, .state, .cache, .logs] {
                rules += (c.directories[k] ?? []).map { ($0, .readWrite, false) }
            }
        }
        rules += c.inaccessiblePaths.map { ($0.path, .inaccessible, !$0.ignoreMissing) }

        var kinds: [String: PathKind] = [:]
        func kindOf(_ p: String) -> PathKind {
            if let k = kinds[p] { return k }
            let k = kind(p)
            kinds[p] = k
            return k
        }
        var present: [(String, Rule)] = []
        for (path, rule, required) in rules {
            if kindOf(path) == .missing {
                if required { return .failure(SandboxMountError(path: path)) }
                continue
            }
            present.append((path, rule))
        }
        func depth(_ p: String) -> Int { p == "/" ? 0 : p.utf8.filter { $0 == UInt8(ascii: "/") }.count }
        let ordered = present.enumerated().sorted { a, b in
            let (da, db) = (depth(a.element.0), depth(b.element.0))
            return da != db ? da < db : a.offset < b.offset
        }.map(\.element)

        func isAPI(_ p: String) -> Bool {
            ["/dev", "/proc", "/sys"].contains { p == $0 || p.hasPrefix($0 + "/") }
        }
        func below(_ m: String, _ p: String) -> Bool { p == "/" || m == p || m.hasPrefix(p + "/") }
        for (path, rule) in ordered {
            switch rule {
            case .readOnly, .readWrite:
                if !mounts.contains(path) {
                    ops.append(.bind(source: path, target: path))
                    mounts.append(path)
                }
                // Every mount below the path, the API file systems excepted unless the path is in one.
                var seen: Set<String> = []
                for m in mounts where below(m, path) && (isAPI(path) || !isAPI(m)) && seen.insert(m).inserted {
                    ops.append(rule == .readOnly ? .readOnly(m) : .readWrite(m))
                }
            case .inaccessible:
                ops.append(.inaccessible(path, source: kindOf(path) == .directory ? inaccessible.directory : inaccessible.file))
                mounts.append(path)
            case .tmpfs:
                ops.append(.tmpfs(path, options: "mode=0755"))
                mounts.append(path)
            }
        }
        if c.privateTmp {
            // Last, so that no source below the host's /tmp (the manager's state directory, the inaccessible
            // nodes) is hidden before it is used; made writable again if a read-only rule covered them.
            let p = privateTmp(privateDirectory)
            var binds: [(String, String)] = [(p.varTmp, "/var/tmp"), (p.tmp, "/tmp")]
            if privateDirectory.hasPrefix("/var/tmp/") { binds.reverse() }
            let covered = ordered.contains { $0.1 == .readOnly || $0.1 == .inaccessible }
            for (source, target) in binds {
                ops.append(.bind(source: source, target: target))
                if covered { ops.append(.readWrite(target)) }
            }
        }
        return .success(ops)
    }

    /// The mount points of /proc/self/mountinfo (field 5, with its `\040`-style escapes undone), in order.
    public static func parseMountInfo(_ text: String) -> [String] {
        var out: [String] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count >= 5 else { continue }
            out.append(unescapeOctal(fields[4]))
        }
        return out
    }

    public static func unescapeOctal(_ s: Substring) -> String {
        var bytes: [UInt8] = []
        let u = Array(s.utf8)
        var i = 0
        while i < u.count {
            if u[i] == UInt8(ascii: "\\"), i + 3 < u.count {
                let digits = u[(i + 1)...(i + 3)]
                if digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x37 }) {
                    let v = digits.reduce(0) { $0 * 8 + Int($1 - 0x30) }
                    if v < 256 {
                        bytes.append(UInt8(v))
                        i += 4
                        continue
                    }
                }
            }
            bytes.append(u[i])
            i += 1
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A path the sandbox names that must exist and doesn't.
public struct SandboxMountError: Error, Equatable, Sendable {
    public var path: String
    public var message: String { "Failed to set up mount namespacing: \(path): No such file or directory" }
}
