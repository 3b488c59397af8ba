/// The rows of the directive table for execution directories and sandboxing (systemd.exec(5)); appended to
/// `directives` in DirectiveTable.swift. Each writes into `ServiceConfig.sandbox`.

let sandboxDirectives: [Directive] = {
    var t: [Directive] = []
    func add(_ name: String, _ parse: @escaping DirectiveParser) {
        t.append(Directive(section: "Service", name: name, parse: parse))
    }
    for kind in ExecDirectoryKind.allCases {
        add(kind.rawValue, execDirectory(kind))
        add(kind.rawValue + "Mode") { value, config, ctx in
            if value.isEmpty {
                config.sandbox.directoryModes[kind] = nil
                return
            }
            guard let mode = parseFileMode(value) else {
                return ctx.error("invalid mode \"\(shortened(value))\" (an octal number up to 07777)")
            }
            config.sandbox.directoryModes[kind] = mode
        }
    }
    add("RuntimeDirectoryPreserve") { value, config, ctx in
        if value.isEmpty {
            config.sandbox.runtimeDirectoryPreserve = .no
        } else if let b = parseBoolean(value) {
            config.sandbox.runtimeDirectoryPreserve = b ? .yes : .no
        } else if value == "restart" {
            config.sandbox.runtimeDirectoryPreserve = .restart
        } else {
            ctx.badValue(value)
        }
    }
    add("OOMScoreAdjust") { value, config, ctx in
        if value.isEmpty {
            config.sandbox.oomScoreAdjust = nil
            return
        }
        guard let n = Int(value), (-1000...1000).contains(n) else {
            return ctx.error("invalid value \"\(shortened(value))\" (expected -1000…1000)")
        }
        config.sandbox.oomScoreAdjust = n
    }
    add("NoNewPrivileges", sandboxBoolean(\.sandbox.noNewPrivileges))
    add("PrivateTmp") { value, config, ctx in
        if value.isEmpty {
            config.sandbox.privateTmp = false
        } else if let b = parseBoolean(value) {
            config.sandbox.privateTmp = b
        } else if value == "disconnected" {
            // systemd 256: a private /tmp not shared with JoinsNamespaceOf= units; tend has no such sharing.
            config.sandbox.privateTmp = true
        } else {
            ctx.badValue(value)
        }
    }
    add("ProtectSystem", boolOrEnum(\.sandbox.protectSystem, yes: .yes, no: .no))
    add("ProtectHome", boolOrEnum(\.sandbox.protectHome, yes: .yes, no: .no))
    for (name, kp) in [
        ("ReadWritePaths", \ServiceConfig.sandbox.readWritePaths), ("ReadWriteDirectories", \.sandbox.readWritePaths),
        ("ReadOnlyPaths", \.sandbox.readOnlyPaths), ("ReadOnlyDirectories", \.sandbox.readOnlyPaths),
        ("InaccessiblePaths", \.sandbox.inaccessiblePaths), ("InaccessibleDirectories", \.sandbox.inaccessiblePaths),
    ] as [(String, Field<[SandboxPath]>)] {
        add(name, sandboxPaths(kp))
    }
    add("PrivateDevices", sandboxBoolean(\.sandbox.privateDevices))
    add("PrivateNetwork", sandboxBoolean(\.sandbox.privateNetwork))
    add("CapabilityBoundingSet") { value, config, ctx in
        guard let (mask, inverted) = parseCapabilities(value, &ctx) else { return }
        if value.isEmpty {
            config.sandbox.capabilityBoundingSet = 0
        } else if inverted {
            config.sandbox.capabilityBoundingSet = (config.sandbox.capabilityBoundingSet ?? Capabilities.all) & ~mask
        } else {
            // Lines are merged by OR (systemd.exec(5)); the first one starts from the empty set.
            config.sandbox.capabilityBoundingSet = (config.sandbox.capabilityBoundingSet ?? 0) | mask
        }
    }
    add("AmbientCapabilities") { value, config, ctx in
        guard let (mask, inverted) = parseCapabilities(value, &ctx) else { return }
        if value.isEmpty {
            config.sandbox.ambientCapabilities = 0
        } else if inverted {
            config.sandbox.ambientCapabilities = Capabilities.all & ~mask
        } else {
            config.sandbox.ambientCapabilities |= mask
        }
    }
    add("RestrictNamespaces") { value, config, ctx in
        if value.isEmpty {
            config.sandbox.allowedNamespaces = nil
            return
        }
        if let b = parseBoolean(value) {
            config.sandbox.allowedNamespaces = b ? [] : nil
            return
        }
        var text = Substring(value)
        let inverted = text.hasPrefix("~")
        if inverted { text = text.dropFirst() }
        var listed: Set<NamespaceType> = []
        for w in text.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
            guard let n = NamespaceType(rawValue: String(w)) else {
                return ctx.error("unknown namespace type \"\(shortened(String(w)))\" (cgroup, ipc, net, mnt, pid, user, uts)")
            }
            listed.insert(n)
        }
        let allowed = inverted ? Set(NamespaceType.allCases).subtracting(listed) : listed
        // Several lines: systemd merges allow-lists by OR and deny-lists by AND.
        if let before = config.sandbox.allowedNamespaces {
            config.sandbox.allowedNamespaces = inverted ? before.intersection(allowed) : before.union(allowed)
        } else {
            config.sandbox.allowedNamespaces = allowed
        }
    }
    add("OOMPolicy") { value, config, ctx in
        if value.isEmpty {
            config.oomPolicy = .stop
        } else if let p = OOMPolicy(rawValue: value) {
            config.oomPolicy = p
        } else {
            ctx.badValue(value)
        }
    }
    // systemd.resource-control(5)
    for (name, kp) in [("MemoryMax", \ServiceConfig.sandbox.resources.memoryMax),
                       ("MemoryHigh", \.sandbox.resources.memoryHigh),
                       ("MemorySwapMax", \.sandbox.resources.memorySwapMax)] as [(String, Field<ResourceLimitValue?>)] {
        add(name, resourceLimit(kp, bytes: true))
    }
    add("TasksMax", resourceLimit(\.sandbox.resources.tasksMax, bytes: false))
    add("CPUQuota") { value, config, ctx in
        if value.isEmpty {
            config.sandbox.resources.cpuQuota = nil
            return
        }
        guard value.hasSuffix("%"), let n = UInt64(value.dropLast()), n > 0, n <= 1_000_000 else {
            return ctx.error("invalid quota \"\(shortened(value))\" (a percentage of one CPU above 0%, like 20% or 200%)")
        }
        config.sandbox.resources.cpuQuota = n * 100
    }
    add("CPUWeight") { value, config, ctx in
        if value.isEmpty {
            config.sandbox.resources.cpuWeight = nil
        } else if value == "idle" {
            config.sandbox.resources.cpuWeight = 0
        } else if let n = UInt64(value), (1...10_000).contains(n) {
            config.sandbox.resources.cpuWeight = n
        } else {
            ctx.error("invalid weight \"\(shortened(value))\" (1…10000 or idle)")
        }
    }
    add("IOWeight") { value, config, ctx in
        if value.isEmpty {
            config.sandbox.resources.ioWeight = nil
        } else if let n = UInt64(value), (1...10_000).contains(n) {
            config.sandbox.resources.ioWeight = n
        } else {
            ctx.error("invalid weight \"\(shortened(value))\" (1…10000)")
        }
    }
    return t
}()

