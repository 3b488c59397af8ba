import TendModel

/// Where the manager finds units and keeps its files.
public struct ManagerOptions: Sendable {
    public var unitPaths: [String]
    public var stateDir: String
    public var logDir: String
    /// Start units at launch (`--no-start` turns it off).
    public var startAll: Bool = true
    /// Log settings for units that don't set their own (tend.conf).
    public var logDefaults = LogDefaults()
    /// `--target NAME`: the target to start at launch instead of the default (see `JobScheduler.bootStart`).
    public var defaultTarget: String?
    /// The open-files limit services start with when they set no `LimitNOFILE=`: the manager's own before it
    /// raised it (`Posix.raiseFileLimit`). nil: whatever the manager has.
    public var serviceFileLimit: RLimitValue?
    /// Directories of daemontools/runit service directories to supervise (`tend scan DIR`, `[Scan] Directory=`).
    public var scanDirectories: [String] = []
    /// `--shutdown-timeout`: how long the orderly shutdown may take before what is left is killed (infinity:
    /// each unit's own `TimeoutStopSec=` only).
    public var shutdownTimeout: TimeSpan = .infinity
    /// CMD mode (Manager+Command.swift): the command's unit, left out of the launch and started after it.
    public var commandUnit: String?
    /// How long the launch may take before the command is given up (and the manager exits 1).
    public var commandTimeout: TimeSpan = .seconds(90)
    /// `--forward-signals`: SIGHUP, SIGUSR1, SIGUSR2 go to the command instead of the manager.
    public var forwardSignals = false
    public init(unitPaths: [String], stateDir: String, logDir: String) {
        self.unitPaths = unitPaths
        self.stateDir = stateDir
        self.logDir = logDir
    }
}

/// The manager-wide log settings (tend.conf's `[Logs]`), each overridable per unit in `[Service]`.
public struct LogDefaults: Sendable {
    public var maxSize: UInt64 = 16 << 20
    public var maxFiles: Int = 32
    public var maxUse: UInt64 = 512 << 20
    /// Generous: only a runaway service (over 5 million lines in 30 s) is limited.
    public var rateInterval: TimeSpan = .seconds(30)
    public var rateBurst: Int = 5_000_000
    public var lineMax: UInt64 = 48 * 1024
    public var timestamp: LogTimestampFormat = .iso
    public init() {}

    /// Applies `LogMaxSize=` and friends from a parsed configuration (tend.conf or a unit).
    public mutating func apply(_ c: ServiceConfig) {
        if let v = c.logMaxSize { maxSize = v }
        if let v = c.logMaxFiles { maxFiles = v }
        if let v = c.logMaxUse { maxUse = v }
        if let v = c.logRateLimitInterval { rateInterval = v }
        if let v = c.logRateLimitBurst { rateBurst = v }
        if let v = c.lineMax { lineMax = v }
        if let v = c.logTimestamp { timestamp = v }
    }

    public func settings(directory: String) -> LogSettings {
        LogSettings(directory: directory, maxSize: maxSize, maxFiles: maxFiles, maxUse: maxUse, timestamp: timestamp)
    }

    public var capture: CaptureSettings {
        CaptureSettings(lineMax: Int(clamping: lineMax), rateInterval: rateInterval.isInfinite ? 0 : rateInterval.usec,
                        rateBurst: rateBurst, timestamp: timestamp)
    }
}
