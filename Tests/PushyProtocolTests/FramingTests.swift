import Foundation
import Testing
@testable import PushyProtocol

/// Known answers computed independently: HMAC with Python's `hmac` and
/// `openssl dgst -sha256 -mac HMAC -macopt hexkey:000102…1f`, the RSA heartbeat signature with
/// `printf %s "$(base64 SHA-1 of body)" | openssl rsautl -sign -inkey key.pem` on `CryptoFixtures`' key.
@Suite(.timeLimit(.minutes(2))) struct FramingTests {
    static let body = Array(#"{"type":"heartbeat","node":"pushy-server","org":"acme","sequence":7,"timestamp":"Tue, 04 Sep 2012 23:01:02 GMT","incarnation_id":"abc","job_state":"running"}"#.utf8)
    static let key = [UInt8](0..<32)
    static let hmacSignature = "J6mcb/Rb8tIaonb7b0Qfr8ccG1RILn73ig3ZPBIVpAA="
    static let rsaSignature = "ORSGCoopAAc+S8oFLF8+ioh5Q6cvu8MIQMHNooUpVcZvTiYhZwWMSyPNDgRBZQXauezg24LutNIgBHfxOjLVTZF7zuTrFhN/9oxgFH6sBhBfOlY4duXp2s5r5SyzdUc0JdnF+ZHitW+kM4k0V2DjXc6aTaivpDzgN8+gNHSOjZYrfcAktKZf5duPr3pHlzRAKTNLeAGsI0XBdfQI+f9EEagqvVuL6o12AefC7bHcgcmqYz0elIf8cfVMsOVBZ2KdP3xJ7GSpz7XRmkN97gSZushG1Xbp/CrR6eZhG+4zgMIfCzSQT6XJ/zt5ZqaZJ3oKg+zPWSch7j0cLeN4ZzZ9+Q=="

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test func hmacFramesMatchKnownAnswer() throws {
        let frames = MessageSigner.hmacFrames(body: Self.body, key: Self.key)
        #expect(frames.count == 2)
        #expect(frames[1] == Self.body)
        #expect(Self.text(frames[0]) == "Version:2.0;SigningMethod:hmac_sha256;Signature:\(Self.hmacSignature)")
        let header = try MessageHeader.parse(frames[0])
        #expect(header.signature.count == 44)
        #expect(MessageSigner.verifyHMAC(header: header, body: Self.body, key: Self.key))
        #expect(MessageSigner.verifyHMAC(header: frames[0], body: Self.body, key: Self.key))
    }

    @Test func hmacRejectsTamperingAndWrongKeysOrMethods() throws {
        let frames = MessageSigner.hmacFrames(body: Self.body, key: Self.key)
        let header = try MessageHeader.parse(frames[0])
        var tampered = Self.body
        tampered[10] ^= 1
        #expect(!MessageSigner.verifyHMAC(header: header, body: tampered, key: Self.key))
        #expect(!MessageSigner.verifyHMAC(header: header, body: Self.body, key: [UInt8](repeating: 0, count: 32)))
        var wrongMethod = header
        wrongMethod.method = .rsa2048SHA1
        #expect(!MessageSigner.verifyHMAC(header: wrongMethod, body: Self.body, key: Self.key))
        var notBase64 = header
        notBase64.signature = "not base64!"
        #expect(!MessageSigner.verifyHMAC(header: notBase64, body: Self.body, key: Self.key))
        #expect(!MessageSigner.verifyHMAC(header: Array("garbage".utf8), body: Self.body, key: Self.key))
        // A 1.0 header with hmac is refused even if the MAC is right.
        let legacy = Array("Version:1.0;SigningMethod:hmac_sha256;Signature:\(Self.hmacSignature)".utf8)
        #expect(!MessageSigner.verifyHMAC(header: legacy, body: Self.body, key: Self.key))
    }

    @Test func rsaFramesMatchOpenSSLKnownAnswerAndVerify() throws {
        let key = try CryptoFixtures.privateKey()
        let frames = try MessageSigner.rsaFrames(body: Self.body, key: key)
        #expect(Self.text(frames[0]) == "Version:2.0;SigningMethod:rsa2048_sha1;Signature:\(Self.rsaSignature)")
        #expect(frames[1] == Self.body)
        let publicKey = try RSAPublicKey(pemRepresentation: CryptoFixtures.spkiPublicPEM)
        #expect(MessageSigner.verifyRSA(header: frames[0], body: Self.body, publicKey: publicKey))
        // The payload really is the ASCII base64 SHA-1 of the body.
        let signature = try #require(Data(base64Encoded: Self.rsaSignature))
        let recovered = try #require(publicKey.publicDecryptRaw([UInt8](signature)))
        #expect(Self.text(recovered).count == 28)
    }

    @Test func rsaRejectsTamperingAndOtherKeys() throws {
        let key = try CryptoFixtures.privateKey()
        let other = try RSAPrivateKey.generate()
        let frames = try MessageSigner.rsaFrames(body: Self.body, key: key)
        var tampered = Self.body
        tampered[tampered.count - 3] ^= 1
        #expect(!MessageSigner.verifyRSA(header: frames[0], body: tampered, publicKey: key.publicKey))
        #expect(!MessageSigner.verifyRSA(header: frames[0], body: Self.body, publicKey: other.publicKey))
        let header = try MessageHeader.parse(frames[0])
        var wrongMethod = header
        wrongMethod.method = .hmacSHA256
        #expect(!MessageSigner.verifyRSA(header: wrongMethod, body: Self.body, publicKey: key.publicKey))
        let hmacFrames = MessageSigner.hmacFrames(body: Self.body, key: Self.key)
        #expect(!MessageSigner.verifyRSA(header: hmacFrames[0], body: Self.body, publicKey: key.publicKey))
    }

    @Test func headerRoundTripsAndLegacyForms() throws {
        let header = MessageHeader(method: .rsa2048SHA1, signature: "abc+/=")
        #expect(try MessageHeader.parse(header.format()) == header)
        #expect(MessageHeader(method: .hmacSHA256, signature: "x").version == "2.0")

        let legacy = try MessageHeader.parse(Array("Version:1.0;SigningMethod:rsa2048_sha1;SignedChecksum:QUJD".utf8))
        #expect(legacy == MessageHeader(version: "1.0", method: .rsa2048SHA1, signature: "QUJD"))

        let reordered = try MessageHeader.parse(Array("Signature:QUJD;Extra:1;SigningMethod:hmac_sha256;;Version:2.0;".utf8))
        #expect(reordered == MessageHeader(method: .hmacSHA256, signature: "QUJD"))
    }

    /// `scan` (the server's inbound path) finds the parts `parse` returns, at their places.
    @Test func scanFindsWhatParseReads() throws {
        for text in ["Version:2.0;SigningMethod:hmac_sha256;Signature:abc+/=",
                     "Signature:QUJD;Extra:1;SigningMethod:rsa2048_sha1;;Version:1.0;",
                     "Version:1.0;SigningMethod:rsa2048_sha1;SignedChecksum:", "Version:2.0;SigningMethod:hmac_sha256;Signature:x;Signature:y"] {
            let bytes = Array(text.utf8)
            let scanned = try MessageHeader.scan(bytes)
            let parsed = try MessageHeader.parse(bytes)
            #expect(String(decoding: bytes[scanned.version], as: UTF8.self) == parsed.version, "\(text)")
            #expect(String(decoding: bytes[scanned.signature], as: UTF8.self) == parsed.signature, "\(text)")
            #expect(scanned.method == parsed.method, "\(text)")
        }
    }

    @Test func headerRejections() {
        func parse(_ text: String) throws(FramingError) -> MessageHeader { try MessageHeader.parse(Array(text.utf8)) }
        #expect(throws: FramingError.unsupportedVersion("3.0")) {
            try parse("Version:3.0;SigningMethod:hmac_sha256;Signature:QUJD")
        }
        #expect(throws: FramingError.hmacRequiresVersion2) {
            try parse("Version:1.0;SigningMethod:hmac_sha256;Signature:QUJD")
        }
        #expect(throws: FramingError.unsupportedSigningMethod("hmac_md5")) {
            try parse("Version:2.0;SigningMethod:hmac_md5;Signature:QUJD")
        }
        #expect(throws: FramingError.missingField("Version")) { try parse("SigningMethod:hmac_sha256;Signature:QUJD") }
        #expect(throws: FramingError.missingField("SigningMethod")) { try parse("Version:2.0;Signature:QUJD") }
        #expect(throws: FramingError.missingField("Signature")) { try parse("Version:2.0;SigningMethod:hmac_sha256") }
        #expect(throws: FramingError.malformedHeader) { try parse("Version:2.0;SigningMethod;Signature:QUJD") }
        #expect(throws: FramingError.malformedHeader) {
            try MessageHeader.parse(Array("Version:2.0;SigningMethod:hmac_sha256;Signature:".utf8) + [0xC3, 0xA9])
        }
        let long = "Version:2.0;SigningMethod:hmac_sha256;Signature:" + String(repeating: "A", count: 2001)
        #expect(throws: FramingError.headerTooLong(long.utf8.count)) { try parse(long) }
        let fits = "Version:2.0;SigningMethod:hmac_sha256;Signature:" + String(repeating: "A", count: 2048 - 48)
        #expect(fits.utf8.count == 2048)
        #expect(throws: Never.self) { try parse(fits) }
    }

    @Test func sessionKeyEncryptsForThePrincipal() throws {
        let key = try CryptoFixtures.privateKey()
        let session = SessionKey.random()
        #expect(session.bytes.count == 32)
        #expect(SessionKey.random() != session)
        #expect(session.description == "SessionKey(32 bytes)")
        let encoded = try session.encrypted(for: key.publicKey)
        #expect(Data(base64Encoded: encoded)?.count == 256)
        #expect(try SessionKey.decrypt(base64: encoded, with: key) == session)
        #expect(throws: CryptoKeyError.decryptionFailed) {
            try SessionKey.decrypt(base64: encoded, with: RSAPrivateKey.generate())
        }
        #expect(throws: CryptoKeyError.decryptionFailed) { try SessionKey.decrypt(base64: "%%%", with: key) }

        // The decrypted key drives the command channel.
        let frames = MessageSigner.hmacFrames(body: Self.body, key: session.bytes)
        let received = try SessionKey.decrypt(base64: encoded, with: key)
        #expect(MessageSigner.verifyHMAC(header: frames[0], body: frames[1], key: received.bytes))
    }
}
