import CTend
import Glibc
import TendModel

/// What this manager may do for a service's sandbox, found out once (a short-lived child tries
/// unshare(2)): the same answer serves every spawn, `tend status`/`show` and `tend verify --environment`.
public enum SandboxProbe {
    public static let current: SandboxEnvironment = probe()

    static func probe() -> SandboxEnvironment {
        let caps = capabilities()
        let root = getuid() == 0
        var problem: String?
        var mountNS = false
        if root || caps & (1 << 21) != 0 {
            let err = ctend_probe_unshare(Int32(NamespaceType.mnt.cloneFlag))
            mountNS = err == 0
            if err != 0 { problem = "unshare(CLONE_NEWNS): \(Posix.errorText(err))" }
        }
        let netNS = (root || caps & (1 << 21) != 0) && ctend_probe_unshare(Int32(NamespaceType.net.cloneFlag)) == 0
        var seccomp = false
        #if arch(x86_64) || arch(arm64)
        if let status = Posix.readFile("/proc/self/status", limit: 1 << 16) {
            seccomp = String(decoding: status, as: UTF8.self).contains("\nSeccomp:")
        }
        #endif
        return SandboxEnvironment(isRoot: root, mountNamespaces: mountNS, networkNamespaces: netNS,
                                  canDropBoundingSet: caps & (1 << 8) != 0, canLowerOOMScore: caps & (1 << 24) != 0,
                                  managerCapabilities: caps & Capabilities.all, seccomp: seccomp,
                                  mountNamespaceProblem: root || caps & (1 << 21) != 0 ? problem : "the manager is not root")
    }

    /// The effective capabilities of this process (/proc/self/status CapEff).
    static func capabilities() -> UInt64 {
        guard let bytes = Posix.readFile("/proc/self/status", limit: 1 << 16) else { return 0 }
        for line in bytes.split(separator: 10) where line.starts(with: Array("CapEff:".utf8)) {
            let hex = String(decoding: line.dropFirst(7), as: UTF8.self).filter { $0.isHexDigit }
            return UInt64(hex, radix: 16) ?? 0
        }
        return 0
    }
}

/// The C description of one command's sandbox, alive as long as this object.
final class SandboxBuild {
    let pointer: UnsafeMutablePointer<ctend_sandbox>
    let operations: [MountOperation]
    private var strings: [UnsafeMutablePointer<CChar>] = []
    private var mounts: UnsafeMutablePointer<ctend_mount>?
    private var procs: UnsafeMutablePointer<UnsafePointer<CChar>?>?
    let failedMount: UnsafeMutablePointer<Int32>

    init(_ s: ctend_sandbox, operations: [MountOperation], cgroupProcs: [String] = []) {
        pointer = .allocate(capacity: 1)
        pointer.initialize(to: s)
        failedMount = .allocate(capacity: 1)
        failedMount.initialize(to: -1)
        self.operations = operations
        if !operations.isEmpty {
            let m = UnsafeMutablePointer<ctend_mount>.allocate(capacity: operations.count)
            for (i, op) in operations.enumerated() {
                func keep(_ s: String) -> UnsafePointer<CChar> {
                    let p = strdup(s)!
                    strings.append(p)
                    return UnsafePointer(p)
                }
                let code: ctend_mount_op
                var source: String?
                switch op {
                case .bind(let src, _):
                    code = CTEND_MOUNT_BIND
                    source = src
                case .readOnly: code = CTEND_MOUNT_READ_ONLY
                case .readWrite: code = CTEND_MOUNT_READ_WRITE
                case .tmpfs(_, let options):
                    code = CTEND_MOUNT_TMPFS
                    source = options
                case .inaccessible(_, let src):
                    code = CTEND_MOUNT_INACCESSIBLE
                    source = src
                case .privateDevices: code = CTEND_MOUNT_PRIVATE_DEV
                }
                let cm = ctend_mount(op: Int32(code.rawValue), path: keep(op.path), source: source.map(keep))
                (m + i).initialize(to: cm)
            }
            mounts = m
            pointer.pointee.mounts = UnsafePointer(m)
            pointer.pointee.mount_count = Int32(operations.count)
        }
        pointer.pointee.failed_mount = failedMount
        if !cgroupProcs.isEmpty {
            let p = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: cgroupProcs.count)
            for (i, path) in cgroupProcs.enumerated() {
                let c = strdup(path)!
                strings.append(c)
                (p + i).initialize(to: UnsafePointer(c))
            }
            procs = p
            pointer.pointee.cgroup_procs = UnsafePointer(p)
            pointer.pointee.cgroup_proc_count = Int32(cgroupProcs.count)
        }
    }

    deinit {
        for s in strings { free(s) }
        mounts?.deallocate()
        procs?.deallocate()
        pointer.deallocate()
        failedMount.deallocate()
    }

    /// The message for a child that failed at step NAMESPACE.
    func namespaceFailure(_ err: Int32) -> String {
        let i = Int(failedMount.pointee)
        let what = i >= 0 && i < operations.count ? operations[i].description : "unshare(CLONE_NEWNS)"
        return "Failed to set up mount namespacing: \(what): \(Posix.errorText(err))"
    }
}

