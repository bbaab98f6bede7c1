import Testing
@testable import PushyZMQ

@Suite(.timeLimit(.minutes(3))) struct Z85Tests {
    @Test func knownVectorRoundTrips() {
        let bytes: [UInt8] = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B]
        #expect(Z85.encode(bytes) == "HelloWorld")
        #expect(Z85.decode("HelloWorld") == bytes)
    }

    @Test func rejectsBadLengthsAndCharacters() {
        #expect(Z85.encode([1, 2, 3]) == nil)
        #expect(Z85.decode("Hell") == nil)
        #expect(Z85.decode("Hell\"") == nil)  // '"' is not in the Z85 alphabet
        #expect(Z85.encode([]) == "")
        #expect(Z85.decode("") == [])
    }

    @Test func generatedKeyPairIsZ85AndPublicKeyIsDerivable() throws {
        let pair = try CurveKeyPair.generate()
        #expect(pair.publicKey.utf8.count == 40)
        #expect(Z85.decode(pair.publicKey)?.count == 32)
        #expect(CurveKeyPair.isValidKey(pair.secretKey))
        #expect(try CurveKeyPair(secretKey: pair.secretKey) == pair)
        #expect(throws: ZMQError.self) { try CurveKeyPair(secretKey: "short") }
    }
}
