/// Why an RSA key could not be loaded or used. Messages are meant for operators reading logs.
public enum CryptoKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The text is not a PEM "RSA PRIVATE KEY" (PKCS#1) or "PRIVATE KEY" (PKCS#8) block.
    case notPEMPrivateKey
    /// The text is not a PEM "PUBLIC KEY" (SPKI) or "RSA PUBLIC KEY" (PKCS#1) block.
    case notPEMPublicKey
    /// The PEM block is passphrase-protected; Chef keys never are.
    case encryptedPrivateKey
    /// The PEM block has the right label but its contents are not a usable RSA key.
    case invalidKey(String)
    /// Keys under 2048 bits are refused.
    case keyTooSmall(bits: Int)
    /// Key generation failed inside the crypto library.
    case generationFailed(String)
    /// The input does not fit in one RSA block for this operation.
    case inputTooLong(length: Int, maximum: Int)
    /// Signing or encryption failed inside the crypto library.
    case operationFailed(String)
    /// The ciphertext could not be decrypted with this key.
    case decryptionFailed

    public var description: String {
        switch self {
        case .notPEMPrivateKey: "not a PEM RSA private key"
        case .notPEMPublicKey: "not a PEM RSA public key"
        case .encryptedPrivateKey: "encrypted (passphrase-protected) private keys are not supported"
        case .invalidKey(let reason): "invalid RSA key: \(reason)"
        case .keyTooSmall(let bits): "RSA key of \(bits) bits is too small (minimum 2048)"
        case .generationFailed(let reason): "RSA key generation failed: \(reason)"
        case .inputTooLong(let length, let maximum): "input of \(length) bytes exceeds the \(maximum)-byte RSA limit"
        case .operationFailed(let reason): "RSA operation failed: \(reason)"
        case .decryptionFailed: "RSA decryption failed"
        }
    }
}