/// A byte size (`64M`) or count, a percentage of the whole, or `infinity`; empty resets.
private func resourceLimit(_ kp: Field<ResourceLimitValue?>, bytes: Bool) -> DirectiveParser {
    { value, config, ctx in
        if value.isEmpty {
            config[keyPath: kp] = nil
        } else if value == "infinity" {
            config[keyPath: kp] = .infinity
        } else if value.hasSuffix("%") {
            guard let p = parseShare(value) else { return ctx.error("invalid percentage \"\(shortened(value))\" (0%…100%)") }
            config[keyPath: kp] = .share(p)
        } else if bytes, let n = parseByteSize(value) {
            config[keyPath: kp] = .value(n)
        } else if !bytes, value.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = UInt64(value) {
            config[keyPath: kp] = .value(n)
        } else {
            ctx.error("invalid \(bytes ? "size" : "number") \"\(shortened(value))\" (\(bytes ? "K, M, G suffixes, " : "")a percentage, or infinity)")
        }
    }
}

/// An octal file mode up to 07777.
func parseFileMode(_ s: String) -> UInt32? {
    guard !s.isEmpty, s.utf8.count <= 5, s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x37 }), let m = UInt32(s, radix: 8),
        m <= 0o7777
    else { return nil }
    return m
}

private func sandboxBoolean(_ kp: Field<Bool>) -> DirectiveParser {
    { value, config, ctx in
        if value.isEmpty {
            config[keyPath: kp] = false
            return
        }
        guard let b = parseBoolean(value) else { return ctx.error("invalid boolean \"\(shortened(value))\"") }
        config[keyPath: kp] = b
    }
}

