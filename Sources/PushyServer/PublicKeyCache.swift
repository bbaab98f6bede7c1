import PushyProtocol
import Synchronization

/// Principals' public keys, parsed, by their PEM text: every signed request needs its
/// principal's key, and parsing the PEM cost more than checking the signature with it (≈ 80 µs
/// against ≈ 35 µs on the bench machine). Keyed by the text itself, so a replaced key is simply
/// another entry and nothing can go stale. Small and bounded (it is emptied when full): the
/// callers that repeat are few (users, scripts, the dashboard), while thousands of agents each
/// fetch their config once per connection.
final class PublicKeyCache: Sendable {
    private let keys = Mutex<[String: RSAPublicKey]>([:])
    let limit: Int

    init(limit: Int = 256) { self.limit = limit }

    func key(_ pem: String) throws(CryptoKeyError) -> RSAPublicKey {
        if let key = keys.withLock({ $0[pem] }) { return key }
        let key = try RSAPublicKey(pemRepresentation: pem)
        keys.withLock {
            if $0.count >= limit { $0.removeAll(keepingCapacity: true) }
            $0[pem] = key
        }
        return key
    }

    var count: Int { keys.withLock { $0.count } }
}
