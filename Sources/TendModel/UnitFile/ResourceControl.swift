/// systemd.resource-control(5) limits a service asks for, applied through its cgroup when the manager has one
/// (`tend daemon --cgroup DIR`).

/// A limit as systemd writes it: bytes or a count, a share of the whole (`50%`), or `infinity`.
public enum ResourceLimitValue: Hashable, Sendable, CustomStringConvertible {
    case value(UInt64)
    /// Parts per 10 000 of the machine's total (memory, or the kernel's pid_max for tasks).
    case share(UInt64)
    case infinity

    public var description: String {
        switch self {
        case .value(let n): return String(n)
        case .share(let p): return "\(p / 100).\(p % 100 < 10 ? "0" : "")\(p % 100)%"
        case .infinity: return "infinity"
        }
    }

    /// The number for `total` (a share of it), nil for infinity.
    public func resolve(total: UInt64) -> UInt64? {
        switch self {
        case .value(let n): return n
        case .share(let p):
            // total × p / 10 000 without overflow (p ≤ 10 000, so the quotient fits).
            return UInt64(10_000).dividingFullWidth(total.multipliedFullWidth(by: min(p, 10_000))).quotient
        case .infinity: return nil
        }
    }
}

public struct ResourceControl: Sendable, Equatable {
    public var memoryMax: ResourceLimitValue?
    public var memoryHigh: ResourceLimitValue?
    public var memorySwapMax: ResourceLimitValue?
    public var tasksMax: ResourceLimitValue?
    /// `CPUQuota=`: percent of one CPU ×100 (`20%` → 2000).
    public var cpuQuota: UInt64?
    /// `CPUWeight=` 1…10000 (`idle` is 0).
    public var cpuWeight: UInt64?
    /// `IOWeight=` 1…10000.
    public var ioWeight: UInt64?
    public init() {}

    public var isEmpty: Bool {
        memoryMax == nil && memoryHigh == nil && memorySwapMax == nil && tasksMax == nil && cpuQuota == nil
            && cpuWeight == nil && ioWeight == nil
    }

    /// The directives set, as written back (`MemoryMax=67108864`), in table order.
    public var settings: [(name: String, value: String)] {
        var out: [(String, String)] = []
        if let v = memoryMax { out.append(("MemoryMax", v.description)) }
        if let v = memoryHigh { out.append(("MemoryHigh", v.description)) }
        if let v = memorySwapMax { out.append(("MemorySwapMax", v.description)) }
        if let v = tasksMax { out.append(("TasksMax", v.description)) }
        if let v = cpuQuota { out.append(("CPUQuota", "\(v / 100)%")) }
        if let v = cpuWeight { out.append(("CPUWeight", v == 0 ? "idle" : String(v))) }
        if let v = ioWeight { out.append(("IOWeight", String(v))) }
        return out
    }
}

/// `50%`, `12.5%` → parts per 10 000, or nil.
func parseShare(_ s: String) -> UInt64? {
    guard s.hasSuffix("%") else { return nil }
    let body = s.dropLast()
    let parts = body.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
    guard let whole = parts.first, !whole.isEmpty, whole.utf8.count <= 3, whole.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
        let w = UInt64(whole)
    else { return nil }
    var frac: UInt64 = 0
    if parts.count == 2 {
        let f = parts[1]
        guard !f.isEmpty, f.utf8.count <= 2, f.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let v = UInt64(f) else { return nil }
        frac = f.utf8.count == 1 ? v * 10 : v
    }
    let p = w * 100 + frac
    return p <= 10_000 ? p : nil
}
