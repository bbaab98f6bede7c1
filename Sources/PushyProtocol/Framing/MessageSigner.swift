import Crypto
import FoundationEssentials

/// Signs and verifies ZeroMQ message bodies (spec 4.3). Signatures cover the exact body bytes.
public enum MessageSigner {
    /// `[header, body]` signed with HMAC-SHA256 under the session key.
    public static func hmacFrames(body: [UInt8], key: [UInt8]) -> [[UInt8]] {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: key))
        let header = MessageHeader(method: .hmacSHA256, signature: Data(mac).base64EncodedString())
        return [header.format(), body]
    }

    /// Whether `header` is a valid HMAC-SHA256 signature of `body`; compared in constant time.
    public static func verifyHMAC(header: MessageHeader, body: [UInt8], key: [UInt8]) -> Bool {
        guard header.method == .hmacSHA256, let mac = Data(base64Encoded: header.signature) else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: body, using: SymmetricKey(data: key))
    }

    /// As ``verifyHMAC(header:body:key:)`` for a raw header frame; false if it does not parse.
    public static func verifyHMAC(header: [UInt8], body: [UInt8], key: [UInt8]) -> Bool {
        guard let parsed = try? MessageHeader.parse(header) else { return false }
        return verifyHMAC(header: parsed, body: body, key: key)
    }

    /// `[header, body]` signed `rsa2048_sha1`: raw PKCS#1 type-1 "private encrypt" of the
    /// ASCII text base64(SHA-1(body)), as the reference server signs heartbeats.
    public static func rsaFrames(body: [UInt8], key: RSAPrivateKey) throws(CryptoKeyError) -> [[UInt8]] {
        let signature = try key.privateEncryptRaw(digestText(body))
        let header = MessageHeader(method: .rsa2048SHA1, signature: Data(signature).base64EncodedString())
        return [header.format(), body]
    }

    /// Whether `header` is a valid `rsa2048_sha1` signature of `body` by `publicKey`'s private key.
    public static func verifyRSA(header: MessageHeader, body: [UInt8], publicKey: RSAPublicKey) -> Bool {
        guard header.method == .rsa2048SHA1, let signature = Data(base64Encoded: header.signature),
              let recovered = publicKey.publicDecryptRaw([UInt8](signature)) else { return false }
        return recovered == digestText(body)
    }

    /// As ``verifyRSA(header:body:publicKey:)`` for a raw header frame; false if it does not parse.
    public static func verifyRSA(header: [UInt8], body: [UInt8], publicKey: RSAPublicKey) -> Bool {
        guard let parsed = try? MessageHeader.parse(header) else { return false }
        return verifyRSA(header: parsed, body: body, publicKey: publicKey)
    }

    /// ASCII bytes of base64(SHA-1(body)), the 28-character payload of RSA message signatures.
    static func digestText(_ body: [UInt8]) -> [UInt8] {
        Array(Data(Insecure.SHA1.hash(data: body)).base64EncodedString().utf8)
    }
}
