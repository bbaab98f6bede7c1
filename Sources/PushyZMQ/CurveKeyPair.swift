import CZMQ

/// A Curve25519 key pair in Z85 text (40 characters each), the form libzmq's CURVE socket
/// options and the Push Jobs config (`curve_public_key`, `ccpk`) use.
public struct CurveKeyPair: Sendable, Equatable {
    public let publicKey: String
    public let secretKey: String

    /// Length of a 32-byte key in Z85 text.
    public static let textLength = 40

    /// A fresh random key pair (`zmq_curve_keypair`).
    public static func generate() throws(ZMQError) -> CurveKeyPair {
        var publicText = [CChar](repeating: 0, count: textLength + 1)
        var secretText = [CChar](repeating: 0, count: textLength + 1)
        guard zmq_curve_keypair(&publicText, &secretText) == 0 else {
            throw .last("zmq_curve_keypair")
        }
        return CurveKeyPair(publicKey: string(publicText), secretKey: string(secretText))
    }

    /// Rebuilds a pair from a stored secret key, deriving the public key (`zmq_curve_public`).
    public init(secretKey: String) throws(ZMQError) {
        guard Self.isValidKey(secretKey) else { throw .invalid("CurveKeyPair: secret key is not 40-character Z85") }
        var publicText = [CChar](repeating: 0, count: Self.textLength + 1)
        guard zmq_curve_public(&publicText, secretKey) == 0 else { throw .last("zmq_curve_public") }
        self.init(publicKey: Self.string(publicText), secretKey: secretKey)
    }

    private init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// True when `key` is 40 characters of valid Z85 (a 32-byte key).
    public static func isValidKey(_ key: String) -> Bool {
        key.utf8.count == textLength && Z85.decode(key)?.count == 32
    }

    private static func string(_ text: [CChar]) -> String {
        String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
