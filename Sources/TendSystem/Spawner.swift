import CTend
import Glibc
import TendModel

/// A process that was created.
public struct SpawnedProcess: Sendable {
    public var pid: Int32
    public var pidfd: Int32
    /// Non-zero when the child's setup or exec failed: the systemd exit code it exited with (203 = EXEC).
    public var failedStage: Int32
    public var errno: Int32
    public init(pid: Int32, pidfd: Int32, failedStage: Int32, errno: Int32) {
        (self.pid, self.pidfd, self.failedStage, self.errno) = (pid, pidfd, failedStage, errno)
    }
}

/// What the runtime knows when it starts one command of a service.
public struct SpawnRequest {
    public var config: ServiceConfig
    public var command: ExecCommand
    public var kind: CommandKind
    /// Descriptors for 0, 1, 2 (-1: /dev/null).
    public var stdio: [Int32]
    /// Variables the manager adds: MAINPID=, SERVICE_RESULT=, EXIT_CODE=, NOTIFY_SOCKET=, ...
    public var extraEnvironment: [(String, String)]
    /// The manager's own environment (for PassEnvironment=).
    public var managerEnvironment: [String: String]
    /// Working directory when the unit sets none.
    public var defaultWorkingDirectory: String
    /// Variables whose value is the child's own pid, set in the child before exec (LISTEN_PID=, WATCHDOG_PID=).
    public var pidEnvironment: [String] = []
    /// Descriptors passed as 3, 4, ... (LISTEN_FDS).
    public var passedFDs: [Int32] = []
    /// The unit's own directory for `PrivateTmp=` (its `tmp` and `var-tmp`), made when needed.
    public var privateDirectory: String?
    public init(config: ServiceConfig, command: ExecCommand, kind: CommandKind, stdio: [Int32],
                extraEnvironment: [(String, String)], managerEnvironment: [String: String],
                defaultWorkingDirectory: String) {
        self.config = config
        self.command = command
        self.kind = kind
        self.stdio = stdio
        self.extraEnvironment = extraEnvironment
        self.managerEnvironment = managerEnvironment
        self.defaultWorkingDirectory = defaultWorkingDirectory
    }
}

/// Builds a service's execution environment (systemd.exec(5)) and starts one command through the C
/// spawner. Failures that systemd detects in the forked child (unknown user, unreadable directory, missing
/// program) are reported the same way here: a real child exits with systemd's code (217/USER, 200/CHDIR,
/// 203/EXEC), and `setupError` says why.
public enum Spawner {
    public static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    public struct Prepared {
        var path: String
        var argv: [String]
        var env: [String]
        var cwd: String?
        var ids: (uid: uid_t, gid: gid_t, groups: [gid_t])?
        /// Who owns the unit's execution directories: User=/Group= when set.
        var owner: (uid: uid_t, gid: gid_t)?
        /// A setup failure found before spawning, as (stage, errno, message).
        var failure: (Int32, Int32, String)?
    }

    /// The environment a command runs with, in systemd's order of precedence: the manager's basics, then
    /// PassEnvironment=, Environment=, EnvironmentFile= (files win over Environment=), UnsetEnvironment=,
    /// and the manager's own variables (MAINPID=, ...).
    public static func environment(for r: SpawnRequest, user: (name: String, home: String, shell: String)?)
        -> (env: [(String, String)], missingFile: String?)
    {
        var env: [(String, String)] = [("PATH", defaultPath)]
        if let lang = r.managerEnvironment["LANG"] { env.append(("LANG", lang)) }
        if let user {
            env.append(("HOME", user.home))
            env.append(("LOGNAME", user.name))
            env.append(("USER", user.name))
            env.append(("SHELL", user.shell))
        }
        env.append(contentsOf: ExecDirectories.environment(r.config.sandbox))
        for name in r.config.passEnvironment {
            if let v = r.managerEnvironment[name] { env.append((name, v)) }
        }
        for (k, v) in r.config.environment { env.append((k, v)) }
        var missing: String?
        for file in r.config.environmentFiles {
            guard let bytes = Posix.readFile(file.path) else {
                if !file.optional && missing == nil { missing = file.path }
                continue
            }
            for (k, v) in parseEnvironmentFile(String(decoding: bytes, as: UTF8.self)) { env.append((k, v)) }
        }
        env.append(contentsOf: r.extraEnvironment)
        // Later assignments win; keep the first position of each name for a stable order.
        var order: [String] = []
        var values: [String: String] = [:]
        for (k, v) in env {
            if values[k] == nil { order.append(k) }
            values[k] = v
        }
        for name in r.config.unsetEnvironment {
            if let eq = name.firstIndex(of: "=") {
                let k = String(name[..<eq])
                if values[k] == String(name[name.index(after: eq)...]) { values[k] = nil }
            } else {
                values[name] = nil
            }
        }
        return (order.compactMap { k in values[k].map { (k, $0) } }, missing)
    }

