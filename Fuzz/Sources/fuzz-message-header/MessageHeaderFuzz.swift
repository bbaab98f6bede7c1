import FuzzSupport
import PushyProtocol

/// `MessageHeader.parse`, run on the first frame of every ZeroMQ message. Whatever parses must
/// format back to a header that parses to the same value, and formatting is a fixed point.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMessageHeader(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = fuzzBytes(data, count)
    guard let header = try? MessageHeader.parse(bytes) else { return 0 }
    fuzzCheck(bytes.count <= MessageHeader.maximumLength, "accepted a \(bytes.count)-byte header")
    let formatted = header.format()
    let again: MessageHeader
    do { again = try MessageHeader.parse(formatted) } catch {
        fuzzCheck(false, "formatted header \(String(decoding: formatted, as: UTF8.self)) does not parse: \(error)")
        return 0
    }
    fuzzCheck(again == header, "round trip changed \(header) into \(again)")
    fuzzCheck(again.format() == formatted, "format is not a fixed point")
    return 0
}

@_cdecl("fuzz_message_header_main")
public func fuzzMessageHeaderMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    fuzzMain(argc, argv, fuzzMessageHeader)
}
