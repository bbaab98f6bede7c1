import Crypto
import FoundationEssentials

/// The per-node HMAC key for the command channel (spec 4.4): 32 random bytes, handed to the
/// node RSA-encrypted with its public key in the config response.
public struct SessionKey: Sendable, Hashable, CustomStringConvertible {
    /// Length of every generated key.
    public static let length = 32

    public let bytes: [UInt8]

    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Never prints the key material, so a key cannot leak into logs.
    public var description: String { "SessionKey(\(bytes.count) bytes)" }

    /// A fresh key from the system's secure random generator.
    public static func random() -> SessionKey {
        SessionKey(bytes: SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
    }

    /// base64 of the key encrypted (RSA PKCS#1 v1.5) for `publicKey`: the `key` of `encoded_session_key`.
    public func encrypted(for publicKey: RSAPublicKey) throws(CryptoKeyError) -> String {
        Data(try publicKey.encryptPKCS1(bytes)).base64EncodedString()
    }

    /// Recovers a key from the base64 text produced by ``encrypted(for:)``.
    public static func decrypt(base64: String, with privateKey: RSAPrivateKey) throws(CryptoKeyError) -> SessionKey {
        guard let ciphertext = Data(base64Encoded: base64) else { throw .decryptionFailed }
        return SessionKey(bytes: try privateKey.decryptPKCS1([UInt8](ciphertext)))
    }
}
