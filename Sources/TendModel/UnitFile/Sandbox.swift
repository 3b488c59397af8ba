/// The execution directories and the sandboxing of systemd.exec(5) a service asks for, typed, and the pure
/// rule for what of it a given environment can apply (`SandboxPlan`). The spawner (TendSystem) carries it out.

/// `RuntimeDirectory=`, `StateDirectory=`, `CacheDirectory=`, `LogsDirectory=`, `ConfigurationDirectory=`.
public enum ExecDirectoryKind: String, Sendable, CaseIterable {
    case runtime = "RuntimeDirectory"
    case state = "StateDirectory"
    case cache = "CacheDirectory"
    case logs = "LogsDirectory"
    case configuration = "ConfigurationDirectory"

    /// The variable that lists the directories (`$RUNTIME_DIRECTORY`), colon-separated.
    public var environmentName: String {
        switch self {
        case .runtime: return "RUNTIME_DIRECTORY"
        case .state: return "STATE_DIRECTORY"
        case .cache: return "CACHE_DIRECTORY"
        case .logs: return "LOGS_DIRECTORY"
        case .configuration: return "CONFIGURATION_DIRECTORY"
        }
    }

    /// The exit status of a child whose directory could not be set up (systemd's EXIT_RUNTIME_DIRECTORY, ...).
    public var exitStatus: Int32 {
        switch self {
        case .runtime: return 233
        case .state: return 238
        case .cache: return 239
        case .logs: return 240
        case .configuration: return 241
        }
    }

    /// Where the relative names go: `%t`, `%S`, `%C`, `%L`, `%E` (`/run`, `/var/lib`, ... for root; the XDG
    /// places `systemd --user` uses otherwise).
    public func base(_ c: SpecifierContext) -> String {
        switch self {
        case .runtime: return c.runtimeDir
        case .state: return c.stateDir
        case .cache: return c.cacheDir
        case .logs: return c.logsDir
        case .configuration: return c.configDir
        }
    }
}

/// `RuntimeDirectoryPreserve=`.
public enum RuntimeDirectoryPreserve: String, Sendable, CaseIterable {
    case no, yes, restart
}

/// `ProtectSystem=`.
public enum ProtectSystem: String, Sendable, CaseIterable {
    case no, yes, full, strict
}

/// `ProtectHome=`.
public enum ProtectHome: String, Sendable, CaseIterable {
    case no, yes
    case readOnly = "read-only"
    case tmpfs
}

/// One path of `ReadWritePaths=`, `ReadOnlyPaths=` or `InaccessiblePaths=`: `-` ignores a missing path.
public struct SandboxPath: Hashable, Sendable {
    public var path: String
    public var ignoreMissing: Bool
    public init(path: String, ignoreMissing: Bool) {
        self.path = path
        self.ignoreMissing = ignoreMissing
    }
}

/// The namespace types of `RestrictNamespaces=`, with their clone(2) flags.
public enum NamespaceType: String, Sendable, CaseIterable {
    case cgroup, ipc, net, mnt, pid, user, uts
    public var cloneFlag: UInt64 {
        switch self {
        case .cgroup: return 0x0200_0000
        case .ipc: return 0x0800_0000
        case .net: return 0x4000_0000
        case .mnt: return 0x0002_0000
        case .pid: return 0x2000_0000
        case .user: return 0x1000_0000
        case .uts: return 0x0400_0000
        }
    }
}

/// The Linux capabilities by name (capabilities(7)), bit = index.
public enum Capabilities {
    public static let names = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
        "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO",
        "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
        "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ]
    public static let all: UInt64 = (1 << UInt64(names.count)) - 1
    public static func bit(named name: String) -> Int? { names.firstIndex(of: name.uppercased()) }
    /// `CAP_A CAP_B` for a mask, in bit order.
    public static func describe(_ mask: UInt64) -> String {
        names.indices.filter { mask & (1 << UInt64($0)) != 0 }.map { names[$0] }.joined(separator: " ")
    }
}

