import Testing

@testable import TendModel

/// The directives of the execution directories and the sandbox, the plan of what an environment can apply,
/// and the order of the mount steps (pure: no root needed).
@Suite struct SandboxDirectiveTests {
    @Test func directoriesGoBelowTheirBaseAndBadNamesAreErrors() {
        let (c, d) = parseService("""
            RuntimeDirectory=php php/sessions
            RuntimeDirectory=php
            StateDirectory=app
            LogsDirectory=app
            ConfigurationDirectory=app
            CacheDirectory=app
            RuntimeDirectoryMode=2755
            RuntimeDirectoryPreserve=restart
            StateDirectory=/abs
            CacheDirectory=../up
            LogsDirectory=a:b
            StateDirectoryMode=8
            """)
        #expect(c.sandbox.directories[.runtime] == ["/run/user/1000/php", "/run/user/1000/php/sessions"])
        #expect(c.sandbox.directories[.state] == ["/home/alice/.local/state/app"])
        #expect(c.sandbox.directories[.logs] == ["/home/alice/.local/state/log/app"])
        #expect(c.sandbox.directories[.configuration] == ["/home/alice/.config/app"])
        #expect(c.sandbox.directories[.cache] == ["/home/alice/.cache/app"])
        #expect(c.sandbox.mode(.runtime) == 0o2755 && c.sandbox.mode(.state) == 0o755)
        #expect(c.sandbox.runtimeDirectoryPreserve == .restart)
        #expect(texts(d) == [
            #"web.service:10: StateDirectory=: "/abs" is not a relative path without "." and "..""#,
            #"web.service:11: CacheDirectory=: "../up" is not a relative path without "." and "..""#,
            #"web.service:12: LogsDirectory=: "a:b": the NAME:SYMLINK form is not supported by tend"#,
            #"web.service:13: StateDirectoryMode=: invalid mode "8" (an octal number up to 07777)"#,
        ])
    }

    @Test func sandboxValuesAndTheirErrors() {
        let (c, d) = parseService("""
            OOMScoreAdjust=-500
            OOMScoreAdjust=99999999999999999999999
            PrivateTmp=disconnected
            ProtectSystem=true
            ProtectHome=read-only
            ProtectSystem=sometimes
            ReadOnlyPaths=-/opt +/srv relative
            CapabilityBoundingSet=CAP_NET_BIND_SERVICE
            CapabilityBoundingSet=CAP_NET_RAW
            AmbientCapabilities=CAP_NET_BIND_SERVICE CAP_NOPE
            RestrictNamespaces=~user net
            NoNewPrivileges=maybe
            """)
        #expect(c.sandbox.oomScoreAdjust == -500)
        #expect(c.sandbox.privateTmp)
        #expect(c.sandbox.protectSystem == .yes && c.sandbox.protectHome == .readOnly)
        #expect(c.sandbox.readOnlyPaths == [SandboxPath(path: "/opt", ignoreMissing: true), SandboxPath(path: "/srv", ignoreMissing: false)])
        #expect(c.sandbox.capabilityBoundingSet == (1 << 10) | (1 << 13))
        #expect(c.sandbox.ambientCapabilities == 0)
        #expect(c.sandbox.allowedNamespaces == Set(NamespaceType.allCases).subtracting([.user, .net]))
        #expect(texts(d) == [
            #"web.service:3: OOMScoreAdjust=: invalid value "99999999999999999999999" (expected -1000…1000)"#,
            #"web.service:7: ProtectSystem=: unknown value "sometimes""#,
            #"web.service:8: ReadOnlyPaths=: path "relative" is not absolute and normalized"#,
            #"web.service:11: AmbientCapabilities=: unknown capability "CAP_NOPE""#,
            #"web.service:13: NoNewPrivileges=: invalid boolean "maybe""#,
        ])
        let (empty, _) = parseService("CapabilityBoundingSet=\nRestrictNamespaces=yes\n")
        #expect(empty.sandbox.capabilityBoundingSet == 0 && empty.sandbox.allowedNamespaces == [])
        let (inverted, _) = parseService("CapabilityBoundingSet=~CAP_SYS_ADMIN\n")
        #expect(inverted.sandbox.capabilityBoundingSet == Capabilities.all & ~(1 << 21))
    }
}

