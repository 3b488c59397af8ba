// The control protocol's decoders (docs/protocol.md): a request line as the manager reads it from a client,
// and the same bytes read as a reply or an event, as the CLI reads them from the manager. Whatever decodes is
// encoded again and decoded once more, as a reply to it would be.
import TendControl
import TendModel

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let line = UnsafeBufferPointer(start: data, count: min(size, ControlProtocol.maxRequest))

    // The manager's side: one request line.
    do {
        let request = try ControlRequest(line: line)
        _ = try? ControlRequest(line: request.bytes().dropLast())
    } catch {
        // What the manager answers with: the error, encoded.
        _ = error.json.bytes()
        _ = error.description
    }

    // The client's side: the JSON itself, and each reply type and the event decoder on it.
    guard let json = try? JSON.parse(line) else { return 0 }
    _ = try? JSON.parse(json.bytes())
    _ = json.serialized(pretty: true)
    _ = try? OKReply(reply: json)
    _ = try? StatusReply(reply: json)
    _ = try? ShowReply(reply: json)
    _ = try? CatReply(reply: json)
    _ = try? InstallReply(reply: json)
    _ = try? IsEnabledReply(reply: json)
    _ = try? DependenciesReply(reply: json)
    _ = try? PingReply(reply: json)
    _ = try? SubscribeReply(reply: json)
    _ = try? ControlEvent(json: json)
    _ = ControlError(json: json).description
    if let status = try? StatusReply(reply: json) { _ = status.json.bytes() }
    if let deps = try? DependenciesReply(reply: json) { _ = deps.json.bytes() }
    return 0
}