/// What a service's processes get besides credentials and limits: its directories and its sandbox.
public struct SandboxConfig: Sendable, Equatable {
    /// The directories, absolute (the base of the kind + the relative name as written), in order.
    public var directories: [ExecDirectoryKind: [String]] = [:]
    /// `*DirectoryMode=`: nil means 0755.
    public var directoryModes: [ExecDirectoryKind: UInt32] = [:]
    public var runtimeDirectoryPreserve: RuntimeDirectoryPreserve = .no
    /// `OOMScoreAdjust=` (-1000…1000).
    public var oomScoreAdjust: Int?
    public var noNewPrivileges = false
    public var privateTmp = false
    public var protectSystem: ProtectSystem = .no
    public var protectHome: ProtectHome = .no
    public var readWritePaths: [SandboxPath] = []
    public var readOnlyPaths: [SandboxPath] = []
    public var inaccessiblePaths: [SandboxPath] = []
    public var privateDevices = false
    public var privateNetwork = false
    /// `CapabilityBoundingSet=`: nil leaves the bounding set alone.
    public var capabilityBoundingSet: UInt64?
    /// `AmbientCapabilities=`: 0 is none.
    public var ambientCapabilities: UInt64 = 0
    /// `RestrictNamespaces=`: the namespace types that may still be created; nil means no restriction.
    public var allowedNamespaces: Set<NamespaceType>?
    /// `MemoryMax=`, `TasksMax=`, ... (systemd.resource-control(5)): through the unit's cgroup.
    public var resources = ResourceControl()

    public init() {}

    public func mode(_ kind: ExecDirectoryKind) -> UInt32 { directoryModes[kind] ?? 0o755 }

    /// Whether the service needs a mount namespace of its own.
    public var needsMountNamespace: Bool {
        privateTmp || protectSystem != .no || protectHome != .no || !readWritePaths.isEmpty
            || !readOnlyPaths.isEmpty || !inaccessiblePaths.isEmpty || privateDevices
    }

    /// Whether anything of the sandbox is asked for (not the directories).
    public var isEmpty: Bool {
        !needsMountNamespace && !privateNetwork && oomScoreAdjust == nil && !noNewPrivileges
            && capabilityBoundingSet == nil && ambientCapabilities == 0 && allowedNamespaces == nil
    }
}

/// What the manager's environment lets it do for a service, found out once at start-up (TendSystem probes it).
public struct SandboxEnvironment: Sendable, Equatable {
    public var isRoot: Bool
    /// unshare(CLONE_NEWNS) and mounts in it work (root with CAP_SYS_ADMIN, no seccomp or LSM refusing it).
    public var mountNamespaces: Bool
    public var networkNamespaces: Bool
    /// CAP_SETPCAP: the bounding set can be lowered.
    public var canDropBoundingSet: Bool
    /// CAP_SYS_RESOURCE: oom_score_adj may be lowered.
    public var canLowerOOMScore: Bool
    /// The capabilities the manager itself has (CapEff), which is the most ambient capabilities can give.
    public var managerCapabilities: UInt64
    /// A seccomp filter can be installed (for RestrictNamespaces=).
    public var seccomp: Bool
    /// Why mount namespaces are missing, when they are (`unshare(CLONE_NEWNS): Operation not permitted`).
    public var mountNamespaceProblem: String?

    public init(isRoot: Bool, mountNamespaces: Bool, networkNamespaces: Bool, canDropBoundingSet: Bool,
                canLowerOOMScore: Bool, managerCapabilities: UInt64, seccomp: Bool, mountNamespaceProblem: String? = nil) {
        self.isRoot = isRoot
        self.mountNamespaces = mountNamespaces
        self.networkNamespaces = networkNamespaces
        self.canDropBoundingSet = canDropBoundingSet
        self.canLowerOOMScore = canLowerOOMScore
        self.managerCapabilities = managerCapabilities
        self.seccomp = seccomp
        self.mountNamespaceProblem = mountNamespaceProblem
    }

