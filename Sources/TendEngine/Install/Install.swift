import Glibc
import TendModel
import TendSystem

public struct InstallError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}

/// `tend enable`/`disable`/`is-enabled` (systemctl(1), "Unit File Commands"), acting on the first unit directory:
/// `[Install] WantedBy=` makes `TARGET.wants/NAME` links, `RequiredBy=` `TARGET.requires/NAME`, `Alias=` a link
/// `ALIAS` next to the unit file, `Also=` enables or disables the units named too. Links are relative when the unit
/// file is in that directory. Idempotent: what exists as wanted is left alone.
public struct UnitInstaller {
    public var unitPaths: [String]
    var loader: UnitLoader

    public init(unitPaths: [String], environment: [String: String]) {
        self.unitPaths = unitPaths
        loader = UnitLoader(searchPaths: unitPaths, context: SpecifierContext.current(environment: environment))
    }

    var directory: String { unitPaths.first ?? "." }

    /// The instance to act on for `raw`: a template without instance takes its `DefaultInstance=`.
    func resolve(_ raw: String) throws(InstallError) -> (UnitName, ServiceConfig) {
        guard var name = UnitName(parsing: raw) else { throw InstallError("Invalid unit name \"\(raw)\".") }
        let result = loader.load(name)
        guard var config = result.config else {
            throw InstallError("Unit file \(name) does not exist in \(unitPaths.joined(separator: ", ")).")
        }
        if name.isTemplate {
            guard let inst = config.defaultInstance, !inst.isEmpty else {
                throw InstallError(
                    "Unit \(name) is a template and has no DefaultInstance=: name an instance, as in "
                        + "\"tend enable \(name.prefix)@INSTANCE.\(name.suffix)\".")
            }
            name = UnitName(prefix: name.prefix, instance: inst, suffix: name.suffix)
            if let c = loader.load(name).config { config = c }
        }
        return (name, config)
    }

    public func enable(_ names: [String]) throws(InstallError) -> (changes: [InstallChange], notes: [String]) {
        var changes: [InstallChange] = []
        var notes: [String] = []
        var seen: Set<String> = []
        var queue = names
        while !queue.isEmpty {
            let raw = queue.removeFirst()
            let (name, config) = try resolve(raw)
            guard seen.insert(name.description).inserted else { continue }
            guard let fragment = config.fragmentPath else { continue }
            if config.wantedBy.isEmpty && config.requiredBy.isEmpty && config.alias.isEmpty && config.also.isEmpty {
                notes.append(
                    "The unit \(name) has no installation config (WantedBy=, RequiredBy=, Alias=, Also= in [Install]): "
                        + "it is static, started only as a dependency of another unit or by hand.")
                continue
            }
            let inDir = parentDirectory(fragment) == directory
            let fileName = baseName(fragment)
            for (targets, suffix) in [(config.wantedBy, "wants"), (config.requiredBy, "requires")] {
                for target in targets {
                    let dir = "\(directory)/\(target).\(suffix)"
                    try link(dir + "/" + name.description, to: inDir ? "../" + fileName : fragment, mkdir: dir, &changes)
                }
            }
            for alias in config.alias {
                try link(directory + "/" + alias, to: inDir ? fileName : fragment, mkdir: nil, &changes)
            }
            queue += config.also
        }
        return (changes, notes)
    }

    public func disable(_ names: [String]) throws(InstallError) -> [InstallChange] {
        var changes: [InstallChange] = []
        var seen: Set<String> = []
        var queue = names
        while !queue.isEmpty {
            let raw = queue.removeFirst()
            guard let parsed = UnitName(parsing: raw) else { throw InstallError("Invalid unit name \"\(raw)\".") }
            guard let config = loader.load(parsed).config else {
                throw InstallError("Unit file \(parsed) does not exist in \(unitPaths.joined(separator: ", ")).")
            }
            guard seen.insert(parsed.description).inserted else { continue }
            // A template without instance disables every instance linked.
            func matches(_ entry: String) -> Bool {
                if entry == parsed.description { return true }
                guard parsed.isTemplate, let n = UnitName(parsing: entry) else { return false }
                return n.prefix == parsed.prefix && n.suffix == parsed.suffix && n.instance != nil
            }
            for entry in listDirectory(directory).sorted() where entry.hasSuffix(".wants") || entry.hasSuffix(".requires") {
                let dir = directory + "/" + entry
                for link in listDirectory(dir).sorted() where matches(link) && isSymlink(dir + "/" + link) {
                    if unlink(dir + "/" + link) == 0 { changes.append(InstallChange(kind: .removed, path: dir + "/" + link)) }
                }
            }
            for alias in config.alias where isSymlink(directory + "/" + alias) {
                if unlink(directory + "/" + alias) == 0 {
                    changes.append(InstallChange(kind: .removed, path: directory + "/" + alias))
                }
            }
            queue += config.also
        }
        return changes
    }

    /// `enabled`, `disabled`, `static`, `indirect`, `alias`, `masked` or `not-found`, as `systemctl is-enabled`.
    public func state(_ raw: String) -> String {
        guard let name = UnitName(parsing: raw) else { return "not-found" }
        var name2 = name
        let result = loader.load(name)
        guard var config = result.config else {
            return result.diagnostics.contains { $0.message.hasSuffix("is masked") } ? "masked" : "not-found"
        }
        if name.isTemplate, let inst = config.defaultInstance {
            name2 = UnitName(prefix: name.prefix, instance: inst, suffix: name.suffix)
            config = loader.load(name2).config ?? config
        }
        if let fragment = config.fragmentPath, let target = readLink(fragment), baseName(target) != name.description,
            baseName(target) != "null"
        {
            return "alias"
        }
        if Self.isLinked(name2.description, unitPaths: unitPaths, hint: config) { return "enabled" }
        for alias in config.alias where unitPaths.contains(where: { isSymlink($0 + "/" + alias) }) { return "enabled" }
        if config.wantedBy.isEmpty && config.requiredBy.isEmpty && config.alias.isEmpty {
            return config.also.isEmpty ? "static" : "indirect"
        }
        return "disabled"
    }

