import CZMQ

/// Z85 (ZeroMQ RFC 32) text encoding, as used for CURVE keys in configs and the `ccpk`
/// query parameter. Delegates to libzmq's own codec.
public enum Z85 {
    /// Decodes Z85 text whose length is a multiple of 5; nil if the length or a character is invalid.
    public static func decode(_ text: String) -> [UInt8]? {
        var chars = Array(text.utf8CString)  // NUL-terminated
        let length = chars.count - 1
        guard length % 5 == 0 else { return nil }
        if length == 0 { return [] }
        // Characters outside the Z85 alphabet are rejected by libzmq, but a NUL inside the
        // Swift string would silently shorten the input, so refuse it here.
        guard !chars.dropLast().contains(0) else { return nil }
        var bytes = [UInt8](repeating: 0, count: length / 5 * 4)
        let ok = bytes.withUnsafeMutableBufferPointer { out in
            chars.withUnsafeMutableBufferPointer { input in
                zmq_z85_decode(out.baseAddress, input.baseAddress) != nil
            }
        }
        return ok ? bytes : nil
    }

    /// Encodes bytes whose count is a multiple of 4; nil otherwise.
    public static func encode(_ bytes: [UInt8]) -> String? {
        guard bytes.count % 4 == 0 else { return nil }
        if bytes.isEmpty { return "" }
        var text = [CChar](repeating: 0, count: bytes.count / 4 * 5 + 1)
        let ok = text.withUnsafeMutableBufferPointer { out in
            bytes.withUnsafeBufferPointer { input in
                zmq_z85_encode(out.baseAddress, input.baseAddress, input.count) != nil
            }
        }
        guard ok else { return nil }
        return String(decoding: text.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