enum SandboxSetup {
    static let mknodAndRawIO: UInt64 = (1 << 27) | (1 << 17)

    /// The sandbox of one command, or nil when the unit asks for none; a failure is (stage, errno, message).
    static func build(_ r: SpawnRequest, env: SandboxEnvironment = SandboxProbe.current, cgroupProcs: [String] = [])
        -> Result<SandboxBuild?, SpawnFailure>
    {
        let c = r.config.sandbox
        // `+`: the command runs outside the sandbox (systemd.service(5), "full privileges"), in the cgroup still.
        if c.isEmpty || r.command.fullPrivileges {
            return .success(cgroupProcs.isEmpty ? nil : SandboxBuild(ctend_sandbox(), operations: [], cgroupProcs: cgroupProcs))
        }
        let plan = SandboxPlan(c, env)
        var s = ctend_sandbox()
        if let o = plan.oomScoreAdjust {
            s.set_oom_score_adj = 1
            s.oom_score_adj = Int32(o)
        }
        s.no_new_privs = c.noNewPrivileges ? 1 : 0
        var operations: [MountOperation] = []
        if plan.mountNamespace {
            guard let dir = r.privateDirectory else {
                return .failure(SpawnFailure(stage: 226, errno: EINVAL, message: "No private directory for the mount namespace"))
            }
            switch prepareMounts(c, privateDirectory: dir) {
            case .success(let ops): operations = ops
            case .failure(let f): return .failure(f)
            }
            s.mount_ns = 1
        }
        s.net_ns = plan.networkNamespace ? 1 : 0
        var bounding: UInt64? = plan.dropBoundingSet ? c.capabilityBoundingSet : nil
        if c.privateDevices && plan.mountNamespace && env.canDropBoundingSet {
            // As systemd: no device nodes of its own making, no raw I/O, with private devices.
            bounding = (bounding ?? Capabilities.all) & ~mknodAndRawIO
        }
        if let bounding {
            s.drop_bounding = 1
            s.bounding = bounding
        }
        s.ambient = plan.ambient
        if plan.restrictNamespaces {
            s.restrict_ns = 1
            s.allowed_ns = (c.allowedNamespaces ?? []).reduce(0) { $0 | $1.cloneFlag }
            // Installing a filter needs CAP_SYS_ADMIN or no_new_privs (systemd implies NoNewPrivileges= then too).
            if env.managerCapabilities & (1 << 21) == 0 { s.no_new_privs = 1 }
        }
        return .success(SandboxBuild(s, operations: operations, cgroupProcs: cgroupProcs))
    }

    static func prepareMounts(_ c: SandboxConfig, privateDirectory dir: String) -> Result<[MountOperation], SpawnFailure> {
        let root = String(dir[..<(dir.lastIndex(of: "/") ?? dir.endIndex)])
        let nodes = (directory: root + "/.inaccessible-dir", file: root + "/.inaccessible-file")
        do {
            try Posix.mkdirs(root, mode: 0o700)
            if c.privateTmp {
                try Posix.mkdirs(dir, mode: 0o700)
                let p = SandboxMounts.privateTmp(dir)
                for t in [p.tmp, p.varTmp] {
                    if mkdir(t, 0o1777) != 0 && errno != EEXIST { throw SpawnError(message: t, errno: errno) }
                    _ = chmod(t, 0o1777)
                }
            }
            if mkdir(nodes.directory, 0) != 0 && errno != EEXIST { throw SpawnError(message: nodes.directory, errno: errno) }
            let fd = open(nodes.file, O_WRONLY | O_CREAT | O_CLOEXEC, 0)
            if fd < 0 { throw SpawnError(message: nodes.file, errno: errno) }
            Glibc.close(fd)
        } catch {
            let e = (error as? SpawnError)?.errno ?? errno
            return .failure(SpawnFailure(stage: 226, errno: e, message: "Failed to set up the private directories in \(dir): \(Posix.errorText(e))"))
        }
        let info = String(decoding: Posix.readFile("/proc/self/mountinfo", limit: 4 << 20) ?? [], as: UTF8.self)
        let result = SandboxMounts.operations(c, mountPoints: SandboxMounts.parseMountInfo(info), privateDirectory: dir,
                                              inaccessible: (String(nodes.directory), String(nodes.file))) { path in
            var st = stat()
            guard stat(path, &st) == 0 else { return .missing }
            return st.st_mode & S_IFMT == S_IFDIR ? .directory : .other
        }
        switch result {
        case .success(let ops): return .success(ops)
        case .failure(let e): return .failure(SpawnFailure(stage: 226, errno: ENOENT, message: e.message))
        }
    }
}

/// A setup failure found before the fork, reported from the child with systemd's exit code.
struct SpawnFailure: Error {
    var stage: Int32
    var errno: Int32
    var message: String
}
