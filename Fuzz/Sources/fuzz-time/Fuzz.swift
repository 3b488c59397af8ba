// Time spans (systemd.time(7)) as unit files give them (`TimeoutSec=`, `RestartSec=`, `LimitCPU=`, ...), the
// `--since`/`--until` times of `tend logs`, and the other small value parsers of the directive table (sizes,
// booleans, signals) that the same strings reach.
import TendEngine
@testable import TendModel

/// A fixed "now" (2026-11-20 10:00:00 UTC), so that a crash reproduces whenever it is run.
let now: UInt64 = 1_795_168_800_000_000

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    // Values are single lines of a unit file or of a command line: a few KiB is plenty.
    let text = String(decoding: UnsafeBufferPointer(start: data, count: min(size, 4096)), as: UTF8.self)
    if let span = parseTimeSpan(text) { _ = span.description }
    if let span = parseTimeSpan(text, defaultUnit: 1_000_000) { _ = span.description }
    _ = TimeParsing.parse(text, now: now)
    _ = TimeParsing.parse(text, now: 0)
    _ = TimeParsing.parse(text, now: .max)
    _ = parseByteSize(text)
    _ = parseBoolean(text)
    _ = Signals.number(named: text)
    return 0
}
