// Which entries of a scanned directory (`svscan DIR`, `runsvdir DIR`) are services, as pure logic: the caller
// lists the entries (following symlinks) and this decides, so the rule is tested without a file system.

/// One entry of the scanned directory, as the caller saw it.
public struct ServiceDirectoryEntry: Equatable, Sendable {
    public var name: String
    /// A directory, or a symlink to one.
    public var isDirectory: Bool
    /// `run` exists at all, and whether it is executable.
    public var hasRun: Bool
    public var runExecutable: Bool
    /// `./down` exists: not started automatically.
    public var hasDown: Bool
    /// `log/run` exists and is executable.
    public var hasLog: Bool

    public init(name: String, isDirectory: Bool, hasRun: Bool, runExecutable: Bool, hasDown: Bool = false,
                hasLog: Bool = false) {
        self.name = name
        self.isDirectory = isDirectory
        self.hasRun = hasRun
        self.runExecutable = runExecutable
        self.hasDown = hasDown
        self.hasLog = hasLog
    }
}

/// A service found in the scanned directory.
public struct ScannedService: Equatable, Sendable {
    public var name: String
    public var startsAutomatically: Bool
    public var hasLog: Bool
}

/// The outcome of one scan: the services, and one message per entry that was passed over for a reason worth
/// telling the operator (dot-entries and plain files are passed over silently, as svscan does).
public struct ServiceDirectoryScan: Equatable, Sendable {
    public var services: [ScannedService]
    public var problems: [String]

    /// The unit-name suffix a scan service also answers to (`NAME.dir`), so it can be named like any unit.
    public static let unitSuffix = ".dir"

    /// `existingUnits` are the names of units loaded from unit files: a directory whose name clashes with one
    /// (`NAME` or `NAME.dir` against `NAME.service`/`NAME.dir`) is reported, not merged.
    public static func decide(_ entries: [ServiceDirectoryEntry], existingUnits: Set<String>) -> ServiceDirectoryScan {
        var services: [ScannedService] = []
        var problems: [String] = []
        for entry in entries.sorted(by: { $0.name < $1.name }) {
            if entry.name.hasPrefix(".") || !entry.isDirectory { continue }
            if !entry.hasRun {
                problems.append("\(entry.name): no ./run, not supervised")
                continue
            }
            if !entry.runExecutable {
                problems.append("\(entry.name): ./run is not executable, not supervised")
                continue
            }
            if entry.name.contains("/") || entry.name.contains("\n") {
                problems.append("\(entry.name): not a usable service name, not supervised")
                continue
            }
            let clash = [entry.name, entry.name + ".service", entry.name + unitSuffix].first(where: existingUnits.contains)
            if let clash {
                problems.append("\(entry.name): the unit \(clash) has that name already; the directory is not supervised")
                continue
            }
            services.append(ScannedService(name: entry.name, startsAutomatically: !entry.hasDown, hasLog: entry.hasLog))
        }
        return ServiceDirectoryScan(services: services, problems: problems)
    }

    /// The services to start and to stop when a rescan (after an inotify event) finds `next` where `current` was.
    public static func difference(from current: [ScannedService], to next: [ScannedService])
        -> (added: [ScannedService], removed: [String])
    {
        let before = Set(current.map(\.name))
        let after = Set(next.map(\.name))
        return (next.filter { !before.contains($0.name) }, current.map(\.name).filter { !after.contains($0) })
    }
}
