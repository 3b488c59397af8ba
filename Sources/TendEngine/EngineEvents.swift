import TendModel

/// What the engine tells its observers (the control server's subscriptions, probes, the web front end): every
/// change of a unit's state and every finished job, in the order they happened, on the manager's thread.
public enum EngineEvent: Sendable, Equatable {
    /// A unit's active or sub state changed; `result` is the service's result (`success`, `exit-code`, ...).
    case unitChanged(unit: String, activeState: ActiveState, subState: String, result: String)
    /// A job finished (systemd's `JobRemoved` signal): its unit, kind and result.
    case jobFinished(unit: String, job: String, result: JobResult)
}

/// The observers of one manager. Registering costs nothing when no one listens: `publish` is a loop over an
/// empty dictionary.
final class EngineObservers {
    private var handlers: [UInt64: (EngineEvent) -> Void] = [:]
    private var next: UInt64 = 1

    func add(_ handler: @escaping (EngineEvent) -> Void) -> UInt64 {
        let token = next
        next += 1
        handlers[token] = handler
        return token
    }

    func remove(_ token: UInt64) {
        handlers[token] = nil
        logHandlers[token] = nil
    }

    var isEmpty: Bool { handlers.isEmpty }

    /// Observers of log records: each gets the unit's name and a chunk of whole records (newline-terminated
    /// lines in the store's format), as the log writer was handed them.
    private var logHandlers: [UInt64: (String, [UInt8]) -> Void] = [:]

    func addLogs(_ handler: @escaping (String, [UInt8]) -> Void) -> UInt64 {
        let token = next
        next += 1
        logHandlers[token] = handler
        return token
    }

    var wantLogs: Bool { !logHandlers.isEmpty }

    func publishLogs(_ unit: String, _ chunk: [UInt8]) {
        for token in logHandlers.keys.sorted() { logHandlers[token]?(unit, chunk) }
    }

    func publish(_ event: EngineEvent) {
        guard !handlers.isEmpty else { return }
        // In token order, so subscribers see the same sequence; a handler may unsubscribe itself.
        for token in handlers.keys.sorted() { handlers[token]?(event) }
    }
}

/// Why a job request did not end in `done`: refused before a job existed, or the job's own result.
public struct JobFailure: Error, Sendable {
    public enum Reason: Sendable, Equatable {
        case unitNotFound
        /// A template without an instance.
        case badUnitName
        /// The unit file did not load.
        case badSetting
        case shuttingDown
        /// The job ran (or its transaction was refused) and ended so.
        case job(JobResult)
    }
    public var reason: Reason
    /// What `tend` prints: systemctl's wording, with the unit's last process and hints.
    public var message: String
    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }
}