    /// Lines for `tend verify --environment`.
    public var summary: [String] {
        func yes(_ b: Bool) -> String { b ? "yes" : "no" }
        return [
            "root: \(yes(isRoot))",
            "mount namespaces (PrivateTmp=, ProtectSystem=, ProtectHome=, *Paths=, PrivateDevices=): "
                + (mountNamespaces ? "yes" : "no" + (mountNamespaceProblem.map { " (\($0))" } ?? "")),
            "network namespaces (PrivateNetwork=): \(yes(networkNamespaces))",
            "capability bounding set (CapabilityBoundingSet=): \(yes(canDropBoundingSet))",
            "ambient capabilities (AmbientCapabilities=): "
                + (managerCapabilities == 0 ? "none" : managerCapabilities == Capabilities.all ? "all" : Capabilities.describe(managerCapabilities)),
            "lower oom_score_adj (negative OOMScoreAdjust=): \(yes(canLowerOOMScore))",
            "no_new_privs (NoNewPrivileges=): yes",
            "seccomp (RestrictNamespaces=): \(yes(seccomp))",
        ]
    }
}

/// What of a unit's sandbox is applied in an environment, and exactly what is not.
public struct SandboxPlan: Sendable, Equatable {
    /// Set up a mount namespace (and everything in it).
    public var mountNamespace: Bool
    public var networkNamespace: Bool
    public var dropBoundingSet: Bool
    public var ambient: UInt64
    public var oomScoreAdjust: Int?
    public var restrictNamespaces: Bool
    /// One line per setting that is not applied, with the reason: `PrivateTmp=yes: not applied (...)`.
    public var notApplied: [String]

    public init(_ c: SandboxConfig, _ env: SandboxEnvironment) {
        var missing: [String] = []
        mountNamespace = c.needsMountNamespace && env.mountNamespaces
        if c.needsMountNamespace && !env.mountNamespaces {
            let why = !env.isRoot ? "the manager is not root" : (env.mountNamespaceProblem ?? "no mount namespaces here")
            var asked: [String] = []
            if c.privateTmp { asked.append("PrivateTmp=yes") }
            if c.protectSystem != .no { asked.append("ProtectSystem=\(c.protectSystem.rawValue)") }
            if c.protectHome != .no { asked.append("ProtectHome=\(c.protectHome.rawValue)") }
            if !c.readWritePaths.isEmpty { asked.append("ReadWritePaths=") }
            if !c.readOnlyPaths.isEmpty { asked.append("ReadOnlyPaths=") }
            if !c.inaccessiblePaths.isEmpty { asked.append("InaccessiblePaths=") }
            if c.privateDevices { asked.append("PrivateDevices=yes") }
            for a in asked { missing.append("\(a): not applied (\(why))") }
        }
        networkNamespace = c.privateNetwork && env.networkNamespaces
        if c.privateNetwork && !env.networkNamespaces {
            missing.append("PrivateNetwork=yes: not applied (\(env.isRoot ? "no network namespaces here" : "the manager is not root"))")
        }
        dropBoundingSet = c.capabilityBoundingSet != nil && env.canDropBoundingSet
        if let b = c.capabilityBoundingSet, !env.canDropBoundingSet {
            missing.append("CapabilityBoundingSet=\(Capabilities.describe(b)): not applied (the manager lacks CAP_SETPCAP)")
        }
        ambient = c.ambientCapabilities & env.managerCapabilities
        let lost = c.ambientCapabilities & ~env.managerCapabilities
        if lost != 0 {
            missing.append("AmbientCapabilities=\(Capabilities.describe(lost)): not applied (the manager does not have them)")
        }
        oomScoreAdjust = c.oomScoreAdjust
        if let o = c.oomScoreAdjust, o < 0, !env.canLowerOOMScore {
            // The kernel refuses a lower value without CAP_SYS_RESOURCE; the child then keeps the manager's.
            missing.append("OOMScoreAdjust=\(o): not applied (lowering it needs CAP_SYS_RESOURCE)")
            oomScoreAdjust = nil
        }
        restrictNamespaces = c.allowedNamespaces != nil && env.seccomp
        if c.allowedNamespaces != nil && !env.seccomp {
            missing.append("RestrictNamespaces=: not applied (no seccomp filter can be installed here)")
        }
        notApplied = missing
    }
}
