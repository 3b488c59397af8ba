/// One sd_notify datagram, parsed (sd_notify(3)): newline-separated `KEY=VALUE` assignments. Unknown keys
/// are ignored, as systemd does; a known key with a bad value makes the whole message malformed, so that
/// nothing half-applied ever reaches a service's state.
public struct NotifyMessage: Equatable, Sendable {
    public var ready = false
    public var reloading = false
    public var stopping = false
    /// `MONOTONIC_USEC=` sent with `RELOADING=1`.
    public var monotonicUsec: UInt64?
    /// `STATUS=`: shown as is; bytes that are not UTF-8 (Latin-1 clients) are replaced, never refused.
    public var status: String?
    public var errno: Int32?
    public var busError: String?
    public var exitStatus: Int32?
    public var mainPID: Int32?
    public var notifyAccess: NotifyAccess?
    /// `WATCHDOG=1`
    public var watchdogPing = false
    /// `WATCHDOG=trigger`
    public var watchdogTrigger = false
    public var watchdogUsec: UInt64?
    public var extendTimeoutUsec: UInt64?
    public var restartReset = false
    public var barrier = false
    public var fdStore = false
    public var fdStoreRemove = false
    public var fdName: String?
    public var fdPoll: Bool?

    public init() {}

    public enum ParseError: Error, Equatable, Sendable {
        case empty
        case badValue(key: String)
        case badLine
    }

    /// The largest datagram read (systemd's NOTIFY_BUFFER_MAX).
    public static let maxSize = 4096

    /// Parses one datagram. The concrete overloads are what the manager calls: a generic function is not
    /// specialized across a module boundary, and this runs for every datagram.
    public static func parse(_ bytes: ArraySlice<UInt8>) throws(ParseError) -> NotifyMessage { try parse(datagram: bytes) }
    public static func parse(_ bytes: [UInt8]) throws(ParseError) -> NotifyMessage { try parse(datagram: bytes) }
    public static func parse(_ bytes: some Collection<UInt8>) throws(ParseError) -> NotifyMessage { try parse(datagram: bytes) }

    static func parse(datagram bytes: some Collection<UInt8>) throws(ParseError) -> NotifyMessage {
        var m = NotifyMessage()
        var any = false
        for rawLine in bytes.split(separator: 10, omittingEmptySubsequences: true) {
            guard let eq = rawLine.firstIndex(of: UInt8(ascii: "=")) else {
                throw .badLine
            }
            let key = String(decoding: rawLine[rawLine.startIndex..<eq], as: UTF8.self)
            let valueBytes = rawLine[rawLine.index(after: eq)...]
            let value = String(decoding: valueBytes, as: UTF8.self)
            any = true
            switch key {
            case "READY": m.ready = try flag(value, key)
            case "RELOADING": m.reloading = try flag(value, key)
            case "STOPPING": m.stopping = try flag(value, key)
            case "MONOTONIC_USEC": m.monotonicUsec = try number(value, key)
            case "STATUS": m.status = value
            case "ERRNO":
                guard let e = Int32(value), e >= 0 else { throw .badValue(key: key) }
                m.errno = e
            case "BUSERROR": m.busError = value
            case "EXIT_STATUS":
                guard let e = Int32(value), e >= 0, e <= 255 else { throw .badValue(key: key) }
                m.exitStatus = e
            case "MAINPID":
                guard let p = Int32(value), p > 1 else { throw .badValue(key: key) }
                m.mainPID = p
            case "NOTIFYACCESS":
                guard let a = NotifyAccess(rawValue: value) else { throw .badValue(key: key) }
                m.notifyAccess = a
            case "WATCHDOG":
                if value == "1" {
                    m.watchdogPing = true
                } else if value == "trigger" {
                    m.watchdogTrigger = true
                } else {
                    throw .badValue(key: key)
                }
            case "WATCHDOG_USEC": m.watchdogUsec = try number(value, key)
            case "EXTEND_TIMEOUT_USEC": m.extendTimeoutUsec = try number(value, key)
            case "RESTART_RESET": m.restartReset = try flag(value, key)
            case "BARRIER": m.barrier = try flag(value, key)
            case "FDSTORE": m.fdStore = try flag(value, key)
            case "FDSTOREREMOVE": m.fdStoreRemove = try flag(value, key)
            case "FDNAME":
                // ≤255 printable ASCII, no ':' (it separates names in LISTEN_FDNAMES).
                guard !valueBytes.isEmpty, valueBytes.count <= 255,
                    valueBytes.allSatisfy({ $0 > 32 && $0 < 127 && $0 != UInt8(ascii: ":") })
                else { throw .badValue(key: key) }
                m.fdName = value
            case "FDPOLL":
                guard value == "0" || value == "1" else { throw .badValue(key: key) }
                m.fdPoll = value == "1"
            default:
                break  // unknown keys (X_*, newer protocol keys) are ignored
            }
        }
        guard any else { throw .empty }
        return m
    }

    private static func flag(_ v: String, _ key: String) throws(ParseError) -> Bool {
        // systemd acts on exactly "1"; anything else for these keys is a protocol error.
        guard v == "1" else { throw .badValue(key: key) }
        return true
    }

    private static func number(_ v: String, _ key: String) throws(ParseError) -> UInt64 {
        guard let n = UInt64(v) else { throw .badValue(key: key) }
        return n
    }
}
