import Crypto
import FoundationEssentials
import _CryptoExtras

/// An RSA private key (a Chef client/user key or the server's key) with every operation the
/// wire protocol needs. swift-crypto does the standard operations; OpenSSL only the raw
/// PKCS#1 v1.5 type-1 "private encrypt" used by Chef signing v1.0/1.1 and RSA heartbeats.
public struct RSAPrivateKey: Sendable {
    let signingKey: _RSA.Signing.PrivateKey
    private let raw: OpenSSLKey
    /// The matching public key.
    public let publicKey: RSAPublicKey

    /// Loads a PEM "RSA PRIVATE KEY" (PKCS#1, as Chef writes them) or "PRIVATE KEY" (PKCS#8).
    /// Refuses encrypted keys and keys under 2048 bits.
    public init(pemRepresentation pem: String) throws(CryptoKeyError) {
        switch PEM.firstLabel(in: pem) {
        case "RSA PRIVATE KEY", "PRIVATE KEY":
            guard !PEM.isLegacyEncrypted(pem) else { throw .encryptedPrivateKey }
        case "ENCRYPTED PRIVATE KEY":
            throw .encryptedPrivateKey
        default:
            throw .notPEMPrivateKey
        }
        let key: _RSA.Signing.PrivateKey
        do {
            key = try _RSA.Signing.PrivateKey(unsafePEMRepresentation: pem)
        } catch {
            throw .invalidKey("cannot parse the private key PEM (\(error))")
        }
        try self.init(key)
    }

    /// Generates a fresh 2048-bit key (as Chef does for clients).
    public static func generate() throws(CryptoKeyError) -> RSAPrivateKey {
        let key: _RSA.Signing.PrivateKey
        do {
            key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        } catch {
            throw .generationFailed("\(error)")
        }
        return try RSAPrivateKey(key)
    }

    private init(_ key: _RSA.Signing.PrivateKey) throws(CryptoKeyError) {
        guard key.keySizeInBits >= 2048 else { throw .keyTooSmall(bits: key.keySizeInBits) }
        let der = [UInt8](key.derRepresentation)
        guard let raw = OpenSSLKey.privateKey(der: der) else {
            throw .invalidKey("OpenSSL cannot load the private key")
        }
        self.signingKey = key
        self.raw = raw
        self.publicKey = try RSAPublicKey(key.publicKey)
    }

    /// PEM "RSA PRIVATE KEY" (PKCS#1), the form Chef hands out.
    public var pemRepresentation: String { signingKey.pemRepresentation }

    /// PEM "PRIVATE KEY" (PKCS#8).
    public var pkcs8PEMRepresentation: String { signingKey.pkcs8PEMRepresentation }

    /// Modulus size in bits.
    public var keySizeInBits: Int { signingKey.keySizeInBits }

    /// RSASSA-PKCS1-v1_5 with SHA-256 (Chef signing v1.3). Deterministic.
    public func signSHA256(_ data: [UInt8]) throws(CryptoKeyError) -> [UInt8] {
        try sign(SHA256.hash(data: data))
    }

    /// RSASSA-PKCS1-v1_5 with SHA-1 (Chef signing v1.2). Deterministic.
    public func signSHA1(_ data: [UInt8]) throws(CryptoKeyError) -> [UInt8] {
        try sign(Insecure.SHA1.hash(data: data))
    }

    private func sign(_ digest: some Digest) throws(CryptoKeyError) -> [UInt8] {
        do {
            return [UInt8](try signingKey.signature(for: digest, padding: .insecurePKCS1v1_5).rawRepresentation)
        } catch {
            throw .operationFailed("\(error)")
        }
    }

    /// Largest input for ``privateEncryptRaw(_:)``: modulus bytes minus 11 bytes of padding.
    public var maximumRawInputLength: Int { keySizeInBits / 8 - 11 }

    /// PKCS#1 v1.5 type-1 "private encrypt" of `data` itself, with no hashing or DigestInfo
    /// (Chef signing v1.0/1.1, `rsa2048_sha1` message signatures). Deterministic.
    public func privateEncryptRaw(_ data: [UInt8]) throws(CryptoKeyError) -> [UInt8] {
        guard data.count <= maximumRawInputLength else {
            throw .inputTooLong(length: data.count, maximum: maximumRawInputLength)
        }
        guard let output = raw.privateEncrypt(data) else {
            throw .operationFailed("OpenSSL private encrypt failed")
        }
        return output
    }

    /// Decrypts RSA PKCS#1 v1.5 (type-2) ciphertext, e.g. the session key in a config response.
    public func decryptPKCS1(_ ciphertext: [UInt8]) throws(CryptoKeyError) -> [UInt8] {
        do {
            // _RSA.Encryption keys are not Sendable, so one is made per (rare) decryption.
            let encryptionKey = try _RSA.Encryption.PrivateKey(derRepresentation: signingKey.derRepresentation)
            return [UInt8](try encryptionKey.decrypt(ciphertext, padding: ._WEAK_AND_INSECURE_PKCS_V1_5))
        } catch {
            throw .decryptionFailed
        }
    }
}
