import Crypto
import FoundationEssentials
import _CryptoExtras

/// An RSA public key (a principal's key, or the server's heartbeat key from the config).
/// Equal keys are those with the same SubjectPublicKeyInfo DER.
public struct RSAPublicKey: Sendable, Hashable {
    private let signingKey: _RSA.Signing.PublicKey
    private let raw: OpenSSLKey
    /// SubjectPublicKeyInfo DER; the identity of the key.
    public let derRepresentation: [UInt8]

    /// Loads a PEM "PUBLIC KEY" (SubjectPublicKeyInfo, what Chef serves) or "RSA PUBLIC KEY" (PKCS#1).
    public init(pemRepresentation pem: String) throws(CryptoKeyError) {
        guard let label = PEM.firstLabel(in: pem), label == "PUBLIC KEY" || label == "RSA PUBLIC KEY" else {
            throw .notPEMPublicKey
        }
        let key: _RSA.Signing.PublicKey
        do {
            key = try _RSA.Signing.PublicKey(unsafePEMRepresentation: pem)
        } catch {
            throw .invalidKey("cannot parse the public key PEM (\(error))")
        }
        try self.init(key)
    }

    init(_ key: _RSA.Signing.PublicKey) throws(CryptoKeyError) {
        guard key.keySizeInBits >= 2048 else { throw .keyTooSmall(bits: key.keySizeInBits) }
        let der = [UInt8](key.derRepresentation)
        guard let raw = OpenSSLKey.publicKey(der: der) else {
            throw .invalidKey("OpenSSL cannot load the public key")
        }
        self.signingKey = key
        self.raw = raw
        self.derRepresentation = der
    }

    public static func == (lhs: RSAPublicKey, rhs: RSAPublicKey) -> Bool {
        lhs.derRepresentation == rhs.derRepresentation
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(derRepresentation)
    }

    /// PEM "PUBLIC KEY" (SubjectPublicKeyInfo), the form Chef and the config endpoint use.
    public var pemRepresentation: String { signingKey.pemRepresentation }

    /// PEM "RSA PUBLIC KEY" (PKCS#1).
    public var pkcs1PEMRepresentation: String { signingKey.pkcs1PEMRepresentation }

    /// Modulus size in bits.
    public var keySizeInBits: Int { signingKey.keySizeInBits }

    /// Checks an RSASSA-PKCS1-v1_5 SHA-256 signature (Chef signing v1.3).
    public func verifySHA256(signature: [UInt8], for data: [UInt8]) -> Bool {
        signingKey.isValidSignature(
            _RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA256.hash(data: data),
            padding: .insecurePKCS1v1_5)
    }

    /// Checks an RSASSA-PKCS1-v1_5 SHA-1 signature (Chef signing v1.2).
    public func verifySHA1(signature: [UInt8], for data: [UInt8]) -> Bool {
        signingKey.isValidSignature(
            _RSA.Signing.RSASignature(rawRepresentation: signature), for: Insecure.SHA1.hash(data: data),
            padding: .insecurePKCS1v1_5)
    }

    /// Inverse of ``RSAPrivateKey/privateEncryptRaw(_:)``: the payload inside a type-1 padded
    /// block, or nil when the signature is malformed or was made with another key.
    public func publicDecryptRaw(_ signature: [UInt8]) -> [UInt8]? {
        guard signature.count == keySizeInBits / 8 else { return nil }
        return raw.publicDecrypt(signature)
    }

    /// RSA PKCS#1 v1.5 (type-2) encryption, e.g. of the session key for the config response.
    public func encryptPKCS1(_ plaintext: [UInt8]) throws(CryptoKeyError) -> [UInt8] {
        // _RSA.Encryption keys are not Sendable, so one is made per (rare) encryption.
        let encryptionKey: _RSA.Encryption.PublicKey
        do {
            encryptionKey = try _RSA.Encryption.PublicKey(derRepresentation: derRepresentation)
        } catch {
            throw .invalidKey("cannot load the key for encryption (\(error))")
        }
        let maximum = encryptionKey.maximumEncryptSize(with: ._WEAK_AND_INSECURE_PKCS_V1_5)
        guard plaintext.count <= maximum else { throw .inputTooLong(length: plaintext.count, maximum: maximum) }
        do {
            return [UInt8](try encryptionKey.encrypt(plaintext, padding: ._WEAK_AND_INSECURE_PKCS_V1_5))
        } catch {
            throw .operationFailed("\(error)")
        }
    }
}