@Suite struct SandboxPlanTests {
    static let none = SandboxEnvironment(isRoot: false, mountNamespaces: false, networkNamespaces: false,
                                         canDropBoundingSet: false, canLowerOOMScore: false, managerCapabilities: 0,
                                         seccomp: true, mountNamespaceProblem: "the manager is not root")
    static let root = SandboxEnvironment(isRoot: true, mountNamespaces: true, networkNamespaces: true,
                                         canDropBoundingSet: true, canLowerOOMScore: false,
                                         managerCapabilities: Capabilities.all & ~(1 << 24), seccomp: true)

    @Test func whatCantBeAppliedIsNamedWithTheReason() {
        var s = SandboxConfig()
        s.privateTmp = true
        s.protectSystem = .strict
        s.privateNetwork = true
        s.capabilityBoundingSet = 1 << 10
        s.ambientCapabilities = 1 << 10
        s.oomScoreAdjust = -100
        s.noNewPrivileges = true
        let plan = SandboxPlan(s, Self.none)
        #expect(plan.notApplied == [
            "PrivateTmp=yes: not applied (the manager is not root)",
            "ProtectSystem=strict: not applied (the manager is not root)",
            "PrivateNetwork=yes: not applied (the manager is not root)",
            "CapabilityBoundingSet=CAP_NET_BIND_SERVICE: not applied (the manager lacks CAP_SETPCAP)",
            "AmbientCapabilities=CAP_NET_BIND_SERVICE: not applied (the manager does not have them)",
            "OOMScoreAdjust=-100: not applied (lowering it needs CAP_SYS_RESOURCE)",
        ])
        #expect(!plan.mountNamespace && plan.oomScoreAdjust == nil)
        let asRoot = SandboxPlan(s, Self.root)
        #expect(asRoot.notApplied == ["OOMScoreAdjust=-100: not applied (lowering it needs CAP_SYS_RESOURCE)"])
        #expect(asRoot.mountNamespace && asRoot.networkNamespace && asRoot.dropBoundingSet && asRoot.ambient == 1 << 10)
    }
}

@Suite struct SandboxMountTests {
    static func plan(_ s: SandboxConfig, mounts: [String] = ["/", "/proc", "/sys", "/dev", "/dev/pts", "/run", "/boot"],
                     missing: Set<String> = ["/efi"]) -> Result<[MountOperation], SandboxMountError> {
        SandboxMounts.operations(s, mountPoints: mounts, privateDirectory: "/run/tend/private/a.service",
                                 inaccessible: ("/run/tend/private/.inaccessible-dir", "/run/tend/private/.inaccessible-file")) {
            missing.contains($0) ? .missing : $0.hasSuffix(".conf") ? .other : .directory
        }
    }

    @Test func strictMakesEveryMountButTheAPIOnesReadOnlyAndDeeperRulesWin() throws {
        var s = SandboxConfig()
        s.protectSystem = .strict
        s.privateTmp = true
        s.readWritePaths = [SandboxPath(path: "/var/lib/app", ignoreMissing: false)]
        s.inaccessiblePaths = [SandboxPath(path: "/etc/secret.conf", ignoreMissing: false)]
        s.directories[.state] = ["/var/lib/other"]
        let ops = try Self.plan(s).get()
        #expect(ops == [
            .readOnly("/"), .readOnly("/run"), .readOnly("/boot"),
            .inaccessible("/etc/secret.conf", source: "/run/tend/private/.inaccessible-file"),
            .bind(source: "/var/lib/app", target: "/var/lib/app"), .readWrite("/var/lib/app"),
            .bind(source: "/var/lib/other", target: "/var/lib/other"), .readWrite("/var/lib/other"),
            .bind(source: "/run/tend/private/a.service/var-tmp", target: "/var/tmp"), .readWrite("/var/tmp"),
            .bind(source: "/run/tend/private/a.service/tmp", target: "/tmp"), .readWrite("/tmp"),
        ])
    }

    @Test func protectSystemYesSkipsMissingOptionalPathsAndAMissingRequiredOneFails() throws {
        var s = SandboxConfig()
        s.protectSystem = .yes
        s.protectHome = .yes
        s.privateDevices = true
        let ops = try Self.plan(s, missing: ["/efi", "/run/user"]).get()
        #expect(ops == [
            .privateDevices("/dev"),
            .bind(source: "/usr", target: "/usr"), .readOnly("/usr"), .readOnly("/boot"),
            .inaccessible("/home", source: "/run/tend/private/.inaccessible-dir"),
            .inaccessible("/root", source: "/run/tend/private/.inaccessible-dir"),
        ])
        s.readOnlyPaths = [SandboxPath(path: "/nope", ignoreMissing: false)]
        #expect(throws: SandboxMountError(path: "/nope")) { try Self.plan(s, missing: ["/nope"]).get() }
    }

    @Test func mountInfoPathsAreUnescaped() {
        let text = "22 1 0:21 / / rw - ext4 /dev/sda rw\n36 22 0:30 / /mnt/with\\040space rw,nosuid - tmpfs tmpfs rw\n"
        #expect(SandboxMounts.parseMountInfo(text) == ["/", "/mnt/with space"])
    }
}

