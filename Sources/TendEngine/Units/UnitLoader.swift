import Glibc
import TendModel
import TendSystem

/// The result of loading a unit: its configuration and every problem found on the way.
public struct UnitLoadResult: Sendable {
    /// nil only if the unit's file could not be found or read at all.
    public var config: ServiceConfig?
    public var diagnostics: [Diagnostic]
    /// Whether any diagnostic is an error: such a unit must not be started.
    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
    /// Whether the unit is masked (its file is /dev/null or empty, or `tend mask` linked it).
    public var isMasked: Bool { config == nil && diagnostics.contains { $0.message.hasSuffix(" is masked") } }

    public init(config: ServiceConfig?, diagnostics: [Diagnostic]) {
        self.config = config
        self.diagnostics = diagnostics
    }
}

/// Finds unit files in a search path and loads them with their drop-ins (systemd.unit(5), "Description").
public struct UnitLoader: Sendable {
    /// Directories searched in order; the first one holding a unit's file wins.
    public var searchPaths: [String]
    public var context: SpecifierContext

    public init(searchPaths: [String], context: SpecifierContext) {
        self.searchPaths = searchPaths
        self.context = context
    }

    /// Finds `name` in the search paths (first path wins), instantiates templates (`NAME@INST.service` from
    /// `NAME@.service` when no `NAME@INST.service` file exists), applies the drop-ins `NAME.service.d/*.conf` (and
    /// for instances also the template's `NAME@.service.d/*.conf`) from all search paths sorted by file name, later
    /// ones overriding earlier ones, then checks the result as systemd does.
    ///
    /// A unit file that is a symlink to /dev/null (or empty, as systemd treats it) is masked: no configuration.
    public func load(_ name: UnitName) -> UnitLoadResult {
        guard let fragment = fragmentPath(for: name) else {
            return UnitLoadResult(
                config: nil,
                diagnostics: [
                    Diagnostic(
                        severity: .error, location: SourceLocation(file: name.description, line: 0), directive: nil,
                        message: "unit \(name) not found in \(searchPaths.joined(separator: ", "))")
                ])
        }
        var result = parseFile(fragment, as: name)
        guard var config = result.config else { return result }
        for dropIn in dropInPaths(for: name) {
            switch readUnitFile(dropIn) {
            case .success(let text):
                config.dropInPaths.append(dropIn)
                parseUnitText(text, file: dropIn, into: &config, context: context, diagnostics: &result.diagnostics)
            case .failure(let error):
                result.diagnostics.append(
                    Diagnostic(
                        severity: .error, location: SourceLocation(file: dropIn, line: 0), directive: nil,
                        message: error.message))
            }
        }
        finalizeServiceConfig(&config)
        result.diagnostics += validateServiceConfig(config, file: fragment)
        result.diagnostics += validateTimerConfig(config, file: fragment)
        result.config = config
        return result
    }

    /// One file on its own, the unit name taken from its file name, without drop-ins (for `tend verify FILE`).
    /// A template is checked as an instance of itself named `test_instance`, as `systemd-analyze verify` does,
    /// so `After=%i.device` or `User=%i` are not errors.
    public func loadFile(path: String) -> UnitLoadResult {
        guard var name = UnitName(parsing: baseName(path)) else {
            return UnitLoadResult(
                config: nil,
                diagnostics: [
                    Diagnostic(
                        severity: .error, location: SourceLocation(file: path, line: 0), directive: nil,
                        message: "\"\(baseName(path))\" is not a valid unit name")
                ])
        }
        if name.isTemplate { name = UnitName(prefix: name.prefix, instance: "test_instance", suffix: name.suffix) }
        var result = parseFile(path, as: name)
        if var config = result.config {
            finalizeServiceConfig(&config)
            result.diagnostics += validateServiceConfig(config, file: path)
            result.diagnostics += validateTimerConfig(config, file: path)
            result.config = config
        }
        return result
    }

    /// Every unit name in the search paths (files ending in `.service` or `.target`, templates left out),
    /// sorted and without duplicates.
    public func listUnitNames() -> [UnitName] {
        var names = Set<UnitName>()
        for dir in searchPaths {
            for entry in listDirectory(dir) where entry.hasSuffix(".service") || entry.hasSuffix(".target") || entry.hasSuffix(".timer") {
                guard isRegularFile(dir + "/" + entry), let name = UnitName(parsing: entry),
                    !name.isTemplate, isValidUnitName(entry)
                else { continue }
                names.insert(name)
            }
        }
        return names.sorted()
    }

    /// The raw text of the unit's file and its drop-ins, each after a `# /path` line, as `systemctl cat` prints
    /// them; nil if the unit has no file.
    public func catText(_ name: UnitName) -> String? {
        guard let fragment = fragmentPath(for: name) else { return nil }
        var out = ""
        for path in [fragment] + dropInPaths(for: name) {
            guard case .success(let text) = readUnitFile(path) else { continue }
            if !out.isEmpty { out += "\n" }
            out += "# \(path)\n"
            out += text
            if !text.isEmpty && !text.hasSuffix("\n") { out += "\n" }
        }
        return out
    }

