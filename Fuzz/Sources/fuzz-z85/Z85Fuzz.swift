import FuzzSupport
import PushyZMQ

/// `Z85.decode` (CURVE keys from configs and the `ccpk` parameter) and `Z85.encode`.
///
/// Z85 is a bijection between byte strings of a multiple of 4 and valid text of a multiple of 5
/// characters, so: decoded text encodes back to the same text, encoded bytes decode back to the
/// same bytes, lengths are 5:4, and `CurveKeyPair.isValidKey` agrees with decoding 40 characters.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzZ85(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = fuzzBytes(data, count)

    if let text = String(validating: bytes, as: UTF8.self) {
        let decoded = Z85.decode(text)
        if let decoded {
            fuzzCheck(decoded.count * 5 == text.utf8.count * 4, "decoded \(text.utf8.count) characters into \(decoded.count) bytes")
            fuzzCheck(Z85.encode(decoded) == text, "decode then encode changed '\(text)' into '\(Z85.encode(decoded) ?? "nil")'")
        }
        let validKey = CurveKeyPair.isValidKey(text)
        fuzzCheck(validKey == (text.utf8.count == 40 && decoded != nil), "isValidKey('\(text)') is \(validKey)")
    }

    let encoded = Z85.encode(bytes)
    fuzzCheck((encoded != nil) == (bytes.count % 4 == 0), "encode accepted or refused \(bytes.count) bytes wrongly")
    if let encoded {
        fuzzCheck(encoded.utf8.count * 4 == bytes.count * 5, "encoded \(bytes.count) bytes into \(encoded.utf8.count) characters")
        fuzzCheck(Z85.decode(encoded) == bytes, "encode then decode changed \(bytes) via '\(encoded)'")
    }
    return 0
}

@_cdecl("fuzz_z85_main")
public func fuzzZ85Main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    fuzzMain(argc, argv, fuzzZ85)
}
