// sd_notify datagrams (sd_notify(3)) as the manager reads them from its notify socket: any local process that
// can reach the socket sends these bytes, capped at NotifyMessage.maxSize like the receiver's buffer.
import TendModel

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeBufferPointer(start: data, count: min(size, NotifyMessage.maxSize))
    // The three overloads the receiver and the tests use; the generic one walks a different collection.
    _ = try? NotifyMessage.parse(Array(bytes))
    _ = try? NotifyMessage.parse(Array(bytes)[...])
    _ = try? NotifyMessage.parse(bytes)
    return 0
}
