import Crypto
import FoundationEssentials

/// HMAC-SHA256 with one node's session key, keyed once: every message then costs only the
/// hash of its body, not the key set-up (which was a third of the HMAC time per message).
public struct SessionMAC: @unchecked Sendable {
    // A value type holding two hash states; copies share nothing, so @unchecked is sound.
    private let keyed: HMAC<SHA256>

    public init(key: [UInt8]) {
        keyed = HMAC<SHA256>(key: SymmetricKey(data: key))
    }

    /// The HMAC of `body`.
    public func code(_ body: [UInt8]) -> [UInt8] {
        var h = keyed
        h.update(data: body)
        return Array(h.finalize())
    }

    /// `[header, body]` signed `hmac_sha256`; identical to `MessageSigner.hmacFrames`.
    public func frames(body: [UInt8]) -> [[UInt8]] {
        let header = MessageHeader(method: .hmacSHA256, signature: Data(code(body)).base64EncodedString())
        return [header.format(), body]
    }

    /// Whether `header` carries this key's HMAC of `body`; compared in constant time.
    public func verify(header: MessageHeader, body: [UInt8]) -> Bool {
        guard header.method == .hmacSHA256, let mac = Data(base64Encoded: header.signature), mac.count == 32 else {
            return false
        }
        // Every message of every agent comes through here: no arrays, no iterators.
        var h = keyed
        body.withUnsafeBytes { h.update(data: $0) }
        let expected = h.finalize()
        return mac.withUnsafeBytes { (m: UnsafeRawBufferPointer) -> Bool in
            expected.withUnsafeBytes { (e: UnsafeRawBufferPointer) -> Bool in
                var diff: UInt8 = 0
                for i in 0..<32 { diff |= m[i] ^ e[i] }
                return diff == 0
            }
        }
    }
}
