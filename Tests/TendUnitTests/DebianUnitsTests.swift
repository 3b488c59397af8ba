import Glibc
import Testing
import TendModel
import TendSystem
import TendEngine

/// Every unit shipped with Debian's `systemd` package must load without errors (service and target units; other
/// types are not run by tend yet and are skipped). The directory comes from `TEND_DEBIAN_UNITS` (CI extracts the
/// package there: see `.ci/run`), else `/lib/systemd/system` when this machine has it.
struct DebianUnitsTests {
    static let directory: String? = {
        if let d = Posix.environment()["TEND_DEBIAN_UNITS"], !d.isEmpty { return d }
        return access("/lib/systemd/system", F_OK) == 0 ? "/lib/systemd/system" : nil
    }()

    @Test(.enabled(if: directory != nil, "set TEND_DEBIAN_UNITS to an extracted systemd package's lib/systemd/system"))
    func everyDebianServiceAndTargetLoadsWithoutErrors() throws {
        let dir = try #require(Self.directory)
        let loader = UnitLoader(searchPaths: [dir], context: SpecifierContext.current(environment: Posix.environment()))
        var entries: [String] = []
        if let d = opendir(dir) {
            while let e = readdir(d) {
                let name = withUnsafePointer(to: &e.pointee.d_name) {
                    $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                }
                if name.hasSuffix(".service") || name.hasSuffix(".target") { entries.append(name) }
            }
            closedir(d)
        }
        #expect(entries.count > 20, "expected the systemd package's units in \(dir)")
        var loaded = 0
        var problems: [String] = []
        var masked = 0
        var unsupported: [String] = []
        for entry in entries.sorted() {
            guard var name = UnitName(parsing: entry) else {
                problems.append("\(entry): not a unit name")
                continue
            }
            // systemd only ever loads a template's instances: load one (`%i` in User=, BindsTo=%i.device, …).
            if name.isTemplate { name.instance = "tend1" }
            let result = loader.load(name)
            if result.diagnostics.contains(where: { $0.message.hasSuffix("is masked") }) {
                masked += 1  // a link to /dev/null, as systemd ships some
                continue
            }
            for d in result.diagnostics where d.severity == .error {
                // Features tend refuses on purpose (a unit using them does not start, naming the line) are not load
                // failures: today only Standard{Input,Output,Error}=tty and tty-force (gettys, rescue shells).
                if d.message.contains("is not supported by tend") {
                    unsupported.append(d.description)
                } else {
                    problems.append(d.description)
                }
            }
            if result.config != nil { loaded += 1 }
        }
        // `tend verify` of each template file, as `systemd-analyze verify` checks one: with a placeholder instance.
        for entry in entries.sorted() where UnitName(parsing: entry)?.isTemplate == true {
            let result = loader.loadFile(path: dir + "/" + entry)
            for d in result.diagnostics where d.severity == .error && !d.message.contains("is not supported by tend") {
                problems.append("verify: " + d.description)
            }
        }
        #expect(problems.isEmpty, "\(problems.count) errors:\n\(problems.joined(separator: "\n"))")
        #expect(loaded + masked == entries.count)
        #expect(unsupported.allSatisfy { $0.contains("\"tty") }, "unexpected unsupported features:\n\(unsupported.joined(separator: "\n"))")
        // And their dependencies make a graph in which starting the default target is a valid transaction.
        var deps: [UnitDependencies] = []
        for entry in entries {
            if let name = UnitName(parsing: entry), !name.isTemplate, let c = loader.load(name).config {
                deps.append(UnitDependencies(config: c))
            }
        }
        let graph = DependencyGraph(units: deps)
        if graph.isKnown("multi-user.target") {
            do {
                _ = try Transaction.build(graph, anchor: "multi-user.target", kind: .start, state: { _ in .inactive })
            } catch {
                Issue.record("starting multi-user.target: \(error)")
            }
        }
    }
}

