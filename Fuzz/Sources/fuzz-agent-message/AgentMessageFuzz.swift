import FuzzSupport
import PushyProtocol

/// `AgentMessage.parse`, run by the server on every message body of every agent.
///
/// A parsed message written back (`bodyBytes`) parses to an equal message, `bodyBytes` is the
/// same text as `json.bytes` (as documented), and writing is a fixed point. The byte accessors
/// must not trap on any decoded message.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAgentMessage(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = fuzzBytes(data, count)
    guard let message = try? AgentMessage.parse(bytes) else { return 0 }
    _ = message.messageType
    _ = message.bytes(of: message.stdout)
    _ = message.bytes(of: message.data)

    let body = message.bodyBytes
    fuzzCheck(body == message.json.bytes, "bodyBytes differs from json.bytes: \(String(decoding: body, as: UTF8.self))")
    let again: AgentMessage
    do { again = try AgentMessage.parse(body) } catch {
        fuzzCheck(false, "written body \(String(decoding: body, as: UTF8.self)) does not parse: \(error)")
        return 0
    }
    fuzzCheck(again == message, "round trip changed \(message) into \(again)")
    fuzzCheck(again.bodyBytes == body, "bodyBytes is not a fixed point")
    return 0
}

@_cdecl("fuzz_agent_message_main")
public func fuzzAgentMessageMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    fuzzMain(argc, argv, fuzzAgentMessage)
}
