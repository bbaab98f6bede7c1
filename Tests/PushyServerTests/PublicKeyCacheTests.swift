import PushyProtocol
@testable import PushyServer
import PushyTestSupport
import Testing

/// The parsed-key cache behind every signature check: keyed by the PEM text (a replaced key is
/// another entry), bounded, and a bad PEM is refused each time, never kept.
@Suite(.timeLimit(.minutes(1))) struct PublicKeyCacheTests {
    @Test func aKeyIsParsedOnceAndAReplacedKeyIsAnotherEntry() throws {
        let cache = PublicKeyCache(limit: 3)
        let a = try KeysByName.unused().publicKey, b = try KeysByName.unused().publicKey
        #expect(try cache.key(a.pemRepresentation) == a)
        #expect(try cache.key(a.pemRepresentation) == a)
        #expect(cache.count == 1)
        // The principal's key replaced: its new text finds the new key, never the old one.
        #expect(try cache.key(b.pemRepresentation) == b)
        #expect(cache.count == 2)
        #expect(throws: CryptoKeyError.self) { try cache.key("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n") }
        #expect(throws: CryptoKeyError.self) { try cache.key("not a key") }
        #expect(cache.count == 2)
    }

    @Test func itNeverHoldsMoreThanItsLimit() throws {
        let cache = PublicKeyCache(limit: 3)
        let keys = try (0..<7).map { _ in try KeysByName.unused().publicKey }
        for k in keys {
            #expect(try cache.key(k.pemRepresentation) == k)
            #expect(cache.count <= 3)
        }
        #expect(try cache.key(keys[0].pemRepresentation) == keys[0])
    }
}
