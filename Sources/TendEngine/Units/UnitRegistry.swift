import TendModel
import TendSystem

/// Every unit the manager knows, by name: loaded from the unit directories at boot, on demand when a command
/// names one (as systemd loads units), again on daemon-reload; plus the built-in targets no file defines.
final class UnitRegistry {
    private(set) var units: [String: Unit] = [:]
    private(set) var loader: UnitLoader
    private let unitPaths: [String]
    private let environment: [String: String]

    init(unitPaths: [String], environment: [String: String]) {
        self.unitPaths = unitPaths
        self.environment = environment
        loader = UnitLoader(searchPaths: unitPaths, context: SpecifierContext.current(environment: environment))
    }

    subscript(_ name: String) -> Unit? { units[name] }

    /// Every unit, by name (sorting the names, not building them for each comparison).
    var sorted: [Unit] { units.sorted { $0.key < $1.key }.map(\.value) }

    /// Loads every unit file of the search path not loaded yet, and the built-in targets.
    func loadAll(now: MonotonicInstant) {
        for name in loader.listUnitNames() where units[name.description] == nil {
            units[name.description] = Unit(name: name, result: loader.load(name), now: now)
        }
        addBuiltinTargets(now: now)
    }

    /// Finds a unit by name, loading it on demand; nil if no file defines it. A name without a suffix that
    /// no `.service` has is a service directory's (`NAME` → `NAME.dir`, `NAME/log` → `NAME.log.dir`).
    func lookup(_ raw: String, now: MonotonicInstant) -> Unit? {
        if raw.hasSuffix("/log"), let u = units[String(raw.dropLast(4)) + ".log.dir"] { return u }
        guard let name = UnitName(parsing: raw) else { return nil }
        if let u = units[name.description] { return u }
        let result = loader.load(name)
        let bare = name.suffix == "service" && !raw.hasSuffix(".service")
        if result.config == nil, bare, let u = units[raw + ".dir"] { return u }
        guard result.config != nil else { return nil }
        let unit = Unit(name: name, result: result, now: now)
        units[name.description] = unit
        return unit
    }

    /// daemon-reload: re-reads every unit file; `updated` sees each unit that was loaded again. Units whose
    /// file is gone are forgotten once inactive. Returns how many files were read.
    func reload(now: MonotonicInstant, updated: (Unit) -> Void) -> Int {
        loader = UnitLoader(searchPaths: unitPaths, context: SpecifierContext.current(environment: environment))
        var seen: Set<String> = []
        for name in loader.listUnitNames() {
            seen.insert(name.description)
            let result = loader.load(name)
            if let existing = units[name.description] {
                existing.apply(result, now: now)
                updated(existing)
            } else {
                units[name.description] = Unit(name: name, result: result, now: now)
            }
        }
        for (key, unit) in units where !seen.contains(key) && unit.directory == nil {
            if unit.activeState == .inactive || unit.activeState == .failed { units[key] = nil }
        }
        addBuiltinTargets(now: now)
        return seen.count
    }

    /// A unit no file defines (a service directory's), under its name.
    func insert(_ unit: Unit) { units[unit.name.description] = unit }

    func remove(_ name: String) { units[name] = nil }

    /// `tend cat`: the unit's files as loaded.
    func catText(_ raw: String) -> String? {
        guard let name = UnitName(parsing: raw) else { return nil }
        return loader.catText(name)
    }

    // MARK: - Built-in targets

    /// The targets systemd ships, as empty units, for any not defined by a file (systemd.special(7)).
    static let builtinTargets: [(String, String, requires: [String], wants: [String])] = [
        ("default.target", "Default target (built in: wants multi-user.target)", [], ["multi-user.target"]),
        ("multi-user.target", "Multi-User System", ["basic.target"], []),
        ("graphical.target", "Graphical Interface", ["multi-user.target"], []),
        ("basic.target", "Basic System", ["sysinit.target"], ["timers.target"]),
        ("sysinit.target", "System Initialization", [], []),
        ("network.target", "Network", [], []),
        ("network-online.target", "Network is Online", [], []),
        ("network-pre.target", "Preparation for Network", [], []),
        ("nss-lookup.target", "Host and Network Name Lookups", [], []),
        ("remote-fs.target", "Remote File Systems", [], []),
        ("local-fs.target", "Local File Systems", [], []),
        ("time-sync.target", "System Time Synchronized", [], []),
        ("timers.target", "Timer Units", [], []),
        ("sockets.target", "Socket Units", [], []),
        ("paths.target", "Path Units", [], []),
        ("shutdown.target", "System Shutdown", [], []),
    ]
    private func addBuiltinTargets(now: MonotonicInstant) {
        for (name, description, requires, wants) in Self.builtinTargets where units[name] == nil {
            guard let unitName = UnitName(parsing: name) else { continue }
            var c = ServiceConfig(name: unitName)
            c.description = description
            c.requires = requires
            c.after = requires
            c.wants = wants
            units[name] = Unit(name: unitName, result: UnitLoadResult(config: c, diagnostics: []), now: now)
        }
    }
}
