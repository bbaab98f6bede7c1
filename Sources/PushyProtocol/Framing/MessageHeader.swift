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
        let scanned = try scan(bytes)
        return bytes.withUnsafeBufferPointer {
            MessageHeader(version: String(decoding: UnsafeBufferPointer(rebasing: $0[scanned.version]), as: UTF8.self),
                          method: scanned.method,
                          signature: String(decoding: UnsafeBufferPointer(rebasing: $0[scanned.signature]), as: UTF8.self))
        }
    }

    /// A checked header frame as ranges of its bytes: what `parse` checks, without a string.
    /// The server's inbound path verifies the signature in place (issue 16).
    public struct Scanned: Sendable, Equatable {
        public var version: Range<Int>
        public var method: SigningMethod
        public var signature: Range<Int>
    }

    /// Checks a header frame as `parse` does (the same errors) and says where its parts are.
    public static func scan(_ bytes: [UInt8]) throws(FramingError) -> Scanned {
        guard bytes.count <= maximumLength else { throw .headerTooLong(bytes.count) }
        guard bytes.allSatisfy({ $0 < 0x80 }) else { throw .malformedHeader }
        // Byte-level on purpose: this runs for every message of every agent.
        var version: Range<Int>?
        var methodRange: Range<Int>?
        var signature: Range<Int>?
        var clauseStart = 0
        while clauseStart <= bytes.count {
            let clauseEnd = bytes[clauseStart...].firstIndex(of: UInt8(ascii: ";")) ?? bytes.count
            defer { clauseStart = clauseEnd + 1 }
            if clauseEnd == clauseStart { continue }
            guard let colon = bytes[clauseStart..<clauseEnd].firstIndex(of: UInt8(ascii: ":")) else {
                throw .malformedHeader
            }
            let name = bytes[clauseStart..<colon]
            let value = (colon + 1)..<clauseEnd
            if name.elementsEqual(Self.versionName) {
                version = value
            } else if name.elementsEqual(Self.methodName) {
                methodRange = value
            } else if name.elementsEqual(Self.signatureName) || name.elementsEqual(Self.legacySignatureName) {
                signature = value
            }
        }
        func text(_ r: Range<Int>) -> String { String(decoding: bytes[r], as: UTF8.self) }
        guard let version else { throw .missingField("Version") }
        guard let methodRange else { throw .missingField("SigningMethod") }
        guard let signature else { throw .missingField("Signature") }
        let isVersion2 = bytes[version].elementsEqual(Self.version2)
        guard isVersion2 || bytes[version].elementsEqual(Self.version1) else { throw .unsupportedVersion(text(version)) }
        let method: SigningMethod
        if bytes[methodRange].elementsEqual(Self.hmacName) {
            method = .hmacSHA256
        } else if bytes[methodRange].elementsEqual(Self.rsaName) {
            method = .rsa2048SHA1
        } else {
            throw .unsupportedSigningMethod(text(methodRange))
        }
        guard method != .hmacSHA256 || isVersion2 else { throw .hmacRequiresVersion2 }
        return Scanned(version: version, method: method, signature: signature)
    }

    private static let version1 = Array("1.0".utf8)
    private static let version2 = Array("2.0".utf8)
    private static let hmacName = Array(SigningMethod.hmacSHA256.rawValue.utf8)
    private static let rsaName = Array(SigningMethod.rsa2048SHA1.rawValue.utf8)
    private static let versionName = Array("Version".utf8)
    private static let methodName = Array("SigningMethod".utf8)
    private static let signatureName = Array("Signature".utf8)
    private static let legacySignatureName = Array("SignedChecksum".utf8)
}
