import FuzzSupport
import PushyProtocol

/// `ServerMessage.parse`, run by every agent on every message from the server.
///
/// A parsed message written back parses to an equal message (heartbeats keep only the fields a
/// heartbeat carries), writing is a fixed point, and the one-body-for-many-nodes template gives
/// exactly `bodyBytes` for the message's own sequence number.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzServerMessage(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = fuzzBytes(data, count)
    guard let message = try? ServerMessage.parse(bytes) else { return 0 }
    _ = message.messageType

    let body = message.bodyBytes
    let again: ServerMessage
    do { again = try ServerMessage.parse(body) } catch {
        fuzzCheck(false, "written body \(String(decoding: body, as: UTF8.self)) does not parse: \(error)")
        return 0
    }
    if message.messageType == .heartbeat {
        var kept = ServerMessage(type: .heartbeat, sequence: message.sequence, timestamp: message.timestamp,
                                 server: message.server, incarnationId: message.incarnationId)
        kept.type = message.type
        fuzzCheck(again == kept, "heartbeat round trip changed \(kept) into \(again)")
    } else {
        fuzzCheck(again == message, "round trip changed \(message) into \(again)")
    }
    fuzzCheck(again.bodyBytes == body, "bodyBytes is not a fixed point")
    let templated = message.bodyTemplate.bytes(sequence: message.sequence)
    fuzzCheck(templated == body,
              "template gives \(String(decoding: templated, as: UTF8.self)), bodyBytes \(String(decoding: body, as: UTF8.self))")
    return 0
}

@_cdecl("fuzz_server_message_main")
public func fuzzServerMessageMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    fuzzMain(argc, argv, fuzzServerMessage)
}