    /// `tend mask`: links `FIRST_DIR/masked/NAME` to /dev/null. systemd links `NAME` itself in /etc/systemd/system,
    /// which outranks the vendor directory holding the unit file; tend's unit files usually live in the first
    /// directory itself, so its masks have a directory of their own that the loader reads before every other.
    /// Masking doesn't stop a running unit (`--now` does), and a unit needn't exist to be masked.
    public func mask(_ names: [String]) throws(InstallError) -> [InstallChange] {
        var changes: [InstallChange] = []
        for raw in names {
            guard let name = UnitName(parsing: raw) else { throw InstallError("Invalid unit name \"\(raw)\".") }
            let path = directory + "/masked/" + name.description
            if isMasked(path) { continue }
            try link(path, to: "/dev/null", mkdir: directory + "/masked", &changes)
        }
        return changes
    }

    /// `tend unmask`: removes the mask links of `mask`, and a `NAME` → /dev/null link in the first directory
    /// (systemd's way of masking, made by hand).
    public func unmask(_ names: [String]) throws(InstallError) -> [InstallChange] {
        var changes: [InstallChange] = []
        for raw in names {
            guard let name = UnitName(parsing: raw) else { throw InstallError("Invalid unit name \"\(raw)\".") }
            for path in [directory + "/masked/" + name.description, directory + "/" + name.description]
            where isSymlink(path) && isMasked(path) {
                guard unlink(path) == 0 else {
                    throw InstallError("Failed to remove \(path): \(String(cString: strerror(errno)))")
                }
                changes.append(InstallChange(kind: .removed, path: path))
            }
        }
        return changes
    }

    /// `tend list-unit-files`: every unit file of the unit paths (the first directory wins for a name), the
    /// masked names, each with its `state` and the file's path.
    public func unitFiles() -> [(name: String, state: String, path: String)] {
        var seen: [String: String] = [:]
        var order: [String] = []
        let dirs = (unitPaths.first.map { [$0 + "/masked"] } ?? []) + unitPaths
        for dir in dirs {
            for entry in listDirectory(dir).sorted() where seen[entry] == nil {
                guard let name = UnitName(parsing: entry), name.description == entry, ["service", "target"].contains(name.suffix)
                else { continue }
                let path = dir + "/" + entry
                guard isRegularFile(path) || isMasked(path) else { continue }
                seen[entry] = path
                order.append(entry)
            }
        }
        return order.sorted().map { ($0, state($0), seen[$0]!) }
    }

    /// Whether some `*.wants/` or `*.requires/` directory of the unit paths links `name`.
    public static func isLinked(_ name: String, unitPaths: [String], hint: ServiceConfig?) -> Bool {
        for dir in unitPaths {
            for target in hint?.wantedBy ?? [] where access("\(dir)/\(target).wants/\(name)", F_OK) == 0 { return true }
            for target in hint?.requiredBy ?? [] where access("\(dir)/\(target).requires/\(name)", F_OK) == 0 {
                return true
            }
        }
        for dir in unitPaths {
            for entry in listDirectory(dir) where entry.hasSuffix(".wants") || entry.hasSuffix(".requires") {
                if isSymlink("\(dir)/\(entry)/\(name)") || access("\(dir)/\(entry)/\(name)", F_OK) == 0 { return true }
            }
        }
        return false
    }

    /// `is-enabled` exit status: 0 for enabled, static, indirect and alias (as systemctl), 1 otherwise.
    public static func isEnabledExitCode(_ state: String) -> Int32 {
        ["enabled", "static", "indirect", "alias", "enabled-runtime", "linked", "generated"].contains(state) ? 0 : 1
    }

    private func link(_ path: String, to target: String, mkdir: String?, _ changes: inout [InstallChange]) throws(InstallError) {
        if let mkdir { try? Posix.mkdirs(mkdir, mode: 0o755) }
        if let existing = readLink(path) {
            if existing == target { return }
            unlink(path)  // a link elsewhere is replaced, as `systemctl enable --force` would
        } else if access(path, F_OK) == 0 {
            throw InstallError("Failed to enable: \(path) exists and is not a symlink.")
        }
        guard symlink(target, path) == 0 else {
            throw InstallError("Failed to create symlink \(path): \(String(cString: strerror(errno)))")
        }
        let shown = target.hasPrefix("/") ? target : parentDirectory(path) + "/" + target
        changes.append(InstallChange(kind: .created, path: path, target: normalize(shown)))
    }
}

private func isSymlink(_ path: String) -> Bool {
    var st = stat()
    return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK
}

private func readLink(_ path: String) -> String? {
    var buf = [CChar](repeating: 0, count: 4096)
    let n = readlink(path, &buf, buf.count - 1)
    guard n >= 0 else { return nil }
    return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// The directory part of a path (`/` for a file in the root, `.` for a bare name).
package func parentDirectory(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    return slash == path.startIndex ? "/" : String(path[..<slash])
}

/// `a/b/../c` → `a/c` (for messages only).
private func normalize(_ path: String) -> String {
    var parts: [Substring] = []
    for p in path.split(separator: "/", omittingEmptySubsequences: true) {
        if p == "." { continue }
        if p == "..", !parts.isEmpty { parts.removeLast(); continue }
        parts.append(p)
    }
    return (path.hasPrefix("/") ? "/" : "") + parts.joined(separator: "/")
}
