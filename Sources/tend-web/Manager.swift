import Glibc
import TendControl
import TendSystem

/// Runs blocking work (a control request, a log file read) on a thread of its own and awaits it, so that
/// the server's event loops never wait on the manager. Each call is a short-lived thread: the dashboard's
/// load is a handful of requests a second.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
        startThread {
            do { c.resume(returning: try body()) } catch { c.resume(throwing: error) }
        }
    }
}

private final class ThreadBody {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

/// A detached pthread running `body`.
func startThread(_ body: @escaping @Sendable () -> Void) {
    let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    var t = pthread_t()
    var attr = pthread_attr_t()
    pthread_attr_init(&attr)
    pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
    let rc = pthread_create(&t, &attr, { p in
        let b = Unmanaged<ThreadBody>.fromOpaque(p!).takeRetainedValue()
        b.run()
        return nil
    }, box)
    pthread_attr_destroy(&attr)
    if rc != 0 {
        // No thread to be had: run it here rather than never.
        Unmanaged<ThreadBody>.fromOpaque(box).takeRetainedValue().run()
    }
}

/// The manager, as this process sees it: one control connection per request.
struct ManagerLink: Sendable {
    let stateDir: String

    func call<R: ControlReply>(_ request: ControlRequest, as type: R.Type = R.self) async throws -> R {
        let dir = stateDir
        return try await onThread { () throws -> R in try ControlClient.call(stateDir: dir, request, as: type) }
    }

    /// A raw request, its raw reply (errors thrown as ControlError).
    func raw(_ json: JSON) async throws -> JSON {
        let dir = stateDir
        return try await onThread { () throws -> JSON in try ControlClient(stateDir: dir).request(json) }
    }
}

/// The HTTP status for a manager's error code.
func httpStatus(for code: ControlErrorCode) -> Int {
    switch code {
    case .unitNotFound, .noSuchUnit, .noUnitFiles: return 404
    case .malformedRequest, .invalidArgument, .badUnitName, .unknownCommand, .requestTooLarge: return 400
    case .accessDenied: return 403
    case .jobFailed, .badSetting, .notActive, .noMainProcess, .installFailed, .shuttingDown: return 409
    case .connectionFailed, .protocolError, .timedOut: return 503
    case .failed: return 409
    }
}
