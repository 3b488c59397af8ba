import Glibc
import TendModel

/// `RuntimeDirectory=`, `StateDirectory=`, `CacheDirectory=`, `LogsDirectory=`, `ConfigurationDirectory=`
/// (systemd.exec(5)): created before each command with their mode and owned by `User=`/`Group=`, listed in
/// `$RUNTIME_DIRECTORY` etc.; the runtime ones removed when the service stops (unless preserved).
public enum ExecDirectories {
    /// `RUNTIME_DIRECTORY=/run/php:/run/php/sessions`, ... for the kinds the unit uses.
    public static func environment(_ s: SandboxConfig) -> [(String, String)] {
        ExecDirectoryKind.allCases.compactMap { kind in
            guard let dirs = s.directories[kind], !dirs.isEmpty else { return nil }
            return (kind.environmentName, dirs.joined(separator: ":"))
        }
    }

    /// Creates every directory (parents 0755, owned by the manager), sets its mode and, when `owner` is given
    /// and differs, hands it and everything below it to the owner (as systemd does when the owner changed).
    /// Returns nil, or (the kind's exit status, errno, message) for the child to fail with.
    public static func setUp(_ s: SandboxConfig, owner: (uid: uid_t, gid: gid_t)?) -> (Int32, Int32, String)? {
        for kind in ExecDirectoryKind.allCases {
            for dir in s.directories[kind] ?? [] {
                if let (err, what) = makeOne(dir, mode: s.mode(kind), owner: owner) {
                    return (kind.exitStatus, err, "Failed to set up \(kind.rawValue)= \(dir): \(what): \(Posix.errorText(err))")
                }
            }
        }
        return nil
    }

    private static func makeOne(_ dir: String, mode: UInt32, owner: (uid: uid_t, gid: gid_t)?) -> (Int32, String)? {
        let parent = dir[..<(dir.lastIndex(of: "/") ?? dir.startIndex)]
        if !parent.isEmpty {
            do { try Posix.mkdirs(String(parent), mode: 0o755) } catch {
                return (errno == 0 ? EIO : errno, "creating \(parent)")
            }
        }
        if mkdir(dir, mode_t(mode)) != 0 && errno != EEXIST { return (errno, "mkdir") }
        var st = stat()
        guard lstat(dir, &st) == 0 else { return (errno, "lstat") }
        guard st.st_mode & S_IFMT == S_IFDIR else { return (ENOTDIR, "not a directory (or a symbolic link)") }
        if let owner, st.st_uid != owner.uid || st.st_gid != owner.gid {
            if let err = chownTree(dir, owner) { return (err, "chown") }
        }
        if st.st_mode & 0o7777 != mode_t(mode) && chmod(dir, mode_t(mode)) != 0 { return (errno, "chmod") }
        return nil
    }

    /// lchown of `path` and everything below it. Walked through descriptors opened with O_NOFOLLOW, so a
    /// directory swapped for a symbolic link meanwhile (by the service's user) is never followed.
    private static func chownTree(_ path: String, _ owner: (uid: uid_t, gid: gid_t)) -> Int32? {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return errno }
        defer { Glibc.close(fd) }
        if fchown(fd, owner.uid, owner.gid) != 0 { return errno }
        return chownBelow(fd, owner, depth: 0)
    }

    private static func chownBelow(_ dir: Int32, _ owner: (uid: uid_t, gid: gid_t), depth: Int) -> Int32? {
        guard depth < 256 else { return ELOOP }
        for name in entries(dir) {
            var st = stat()
            guard fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            if fchownat(dir, name, owner.uid, owner.gid, AT_SYMLINK_NOFOLLOW) != 0 { return errno }
            if st.st_mode & S_IFMT == S_IFDIR {
                let sub = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard sub >= 0 else { return errno }
                defer { Glibc.close(sub) }
                if let err = chownBelow(sub, owner, depth: depth + 1) { return err }
            }
        }
        return nil
    }

    /// The names in the directory `fd` (which stays open), without `.` and `..`.
    static func entries(_ fd: Int32) -> [String] {
        let copy = dup(fd)
        guard copy >= 0, let d = fdopendir(copy) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafePointer(to: e.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Removes `path` and everything below it (rm -rf; quiet when it is not there). Walked through descriptors
    /// with O_NOFOLLOW and unlinkat: a symbolic link is removed, never followed, even one put in place of a
    /// directory while the walk runs.
    public static func removeTree(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if st.st_mode & S_IFMT == S_IFDIR {
            let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if fd >= 0 {
                removeBelow(fd, depth: 0)
                Glibc.close(fd)
            }
            _ = rmdir(path)
        } else {
            _ = unlink(path)
        }
    }

    private static func removeBelow(_ dir: Int32, depth: Int) {
        guard depth < 256 else { return }
        for name in entries(dir) {
            if unlinkat(dir, name, 0) == 0 { continue }
            let sub = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard sub >= 0 else { continue }
            removeBelow(sub, depth: depth + 1)
            Glibc.close(sub)
            _ = unlinkat(dir, name, AT_REMOVEDIR)
        }
    }

    /// What stays and goes when a service stops (`restarting`: an automatic restart follows): the runtime
    /// directories unless `RuntimeDirectoryPreserve=` keeps them.
    public static func removeAfterStop(_ s: SandboxConfig, restarting: Bool) {
        switch s.runtimeDirectoryPreserve {
        case .yes: return
        case .restart where restarting: return
        default: break
        }
        for dir in s.directories[.runtime] ?? [] { removeTree(dir) }
    }
}
