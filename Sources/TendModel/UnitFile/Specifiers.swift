
/// The values of `%` specifiers that don't come from the unit's name (systemd.unit(5), "Specifiers").
public struct SpecifierContext: Sendable {
    /// `%u`
    public var userName: String
    /// `%U`
    public var uid: UInt32
    /// `%h`
    public var home: String
    /// `%t`: `/run` for root, `$XDG_RUNTIME_DIR` otherwise.
    public var runtimeDir: String
    /// `%S`: `/var/lib` for root, `$XDG_STATE_HOME` (else `~/.local/state`) otherwise.
    public var stateDir: String
    /// `%C`: `/var/cache` for root, `$XDG_CACHE_HOME` (else `~/.cache`) otherwise.
    public var cacheDir: String
    /// `%L`: `/var/log` for root, `%S/log` otherwise.
    public var logsDir: String
    /// `%E`: `/etc` for root, `$XDG_CONFIG_HOME` (else `~/.config`) otherwise.
    public var configDir: String
    /// `%H` and `%l`.
    public var hostName: String
    /// `%g`
    public var groupName: String
    /// `%G`
    public var gid: UInt32
    /// `%s`
    public var shell: String
    /// `%T`: `$TMPDIR` or `/tmp`.
    public var tempDir: String
    /// `%V`: `$TMPDIR` or `/var/tmp`.
    public var varTempDir: String
    /// `%v`: the kernel release (uname -r).
    public var kernelRelease: String = ""
    /// `%a`: the architecture in systemd's names (`x86-64`, `arm64`, ...).
    public var architecture: String = ""
    /// os-release(5)'s fields, for `%o` (ID), `%w` (VERSION_ID), `%W` (VARIANT_ID), `%B` (BUILD_ID),
    /// `%M` (IMAGE_ID) and `%A` (IMAGE_VERSION); a field that isn't set gives an empty string, as in systemd.
    public var osRelease: [String: String] = [:]
    /// `%m`: /etc/machine-id (empty when the host has none: the specifier is then an error).
    public var machineID: String = ""
    /// `%b`: the boot ID, 32 hex digits.
    public var bootID: String = ""
    /// `%q`: PRETTY_HOSTNAME= of /etc/machine-info, else the short host name.
    public var prettyHostName: String = ""

    /// KEY=value lines as os-release(5) and machine-info(5) write them (values optionally quoted, `#` comments).
    public static func parseAssignments(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for raw in text.split(separator: "\n") {
            var line = Substring(raw)
            while let f = line.first, f == " " || f == "\t" { line.removeFirst() }
            while let l = line.last, l == " " || l == "\t" || l == "\r" { line.removeLast() }
            guard !line.hasPrefix("#"), let eq = line.firstIndex(of: "=") else { continue }
            let key = String(line[..<eq])
            var value = String(line[line.index(after: eq)...])
            if let q = value.first, q == "\"" || q == "'", value.count >= 2, value.last == q {
                value = String(value.dropFirst().dropLast())
                if q == "\"" {
                    var unescaped = ""
                    var escaping = false
                    for c in value {
                        if escaping || c != "\\" { unescaped.append(c); escaping = false } else { escaping = true }
                    }
                    value = unescaped
                }
            }
            out[key] = value
        }
        return out
    }

    public init(
        userName: String, uid: UInt32, home: String, runtimeDir: String, stateDir: String, cacheDir: String,
        logsDir: String, configDir: String, hostName: String, groupName: String = "root", gid: UInt32 = 0,
        shell: String = "/bin/sh", tempDir: String = "/tmp", varTempDir: String = "/var/tmp"
    ) {
        self.userName = userName
        self.uid = uid
        self.home = home
        self.runtimeDir = runtimeDir
        self.stateDir = stateDir
        self.cacheDir = cacheDir
        self.logsDir = logsDir
        self.configDir = configDir
        self.hostName = hostName
        self.groupName = groupName
        self.gid = gid
        self.shell = shell
        self.tempDir = tempDir
        self.varTempDir = varTempDir
    }
}

/// Undoes systemd's unit name escaping (`systemd-escape`): `-` is `/`, `\xNN` a byte.
func unescapeUnitNamePart(_ s: String) -> String {
    let b = Array(s.utf8)
    var out: [UInt8] = []
    out.reserveCapacity(b.count)
    var i = 0
    func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
    while i < b.count {
        let c = b[i]
        if c == UInt8(ascii: "-") {
            out.append(UInt8(ascii: "/"))
            i += 1
        } else if c == UInt8(ascii: "\\"), i + 3 < b.count, b[i + 1] == UInt8(ascii: "x"),
            let h = hex(b[i + 2]), let l = hex(b[i + 3])
        {
            out.append(h << 4 | l)
            i += 4
        } else {
            out.append(c)
            i += 1
        }
    }
    return decodeUTF8(out)
}

