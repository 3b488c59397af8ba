import Glibc
import TendEngine
import TendModel
import TendSystem

/// A manager on a fake system: unit files in a temporary directory (real files: the loader reads them), a
/// manual clock, no process spawned. Everything the manager does happens inside the test's calls.
public final class FakeManager {
    public let clock = ManualClock()
    public let system: FakeSystem
    public let reactor: FakeReactor
    public let manager: Manager
    public let root: String
    /// Every engine event, in order.
    public private(set) var events: [EngineEvent] = []

    public init(units: [String: String], logs: Bool = false, stateDir: String? = nil,
                prepare: (FakeSystem) -> Void = { _ in }) throws {
        var template = Array("/tmp/tend-fake-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        root = p.map { String(cString: $0) } ?? "/tmp/tend-fake-\(getpid())"
        try Posix.mkdirs(root + "/units")
        for (name, text) in units {
            let fd = Glibc.open(root + "/units/" + name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            _ = try Posix.write(fd, Array(text.utf8))
            Posix.close(fd)
        }
        system = FakeSystem(clock: clock)
        reactor = FakeReactor(clock: clock)
        system.reactor = reactor
        prepare(system)
        var options = ManagerOptions(unitPaths: [root + "/units"], stateDir: stateDir ?? root + "/state", logDir: root + "/logs")
        options.startAll = false
        manager = try Manager(options: options, system: system, reactor: reactor)
        manager.logHandler = { _, _ in }
        _ = manager.subscribe { [unowned self] e in self.events.append(e) }
        try manager.boot()
        reactor.settle()
    }

    deinit {
        manager.finishLogs()
        Self.removeTree(root)
    }

    /// `rm -rf` without a process: the temporary directory's files and folders.
    static func removeTree(_ path: String) {
        if let d = opendir(path) {
            while let e = readdir(d) {
                let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name == "." || name == ".." { continue }
                let child = path + "/" + name
                if e.pointee.d_type == UInt8(DT_DIR) { removeTree(child) } else { unlink(child) }
            }
            closedir(d)
        }
        rmdir(path)
    }

    /// Submits a job and settles; the result arrives when the job finishes (maybe later, as the clock moves).
    @discardableResult
    public func job(_ kind: JobKind, _ unit: String) -> JobOutcome {
        let outcome = JobOutcome()
        manager.submit(kind, unit: unit) { failure in
            outcome.finished = true
            outcome.ok = failure == nil
            outcome.failure = failure
        }
        reactor.settle()
        return outcome
    }

    public func unit(_ name: String) -> Unit? { manager.unit(named: name) }
    public func sub(_ name: String) -> String { unit(name)?.subState ?? "?" }

    /// The unit state changes seen for one unit, as `active/sub` strings.
    public func states(_ name: String) -> [String] {
        let full = UnitName(parsing: name)?.description ?? name
        return events.compactMap {
            if case .unitChanged(let u, let a, let s, _) = $0, u == full { return "\(a.rawValue)/\(s)" }
            return nil
        }
    }
}

/// A job's result, filled in when it finishes.
public final class JobOutcome {
    public var finished = false
    public var ok = false
    public var failure: JobFailure?
    public var message: String? { failure?.message }
}
