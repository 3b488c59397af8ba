import Glibc
import TendModel

/// One cgroup per service below a directory the manager was given (`tend daemon --cgroup DIR`, a cgroup2
/// directory it may write: a delegated subtree in a container, or one made for it on a host). On a hybrid host,
/// where the memory, pids or cpu controller is still attached to a v1 hierarchy and cgroup2 holds none, that
/// controller's v1 hierarchy is used at the same relative path for the limits, and cgroup2 for membership.
public struct CgroupRoot: Sendable {
    /// The cgroup2 directory the services' cgroups go in.
    public var directory: String
    /// Controllers enabled for the children of `directory` (cgroup.subtree_control).
    public var controllers: Set<String>
    /// controller → the v1 directory standing for `directory`, for the controllers cgroup2 doesn't have.
    public var v1: [String: String]

    /// The root in use, set once by the manager's start-up before any service starts (nil: no cgroups).
    nonisolated(unsafe) public static var current: CgroupRoot?
    /// What the last spawn of each unit could not apply of its limits (the manager's thread only).
    nonisolated(unsafe) static var notes: [String: [String]] = [:]

    /// The notes on a unit's resource limits: what its cgroup could not take, or that there is no cgroup.
    static func limitNotes(_ config: ServiceConfig) -> [String] {
        let r = config.sandbox.resources
        guard !r.isEmpty else { return [] }
        guard current != nil else {
            return r.settings.map { "\($0.name)=\($0.value): not applied (no cgroup: the manager runs without --cgroup DIR)" }
        }
        return notes[config.name.description] ?? []
    }

    /// Checks `dir` (a writable cgroup2 directory), enables what controllers it can for its children and finds
    /// v1 hierarchies for the others. A refusal is the message to print.
    public static func open(_ dir: String) -> Result<CgroupRoot, CgroupError> {
        guard Posix.isDirectory(dir) else { return .failure(CgroupError("\(dir): no such directory")) }
        // Only cgroup2 directories have cgroup.controllers.
        guard access(dir + "/cgroup.controllers", F_OK) == 0 else {
            return .failure(CgroupError("\(dir) is not a cgroup2 directory"))
        }
        guard access(dir + "/cgroup.procs", W_OK) == 0, access(dir, W_OK) == 0 else {
            return .failure(CgroupError("\(dir) is not writable by the manager"))
        }
        let available = words(dir + "/cgroup.controllers")
        for c in ["memory", "pids", "cpu", "io"] where available.contains(c) {
            _ = write(dir + "/cgroup.subtree_control", "+\(c)")
        }
        let enabled = words(dir + "/cgroup.subtree_control")
        var v1: [String: String] = [:]
        let info = String(decoding: Posix.readFile("/proc/self/mountinfo", limit: 4 << 20) ?? [], as: UTF8.self)
        var v2Mount: String?
        var v1Mounts: [String: String] = [:]
        for line in info.split(separator: "\n") {
            let halves = line.split(separator: " - ", maxSplits: 1)
            guard halves.count == 2 else { continue }
            let left = halves[0].split(separator: " ")
            let right = halves[1].split(separator: " ")
            guard left.count >= 5, right.count >= 3 else { continue }
            let point = SandboxMounts.unescapeOctal(left[4])
            if right[0] == "cgroup2", dir == point || dir.hasPrefix(point + "/"),
                point.count > (v2Mount?.count ?? -1) { v2Mount = point }
            if right[0] == "cgroup" {
                for option in right[2].split(separator: ",") where ["memory", "pids", "cpu"].contains(String(option)) {
                    v1Mounts[String(option)] = point
                }
            }
        }
        if let v2Mount {
            let relative = String(dir.dropFirst(v2Mount.count))
            for c in ["memory", "pids", "cpu"] where !enabled.contains(c) {
                guard let m = v1Mounts[c] else { continue }
                let d = m + relative
                if (try? Posix.mkdirs(d, mode: 0o755)) != nil, access(d, W_OK) == 0 { v1[c] = d }
            }
        }
        return .success(CgroupRoot(directory: dir, controllers: enabled, v1: v1))
    }

    /// The unit's cgroup2 directory.
    public func directory(of unit: String) -> String { directory + "/" + unit }

    /// Every directory that stands for the unit (cgroup2, then v1 ones), made if missing.
    func makeDirectories(_ unit: String) -> [String] {
        var dirs = [directory(of: unit)]
        for c in v1.keys.sorted() { dirs.append(v1[c]! + "/" + unit) }
        var made: [String] = []
        for d in Set(dirs).sorted() where mkdir(d, 0o755) == 0 || errno == EEXIST { made.append(d) }
        return made
    }