/// `%f`: the unescaped instance (or prefix) as an absolute path.
func unescapedPath(_ s: String) -> String {
    let u = unescapeUnitNamePart(s)
    return u.hasPrefix("/") ? u : "/" + u
}

/// Why a value could not be used: an unresolvable specifier, a bad command line. The message is the
/// diagnostic's text.
struct ValueError: Error, Equatable, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Resolves `%` specifiers for one unit.
struct SpecifierResolver: Sendable {
    var name: UnitName
    var context: SpecifierContext
    /// The fragment's path, for `%y` / `%Y`.
    var fragmentPath: String?

    func value(of c: Character) throws(ValueError) -> String {
        let prefix = name.prefix
        let instance = name.instance ?? ""
        switch c {
        case "n": return name.description
        case "N":
            return name.instance.map { "\(prefix)@\($0)" } ?? prefix
        case "p": return prefix
        case "P": return unescapeUnitNamePart(prefix)
        case "i": return instance
        case "I": return unescapeUnitNamePart(instance)
        case "f":
            return name.instance.map { $0.isEmpty ? unescapedPath(prefix) : unescapedPath($0) }
                ?? unescapedPath(prefix)
        case "j": return lastDashComponent(prefix)
        case "J": return unescapeUnitNamePart(lastDashComponent(prefix))
        case "u": return context.userName
        case "U": return String(context.uid)
        case "g": return context.groupName
        case "G": return String(context.gid)
        case "h": return context.home
        case "s": return context.shell
        case "t": return context.runtimeDir
        case "S": return context.stateDir
        case "C": return context.cacheDir
        case "L": return context.logsDir
        case "E": return context.configDir
        case "T": return context.tempDir
        case "V": return context.varTempDir
        case "H": return context.hostName
        case "l":
            return String(context.hostName.prefix(while: { $0 != "." }))
        case "y":
            guard let fragmentPath else { throw ValueError(message: "specifier %y: unit has no file") }
            return fragmentPath
        case "Y":
            guard let fragmentPath else { throw ValueError(message: "specifier %Y: unit has no file") }
            return directoryName(fragmentPath)
        case "%": return "%"
        case "v", "a":
            let value = c == "v" ? context.kernelRelease : context.architecture
            guard !value.isEmpty else { throw ValueError(message: "specifier %\(c): not known") }
            return value
        case "o": return context.osRelease["ID"] ?? ""
        case "w": return context.osRelease["VERSION_ID"] ?? ""
        case "W": return context.osRelease["VARIANT_ID"] ?? ""
        case "B": return context.osRelease["BUILD_ID"] ?? ""
        case "M": return context.osRelease["IMAGE_ID"] ?? ""
        case "A": return context.osRelease["IMAGE_VERSION"] ?? ""
        case "m", "b":
            let value = c == "m" ? context.machineID : context.bootID
            guard !value.isEmpty else {
                throw ValueError(message: c == "m" ? "specifier %m: this host has no /etc/machine-id" : "specifier %b: no boot ID")
            }
            return value
        case "q": return context.prettyHostName.isEmpty ? String(context.hostName.prefix(while: { $0 != "." })) : context.prettyHostName
        case "d": return context.runtimeDir + "/credentials/" + name.description
        default:
            throw ValueError(message: "unknown specifier %\(c)")
        }
    }

    /// `s` with every specifier replaced.
    func expand(_ s: String) throws(ValueError) -> String {
        guard s.utf8.contains(UInt8(ascii: "%")) else { return s }
        var out = ""
        var iterator = s.makeIterator()
        while let c = iterator.next() {
            if c != "%" {
                out.append(c)
                continue
            }
            guard let spec = iterator.next() else {
                throw ValueError(message: "'%' at the end of the value (write %% for a percent sign)")
            }
            out += try value(of: spec)
        }
        return out
    }
}

/// For `%j`: the part of the prefix after its last dash, or all of it.
private func lastDashComponent(_ prefix: String) -> String {
    guard let dash = prefix.lastIndex(of: "-") else { return prefix }
    return String(prefix[prefix.index(after: dash)...])
}

/// The directory part of a path (`/a/b` → `/a`, `b` → `.`).
func directoryName(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    if slash == path.startIndex { return "/" }
    return String(path[..<slash])
}

/// The last component of a path.
package func baseName(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return path }
    return String(path[path.index(after: slash)...])
}
