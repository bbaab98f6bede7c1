/// How a ZeroMQ message body is signed.
public enum SigningMethod: String, Sendable, Hashable {
    /// HMAC-SHA256 with the per-node session key: all command-channel traffic.
    case hmacSHA256 = "hmac_sha256"
    /// Raw RSA over base64(SHA-1(body)) with the server key: PUB heartbeats.
    case rsa2048SHA1 = "rsa2048_sha1"
}

/// The first frame of every ZeroMQ message: `Version:2.0;SigningMethod:<method>;Signature:<base64>`.
public struct MessageHeader: Sendable, Equatable {
    /// Largest header frame the server accepts.
    public static let maximumLength = 2048

    /// `1.0` or `2.0`; we always emit `2.0`.
    public var version: String
    public var method: SigningMethod
    /// Standard padded base64 of the signature bytes.
    public var signature: String

    public init(version: String = "2.0", method: SigningMethod, signature: String) {
        self.version = version
        self.method = method
        self.signature = signature
    }

    /// The header frame bytes, clauses in the reference order.
    public func format() -> [UInt8] {
        Array("Version:\(version);SigningMethod:\(method.rawValue);Signature:\(signature)".utf8)
    }

    /// Parses a header frame. Accepts the legacy `SignedChecksum` key for `Signature`,
    /// ignores unknown clauses and empty ones.
    public static func parse(_ bytes: [UInt8]) throws(FramingError) -> MessageHeader {
        guard bytes.count <= maximumLength else { throw .headerTooLong(bytes.count) }
        guard bytes.allSatisfy({ $0 < 0x80 }) else { throw .malformedHeader }
        // Byte-level on purpose: this runs for every message of every agent.
        var version: String?
        var methodText: String?
        var signature: String?
        var clauseStart = 0
        while clauseStart <= bytes.count {
            let clauseEnd = bytes[clauseStart...].firstIndex(of: UInt8(ascii: ";")) ?? bytes.count
            defer { clauseStart = clauseEnd + 1 }
            if clauseEnd == clauseStart { continue }
            guard let colon = bytes[clauseStart..<clauseEnd].firstIndex(of: UInt8(ascii: ":")) else {
                throw .malformedHeader
            }
            let name = bytes[clauseStart..<colon]
            // Through a buffer pointer: the stdlib's specialised path, not the generic one.
            let value = bytes.withUnsafeBufferPointer {
                String(decoding: UnsafeBufferPointer(rebasing: $0[(colon + 1)..<clauseEnd]), as: UTF8.self)
            }
            if name.elementsEqual(Self.versionName) {
                version = value
            } else if name.elementsEqual(Self.methodName) {
                methodText = value
            } else if name.elementsEqual(Self.signatureName) || name.elementsEqual(Self.legacySignatureName) {
                signature = value
            }
        }
        guard let version else { throw .missingField("Version") }
        guard let methodText else { throw .missingField("SigningMethod") }
        guard let signature else { throw .missingField("Signature") }
        guard version == "1.0" || version == "2.0" else { throw .unsupportedVersion(version) }
        guard let method = SigningMethod(rawValue: methodText) else { throw .unsupportedSigningMethod(methodText) }
        guard method != .hmacSHA256 || version == "2.0" else { throw .hmacRequiresVersion2 }
        return MessageHeader(version: version, method: method, signature: signature)
    }

    private static let versionName = Array("Version".utf8)
    private static let methodName = Array("SigningMethod".utf8)
    private static let signatureName = Array("Signature".utf8)
    private static let legacySignatureName = Array("SignedChecksum".utf8)
}