    /// Resolves user, groups, directory, environment and program; never fails: problems become `failure`.
    public static func prepare(_ r: SpawnRequest) -> Prepared {
        var failure: (Int32, Int32, String)?
        let c = r.config
        var ids: (uid: uid_t, gid: gid_t, groups: [gid_t])?
        var owner: (uid: uid_t, gid: gid_t)?
        var userInfo: (name: String, home: String, shell: String)?
        if let userName = c.user {
            if let u = Posix.user(named: userName) {
                userInfo = (u.name, u.home, u.shell)
                var gid = u.gid
                if let g = c.group {
                    if let gg = Posix.group(named: g) { gid = gg } else { failure = (216, ENOENT, "Failed to determine group credentials: no group \"\(g)\"") }
                }
                var groups = Posix.groups(ofUser: u.name, primary: gid)
                for g in c.supplementaryGroups {
                    if let gg = Posix.group(named: g) { groups.append(gg) } else if failure == nil {
                        failure = (216, ENOENT, "Failed to determine supplementary group \"\(g)\"")
                    }
                }
                owner = (u.uid, gid)
                if u.uid != getuid() || gid != getgid() || !c.supplementaryGroups.isEmpty || c.group != nil {
                    ids = (u.uid, gid, groups)
                }
            } else {
                failure = (217, ENOENT, "Failed to determine user credentials: no user \"\(userName)\"")
            }
        } else if let g = c.group {
            if let gg = Posix.group(named: g) {
                var groups = [gg]
                for s in c.supplementaryGroups { if let x = Posix.group(named: s) { groups.append(x) } }
                ids = (getuid(), gg, groups)
                owner = (getuid(), gg)
            } else {
                failure = (216, ENOENT, "Failed to determine group credentials: no group \"\(g)\"")
            }
        } else if !c.supplementaryGroups.isEmpty {
            var groups: [gid_t] = []
            for s in c.supplementaryGroups {
                if let x = Posix.group(named: s) { groups.append(x) } else if failure == nil {
                    failure = (216, ENOENT, "Failed to determine supplementary group \"\(s)\"")
                }
            }
            ids = (getuid(), getgid(), groups)
        }

        let (envPairs, missingFile) = environment(for: r, user: userInfo)
        if let missingFile {
            // systemd fails such a start before forking (result "resources"): stage 0 means "don't spawn".
            failure = (0, ENOENT, "Failed to load environment files: \(missingFile): No such file or directory")
        }
        var envDict: [String: String] = [:]
        for (k, v) in envPairs { envDict[k] = v }

        var cwd: String? = c.workingDirectory ?? r.defaultWorkingDirectory
        if c.workingDirectory == "~" {
            cwd = userInfo?.home ?? r.managerEnvironment["HOME"] ?? "/"
        }
        if c.workingDirectoryOptional, let d = cwd, !Posix.isDirectory(d) { cwd = nil }

        let words = r.command.expandedWords(environment: envDict)
        var program = words.first ?? ""
        var argv = words
        if r.command.hasArgv0, words.count >= 2 {
            argv = Array(words.dropFirst())
        }
        if !program.contains("/") {
            let searchPath = envDict["PATH"] ?? defaultPath
            for dir in searchPath.split(separator: ":") where Posix.isExecutable("\(dir)/\(program)") {
                program = "\(dir)/\(program)"
                break
            }
        }
        if argv.isEmpty { argv = [program] }
        let pidNames = Set(r.pidEnvironment)
        return Prepared(path: program, argv: argv,
                        env: envPairs.filter { !pidNames.contains($0.0) }.map { "\($0.0)=\($0.1)" }, cwd: cwd, ids: ids,
                        owner: owner, failure: failure)
    }

