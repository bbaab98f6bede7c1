import Foundation
import PushyProtocol
import Synchronization

/// RSA keys for tests, one per name, shared by every test of the process: each test's server has
/// its own store, so sharing "the key of rob" between tests changes nothing they check, and
/// within one process no two names get the same key.
///
/// Keys come from `Fixtures/test-keys.pem`, 2048-bit keys made once with
/// `openssl genrsa -traditional 2048` and used by nothing but these tests. Making a key takes a
/// good part of a second of CPU in a debug build, and the suite asked for a few hundred: that was
/// a fifth of the test process's CPU. Past the last fixture, keys are made as before.
public final class KeysByName: Sendable {
    private let keys = Mutex<[String: RSAPrivateKey]>([:])

    public init() {}

    /// The key of `name` (taken from the fixtures on first use).
    public func key(_ name: String) throws -> RSAPrivateKey {
        if let key = keys.withLock({ $0[name] }) { return key }
        let made = try KeyFixtures.shared.next()
        return keys.withLock { keys in
            if let key = keys[name] { return key }
            keys[name] = made
            return made
        }
    }

    /// A key no other name or caller of this process has.
    public static func unused() throws -> RSAPrivateKey { try KeyFixtures.shared.next() }
}

/// The fixture keys, handed out once each.
final class KeyFixtures: Sendable {
    static let shared = KeyFixtures()

    private let pems: [String]
    private let taken = Mutex(0)

    init() {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/test-keys.pem").path
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        let end = "-----END RSA PRIVATE KEY-----"
        pems = text.components(separatedBy: end).dropLast().map { $0.trimmingCharacters(in: .whitespacesAndNewlines) + "\n" + end + "\n" }
    }

    /// The next unused fixture key, or a new key once they are all taken.
    func next() throws -> RSAPrivateKey {
        let index = taken.withLock { n -> Int in
            defer { n += 1 }
            return n
        }
        guard index < pems.count else { return try RSAPrivateKey.generate() }
        return try RSAPrivateKey(pemRepresentation: pems[index])
    }
}