/// A boolean (yes → `yes`, no → `no`) or one of the enum's own values.
private func boolOrEnum<E: RawRepresentable & Sendable>(_ kp: Field<E>, yes: E, no: E) -> DirectiveParser
where E.RawValue == String {
    { value, config, ctx in
        if value.isEmpty {
            config[keyPath: kp] = no
        } else if let b = parseBoolean(value) {
            config[keyPath: kp] = b ? yes : no
        } else if let e = E(rawValue: value) {
            config[keyPath: kp] = e
        } else {
            ctx.badValue(value)
        }
    }
}

/// `RuntimeDirectory=php php/sessions`: relative names below the kind's base; an empty value empties the list.
private func execDirectory(_ kind: ExecDirectoryKind) -> DirectiveParser {
    { value, config, ctx in
        if value.isEmpty {
            config.sandbox.directories[kind] = nil
            return
        }
        guard let words = ctx.words(value) else { return }
        let base = kind.base(ctx.resolver.context)
        for w in words {
            if w.contains(":") {
                ctx.error("\"\(shortened(w))\": the NAME:SYMLINK form is not supported by tend")
                continue
            }
            var name = Substring(w)
            while name.hasSuffix("/") { name = name.dropLast() }
            let parts = name.split(separator: "/", omittingEmptySubsequences: false)
            guard !name.isEmpty, !w.hasPrefix("/"), !parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
                ctx.error("\"\(shortened(w))\" is not a relative path without \".\" and \"..\"")
                continue
            }
            let path = base + "/" + name
            if config.sandbox.directories[kind]?.contains(path) != true {
                config.sandbox.directories[kind, default: []].append(path)
            }
        }
    }
}

/// `ReadOnlyPaths=-/var/cache /opt`: absolute paths; `-` ignores a missing one, `+` (relative to RootDirectory=,
/// which tend doesn't have) is accepted as the plain path.
private func sandboxPaths(_ kp: Field<[SandboxPath]>) -> DirectiveParser {
    { value, config, ctx in
        if value.isEmpty {
            config[keyPath: kp] = []
            return
        }
        guard let words = ctx.words(value) else { return }
        for w in words {
            var p = Substring(w)
            var ignoreMissing = false
            while let f = p.first, f == "-" || f == "+" {
                if f == "-" { ignoreMissing = true }
                p = p.dropFirst()
            }
            guard p.hasPrefix("/"), !p.split(separator: "/").contains(where: { $0 == "." || $0 == ".." }) else {
                ctx.error("path \"\(shortened(w))\" is not absolute and normalized")
                continue
            }
            var path = String(p)
            while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
            config[keyPath: kp].append(SandboxPath(path: path, ignoreMissing: ignoreMissing))
        }
    }
}

/// Capability names, optionally after `~`; (mask, inverted), or nil after an error. An empty value is (0, false).
private func parseCapabilities(_ value: String, _ ctx: inout DirectiveContext) -> (UInt64, Bool)? {
    var text = Substring(value)
    let inverted = text.hasPrefix("~")
    if inverted { text = text.dropFirst() }
    var mask: UInt64 = 0
    for w in text.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
        guard let bit = Capabilities.bit(named: String(w)) else {
            ctx.error("unknown capability \"\(shortened(String(w)))\"")
            return nil
        }
        mask |= 1 << UInt64(bit)
    }
    return (mask, inverted)
}
