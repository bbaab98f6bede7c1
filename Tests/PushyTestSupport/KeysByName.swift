import PushyProtocol
import Synchronization

/// RSA keys made once per test process, one per name: a 2048-bit key takes a good part of a
/// second of CPU in a debug build, so tests that need "a key for rob" share it (each test's
/// server has its own store, so sharing a key between tests changes nothing they check).
public final class KeysByName: Sendable {
    private let keys = Mutex<[String: RSAPrivateKey]>([:])

    public init() {}

    /// The key of `name` (made on first use).
    public func key(_ name: String) throws -> RSAPrivateKey {
        if let key = keys.withLock({ $0[name] }) { return key }
        let made = try RSAPrivateKey.generate()
        return keys.withLock { keys in
            if let key = keys[name] { return key }
            keys[name] = made
            return made
        }
    }
}