    /// Writes the unit's limits; returns a note for each one that can't be applied here.
    func applyLimits(_ unit: String, _ r: ResourceControl) -> [String] {
        var notes: [String] = []
        let v2 = directory(of: unit)
        func put(_ name: String, _ setting: String, v2File: String?, v2Value: String?, v1: (String, String, String)?) {
            if let v2File, let v2Value, controllers.contains(v2File.split(separator: ".").first.map(String.init) ?? "") {
                if !CgroupRoot.write(v2 + "/" + v2File, v2Value) { notes.append("\(name)=\(setting): not applied (writing \(v2File) failed: \(Posix.errorText(errno)))") }
            } else if let (controller, file, value) = v1, let d = self.v1[controller] {
                if !CgroupRoot.write(d + "/" + unit + "/" + file, value) {
                    notes.append("\(name)=\(setting): not applied (writing v1 \(file) failed: \(Posix.errorText(errno)))")
                }
            } else {
                notes.append("\(name)=\(setting): not applied (no \(v2File.map { String($0.split(separator: ".")[0]) } ?? "suitable") controller in the manager's cgroup)")
            }
        }
        let memory = CgroupRoot.memTotal()
        if let m = r.memoryMax {
            let n = m.resolve(total: memory)
            put("MemoryMax", m.description, v2File: "memory.max", v2Value: n.map(String.init) ?? "max",
                v1: ("memory", "memory.limit_in_bytes", n.map(String.init) ?? "-1"))
        }
        if let m = r.memoryHigh {
            put("MemoryHigh", m.description, v2File: "memory.high", v2Value: m.resolve(total: memory).map(String.init) ?? "max", v1: nil)
        }
        if let m = r.memorySwapMax {
            put("MemorySwapMax", m.description, v2File: "memory.swap.max",
                v2Value: m.resolve(total: memory).map(String.init) ?? "max", v1: nil)
        }
        if let t = r.tasksMax {
            let n = t.resolve(total: CgroupRoot.pidMax())
            put("TasksMax", t.description, v2File: "pids.max", v2Value: n.map(String.init) ?? "max",
                v1: ("pids", "pids.max", n.map(String.init) ?? "max"))
        }
        if let q = r.cpuQuota {
            let quota = q * 1000  // percent ×100 of one CPU → µs per 100 ms period
            put("CPUQuota", "\(q / 100)%", v2File: "cpu.max", v2Value: "\(quota) 100000", v1: nil)
            if !controllers.contains("cpu"), let d = v1["cpu"] {
                notes.removeLast()
                if !(CgroupRoot.write(d + "/" + unit + "/cpu.cfs_period_us", "100000")
                    && CgroupRoot.write(d + "/" + unit + "/cpu.cfs_quota_us", String(quota))) {
                    notes.append("CPUQuota=\(q / 100)%: not applied (writing v1 cpu.cfs_quota_us failed: \(Posix.errorText(errno)))")
                }
            }
        }
        if let w = r.cpuWeight {
            put("CPUWeight", w == 0 ? "idle" : String(w), v2File: "cpu.weight", v2Value: String(max(w, 1)),
                v1: ("cpu", "cpu.shares", String(max(2, max(w, 1) * 1024 / 100))))
        }
        if let w = r.ioWeight {
            put("IOWeight", String(w), v2File: "io.weight", v2Value: "default \(w)", v1: nil)
        }
        return notes
    }

    /// The pids in the unit's cgroup, or nil when it has none.
    public func members(_ unit: String) -> [Int32]? {
        guard let bytes = Posix.readFile(directory(of: unit) + "/cgroup.procs", limit: 1 << 20) else { return nil }
        return bytes.split(separator: 10).compactMap { Int32(String(decoding: $0, as: UTF8.self)) }
    }

    /// How many processes of the unit the OOM killer has ended: `oom_kill` of cgroup2's memory.events, or of
    /// the v1 memory.oom_control; nil when neither is there.
    public func oomKills(_ unit: String) -> UInt64? {
        let file = controllers.contains("memory") ? directory(of: unit) + "/memory.events"
            : v1["memory"].map { $0 + "/" + unit + "/memory.oom_control" }
        guard let file, let bytes = Posix.readFile(file, limit: 1 << 16) else { return nil }
        for line in bytes.split(separator: 10) where line.starts(with: Array("oom_kill ".utf8)) {
            return UInt64(String(decoding: line.dropFirst(9), as: UTF8.self))
        }
        return nil
    }

    /// SIGKILL to every process of the unit's cgroup at once (cgroup.kill, Linux 5.14); false where missing.
    public func kill(_ unit: String) -> Bool { CgroupRoot.write(directory(of: unit) + "/cgroup.kill", "1") }

    /// Removes the unit's (empty) cgroups.
    public func remove(_ unit: String) {
        _ = rmdir(directory(of: unit))
        for d in v1.values { _ = rmdir(d + "/" + unit) }
    }

    static func write(_ path: String, _ value: String) -> Bool {
        let fd = Glibc.open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { Glibc.close(fd) }
        return (try? Posix.write(fd, Array(value.utf8))) != nil
    }

    static func words(_ path: String) -> Set<String> {
        Set(String(decoding: Posix.readFile(path) ?? [], as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
    }

    static func memTotal() -> UInt64 {
        let text = String(decoding: Posix.readFile("/proc/meminfo", limit: 1 << 16) ?? [], as: UTF8.self)
        let line = text.split(separator: "\n").first { $0.hasPrefix("MemTotal:") } ?? ""
        return (UInt64(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }

    static func pidMax() -> UInt64 {
        UInt64(String(decoding: Posix.readFile("/proc/sys/kernel/pid_max") ?? [], as: UTF8.self).filter(\.isNumber)) ?? 4_194_304
    }
}

public struct CgroupError: Error, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}