    /// Starts the command. Throws only when no process could be created at all.
    public static func spawn(_ r: SpawnRequest) throws -> (SpawnedProcess, setupError: String?) {
        var p = prepare(r)
        if let f = p.failure, f.0 == 0 { throw SpawnError(message: f.2, errno: f.1) }
        // The directories are made by the manager before the fork (systemd makes them in the child, as root too);
        // a failure is reported from the child with the kind's exit status (233/RUNTIME_DIRECTORY, ...).
        if p.failure == nil, let f = ExecDirectories.setUp(r.config.sandbox, owner: p.owner) { p.failure = f }
        var sandbox: SandboxBuild?
        var cgroupProcs: [String] = []
        if let root = CgroupRoot.current {
            let unit = r.config.name.description
            cgroupProcs = root.makeDirectories(unit).map { $0 + "/cgroup.procs" }
            CgroupRoot.notes[unit] = root.applyLimits(unit, r.config.sandbox.resources)
        }
        if p.failure == nil {
            switch SandboxSetup.build(r, cgroupProcs: cgroupProcs) {
            case .success(let b): sandbox = b
            case .failure(let f): p.failure = (f.stage, f.errno, f.message)
            }
        }
        let c = r.config
        var limits: [ctend_rlimit] = []
        for (res, v) in c.limits {
            limits.append(ctend_rlimit(resource: resourceNumber(res), soft: v.soft, hard: v.hard))
        }
        var pid: pid_t = 0
        var pidfd: Int32 = -1
        var stage: Int32 = 0
        var err: Int32 = 0
        // The pid variables go last, each with room for the digits the child writes in.
        let pidSlots: [UnsafeMutablePointer<CChar>?] = r.pidEnvironment.map { name in
            let bytes = Array((name + "=").utf8CString)
            let p = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 24)
            p.initialize(repeating: 0, count: bytes.count + 24)
            for (i, b) in bytes.enumerated() { p[i] = b }
            return p
        }
        defer { for p in pidSlots { p?.deallocate() } }
        var pidSlotArray = pidSlots
        let fdMap = r.stdio + r.passedFDs
        let rc: Int32 = withCStrings(p.argv) { argv in
            withCStrings(p.env, extra: pidSlots) { envp in
                p.path.withCString { path in
                    fdMap.withUnsafeBufferPointer { fds in
                        limits.withUnsafeBufferPointer { lims in
                            (p.ids?.groups ?? []).withUnsafeBufferPointer { groups in
                                withOptionalCString(p.cwd) { cwd in
                                    var attr = ctend_spawn_attr()
                                    attr.path = path
                                    attr.argv = argv
                                    attr.envp = envp
                                    attr.fd_map = fds.baseAddress!
                                    attr.fd_count = Int32(fds.count)
                                    attr.cwd = cwd
                                    attr.new_session = 1
                                    if let ids = p.ids {
                                        attr.change_ids = 1
                                        attr.uid = ids.uid
                                        attr.gid = ids.gid
                                        attr.groups = groups.baseAddress
                                        attr.group_count = Int32(groups.count)
                                    }
                                    attr.umask = Int32(c.umask)
                                    if let nice = c.nice {
                                        attr.set_nice = 1
                                        attr.nice = nice
                                    }
                                    attr.rlimits = lims.baseAddress
                                    attr.rlimit_count = Int32(lims.count)
                                    if let f = p.failure {
                                        attr.fail_stage = f.0
                                        attr.fail_errno = f.1
                                    }
                                    attr.sandbox = sandbox.map { UnsafePointer($0.pointer) }
                                    return pidSlotArray.withUnsafeMutableBufferPointer { slots in
                                        attr.pid_env = slots.baseAddress
                                        attr.pid_env_count = Int32(slots.count)
                                        return ctend_spawn(&attr, &pid, &pidfd, &stage, &err)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        guard rc == 0 else { throw SpawnError(message: "Failed to fork: \(Posix.errorText(rc))", errno: rc) }
        var message: String?
        if let f = p.failure {
            message = f.2
        } else if stage == 226, let sandbox {
            message = sandbox.namespaceFailure(err)
        } else if stage != 0 {
            message = "Failed at step \(ExitStatusNames.name(stage) ?? String(stage)) spawning \(p.path): \(Posix.errorText(err))"
        }
        return (SpawnedProcess(pid: pid, pidfd: pidfd, failedStage: stage, errno: err), message)
    }

    /// The `Limit*=` settings a command won't get as written: above the hard limit, which this process may not
    /// raise (no CAP_SYS_RESOURCE, as in a container with Docker's default capabilities). The child then takes
    /// the closest limit possible, as systemd's setrlimit_closest() does; each note says so.
    public static func limitNotes(_ config: ServiceConfig) -> [String] {
        guard !config.limits.isEmpty, !mayRaiseLimits else { return [] }
        var notes: [String] = []
        for (res, v) in config.limits.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            var current = rlimit()
            guard getrlimit(__rlimit_resource_t(UInt32(resourceNumber(res))), &current) == 0 else { continue }
            let hard = UInt64(current.rlim_max)
            guard hard != UInt64.max, v.hard > hard || v.soft > hard else { continue }
            notes.append("\(res.rawValue)=\(v.soft == v.hard ? String(v.soft) : "\(v.soft):\(v.hard)") is above the hard limit " +
                "\(hard), which tend may not raise (no CAP_SYS_RESOURCE): using \(min(v.soft, hard)):\(min(v.hard, hard)), as systemd does.")
        }
        return notes
    }

    /// CAP_SYS_RESOURCE of the manager, read once: its capabilities don't change while it runs, and a spawn
    /// needn't read /proc for it.
    static let mayRaiseLimits = hasCapability(24)

    /// Whether this process has capability `bit` in its effective set (/proc/self/status CapEff).
    static func hasCapability(_ bit: Int) -> Bool {
        guard let bytes = Posix.readFile("/proc/self/status", limit: 1 << 16) else { return false }
        for line in bytes.split(separator: 10) where line.starts(with: Array("CapEff:".utf8)) {
            let hex = String(decoding: line.dropFirst(7), as: UTF8.self).filter { $0.isHexDigit }
            guard let mask = UInt64(hex, radix: 16) else { return false }
            return mask & (1 << UInt64(bit)) != 0
        }
        return false
    }

    public static func resourceNumber(_ r: ResourceLimit) -> Int32 {
        switch r {
        case .cpu: return 0
        case .fsize: return 1
        case .data: return 2
        case .stack: return 3
        case .core: return 4
        case .rss: return 5
        case .nproc: return 6
        case .nofile: return 7
        case .memlock: return 8
        case .as: return 9
        case .locks: return 10
        case .sigpending: return 11
        case .msgqueue: return 12
        case .nice: return 13
        case .rtprio: return 14
        case .rttime: return 15
        }
    }
}

/// A command that could not be started at all (no process was created).
public struct SpawnError: Error, CustomStringConvertible {
    public var message: String
    public var errno: Int32
    public var description: String { message }
    public init(message: String, errno: Int32) { (self.message, self.errno) = (message, errno) }
}

/// A NULL-terminated array of C strings, alive for the duration of `body`.
func withCStrings<R>(
    _ strings: [String], extra: [UnsafeMutablePointer<CChar>?] = [],
    _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R
) -> R {
    let owned: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    defer { for p in owned { free(p) } }
    let ptrs = owned + extra + [nil]
    return ptrs.withUnsafeBufferPointer { body($0.baseAddress!) }
}

func withOptionalCString<R>(_ s: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let s else { return body(nil) }
    return s.withCString { body($0) }
}
