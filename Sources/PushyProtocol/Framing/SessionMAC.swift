import COpenSSL
import FoundationEssentials

/// HMAC-SHA256 with one node's session key, keyed once: every message then costs only the
/// hash of its body, not the key set-up. The keyed state is a plain value (two SHA-256
/// states, `pushy_hmac_sha256_key`), so checking a message allocates nothing (issue 16: the
/// generic HMAC it replaces copied a heap context and looked up generic metadata per message).
public struct SessionMAC: @unchecked Sendable {
    // Plain C structs of integers; copies share nothing, so @unchecked is sound.
    private var keyed = pushy_hmac_sha256_key()

    public init(key: [UInt8]) {
        key.withUnsafeBufferPointer { pushy_hmac_sha256_key_init(&keyed, $0.baseAddress, $0.count) }
    }

    /// The HMAC of `body`.
    public func code(_ body: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        withUnsafePointer(to: keyed) { k in
            body.withUnsafeBytes { b in
                out.withUnsafeMutableBufferPointer { pushy_hmac_sha256(k, b.baseAddress, b.count, $0.baseAddress) }
            }
        }
        return out
    }

    /// `[header, body]` signed `hmac_sha256`; identical to `MessageSigner.hmacFrames`.
    public func frames(body: [UInt8]) -> [[UInt8]] {
        let header = MessageHeader(method: .hmacSHA256, signature: Data(code(body)).base64EncodedString())
        return [header.format(), body]
    }

    /// Whether `header` carries this key's HMAC of `body` (standard padded base64); compared
    /// in constant time.
    public func verify(header: MessageHeader, body: [UInt8]) -> Bool {
        guard header.method == .hmacSHA256 else { return false }
        var signature = header.signature
        return signature.withUTF8 { verify(signature: UnsafeRawBufferPointer($0), body: body) }
    }

    /// The same for a scanned header frame (`MessageHeader.scan`): the signature checked where
    /// it lies in the frame's bytes.
    public func verify(frame: [UInt8], _ scanned: MessageHeader.Scanned, body: [UInt8]) -> Bool {
        guard scanned.method == .hmacSHA256, scanned.signature.clamped(to: 0..<frame.count) == scanned.signature else { return false }
        return frame.withUnsafeBytes { verify(signature: UnsafeRawBufferPointer(rebasing: $0[scanned.signature]), body: body) }
    }

    private func verify(signature s: UnsafeRawBufferPointer, body: [UInt8]) -> Bool {
        withUnsafePointer(to: keyed) { k in
            body.withUnsafeBytes { b in
                pushy_hmac_sha256_verify(k, b.baseAddress, b.count, s.baseAddress?.assumingMemoryBound(to: UInt8.self), s.count) == 1
            }
        }
    }
}