@Suite struct ResourceControlDirectiveTests {
    @Test func limitsParseOverflowSafelyWithFileLineErrors() {
        let (c, d) = parseService("""
            MemoryMax=64M
            MemoryHigh=50%
            MemorySwapMax=infinity
            TasksMax=8
            CPUQuota=20%
            CPUWeight=idle
            IOWeight=500
            MemoryMax=99999999999999999999G
            TasksMax=12.5.5%
            CPUQuota=0%
            IOWeight=10001
            TasksMax=-1
            """)
        let r = c.sandbox.resources
        #expect(r.memoryMax == .value(64 << 20) && r.memoryHigh == .share(5000) && r.memorySwapMax == .infinity)
        #expect(r.tasksMax == .value(8) && r.cpuQuota == 2000 && r.cpuWeight == 0 && r.ioWeight == 500)
        #expect(ResourceLimitValue.share(5000).resolve(total: UInt64.max) == UInt64.max / 2)
        #expect(ResourceLimitValue.share(1250).resolve(total: 1000) == 125)
        #expect(texts(d) == [
            #"web.service:9: MemoryMax=: invalid size "99999999999999999999G" (K, M, G suffixes, a percentage, or infinity)"#,
            #"web.service:10: TasksMax=: invalid percentage "12.5.5%" (0%…100%)"#,
            #"web.service:11: CPUQuota=: invalid quota "0%" (a percentage of one CPU above 0%, like 20% or 200%)"#,
            #"web.service:12: IOWeight=: invalid weight "10001" (1…10000)"#,
            #"web.service:13: TasksMax=: invalid number "-1" (a percentage, or infinity)"#,
        ])
    }
}

/// `OOMPolicy=` and the oom-kill result, as systemd's service_notify_cgroup_oom_event.
@Suite struct ServiceMachineOOMTests {
    @Test(arguments: OOMPolicy.allCases)
    func anOOMKillOfTheMainProcessFollowsThePolicy(policy: OOMPolicy) {
        var d = MachineDriver(serviceConfig {
            $0.oomPolicy = policy
            $0.restart = .onFailure
        })
        d.send(.start)
        #expect(d.state == .running)
        d.send(.oomKilled)
        switch policy {
        case .continue: #expect(d.state == .running)
        case .stop: #expect(d.state == .stopSigterm && d.result == .oomKill)
        case .kill: #expect(d.state == .stopSigkill && d.result == .oomKill)
        }
        d.exitMain(.killed(9))
        d.settle()
        // oom-kill is a failure: Restart=on-failure restarts it, as in systemd.
        #expect(d.result == (policy == .continue ? .signal : .oomKill))
        #expect(d.state == .autoRestart)
    }

    @Test func restartPreventExitStatusOOMKillKeepsItDownButNotAfterAnotherSIGKILL() {
        let config = serviceConfig {
            $0.restart = .onFailure
            $0.restartPreventExitStatus.oomKill = true
        }
        var d = MachineDriver(config)
        d.send(.start)
        d.send(.oomKilled)
        d.exitMain(.killed(9))
        d.settle()
        #expect(d.state == .failed && d.result == .oomKill)
        var e = MachineDriver(config)
        e.send(.start)
        e.exitMain(.killed(9))
        e.settle()
        #expect(e.state == .autoRestart && e.result == .signal)
        let (parsed, diags) = parseService("RestartPreventExitStatus=oom-kill SIGKILL\nOOMPolicy=kill\nOOMPolicy=later\n")
        #expect(parsed.restartPreventExitStatus.oomKill && parsed.restartPreventExitStatus.signals == [9])
        #expect(parsed.oomPolicy == .kill)
        #expect(texts(diags) == [#"web.service:4: OOMPolicy=: unknown value "later""#])
    }
}