    // MARK: - Finding files

    /// The file that defines `name`: `NAME` itself in the first search path that has it, else its template.
    public func fragmentPath(for name: UnitName) -> String? {
        // `tend mask` links FIRST_DIR/masked/NAME to /dev/null: it outranks every directory (see UnitInstaller.mask).
        if let first = searchPaths.first {
            for n in [name] + (name.template.map { [$0] } ?? []) where isMasked(first + "/masked/" + n.description) {
                return first + "/masked/" + n.description
            }
        }
        for dir in searchPaths where isFileOrDevNull(dir + "/" + name.description) {
            return dir + "/" + name.description
        }
        if let template = name.template {
            for dir in searchPaths where isFileOrDevNull(dir + "/" + template.description) {
                return dir + "/" + template.description
            }
        }
        return nil
    }

    /// The drop-in files for `name`, sorted by file name; for equal names the first search path wins.
    func dropInPaths(for name: UnitName) -> [String] {
        var units = [name.description]
        if let template = name.template { units.append(template.description) }
        var byName: [String: String] = [:]
        for dir in searchPaths {
            for unit in units {
                let dropInDir = dir + "/" + unit + ".d"
                for entry in listDirectory(dropInDir) where entry.hasSuffix(".conf") && byName[entry] == nil {
                    let path = dropInDir + "/" + entry
                    if isRegularFile(path) { byName[entry] = path }
                }
            }
        }
        return byName.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }.map { byName[$0]! }
    }

    private func parseFile(_ path: String, as name: UnitName) -> UnitLoadResult {
        if isMasked(path) {
            return UnitLoadResult(
                config: nil,
                diagnostics: [
                    Diagnostic(
                        severity: .error, location: SourceLocation(file: path, line: 0), directive: nil,
                        message: "unit \(name) is masked")
                ])
        }
        switch readUnitFile(path) {
        case .failure(let error):
            return UnitLoadResult(
                config: nil,
                diagnostics: [
                    Diagnostic(
                        severity: .error, location: SourceLocation(file: path, line: 0), directive: nil,
                        message: error.message)
                ])
        case .success(let text):
            var config = ServiceConfig(name: name)
            config.fragmentPath = path
            var diagnostics: [Diagnostic] = []
            parseUnitText(text, file: path, into: &config, context: context, diagnostics: &diagnostics)
            return UnitLoadResult(config: config, diagnostics: diagnostics)
        }
    }
}

// MARK: - Small Glibc helpers (the loader's only I/O)

struct FileReadError: Error, Equatable {
    var message: String
}

private func errnoMessage(_ what: String, _ path: String, _ code: Int32) -> FileReadError {
    FileReadError(message: "cannot \(what) \(path): \(String(cString: strerror(code)))")
}

/// Reads a unit file as text, refusing files over `maximumUnitFileSize`. Invalid UTF-8 becomes U+FFFD, which the
/// parser reports per line.
func readUnitFile(_ path: String) -> Result<String, FileReadError> {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd < 0 { return .failure(errnoMessage("open", path, errno)) }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            return .failure(errnoMessage("read", path, errno))
        }
        if n == 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
        if bytes.count > maximumUnitFileSize {
            return .failure(
                FileReadError(
                    message: "\(path) is larger than \(maximumUnitFileSize >> 20) MiB, refusing to parse it"))
        }
    }
    return .success(String(decoding: bytes, as: UTF8.self))
}

private func fileMode(_ path: String) -> mode_t? {
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    return st.st_mode & S_IFMT
}

func isRegularFile(_ path: String) -> Bool { fileMode(path) == S_IFREG }

/// A regular file, or a unit masked by a symlink to /dev/null.
private func isFileOrDevNull(_ path: String) -> Bool {
    let mode = fileMode(path)
    return mode == S_IFREG || (mode == S_IFCHR && isMasked(path))
}

/// A unit is masked when its file is (a symlink to) /dev/null or empty, as systemd.unit(5) says.
func isMasked(_ path: String) -> Bool {
    var st = stat()
    guard stat(path, &st) == 0 else { return false }
    if (st.st_mode & S_IFMT) == S_IFREG { return st.st_size == 0 }
    var null = stat()
    guard stat("/dev/null", &null) == 0 else { return false }
    return (st.st_mode & S_IFMT) == S_IFCHR && st.st_rdev == null.st_rdev
}

/// The names in a directory (without `.` and `..`), or none if it can't be read.
func listDirectory(_ path: String) -> [String] {
    guard let dir = opendir(path) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafePointer(to: &entry.pointee.d_name) {
            $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}
