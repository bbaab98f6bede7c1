import PushyProtocol
import PushyTestSupport
import Synchronization

/// RSA keys shared by this target's tests. A 2048-bit key takes a good part of a second to make
/// in a debug build (most of a router test's CPU), so keys are made once per process: the
/// engine's server key, the admin's, `spare` (the public key of principals nobody signs as, and
/// the key of signers the server must not know), and one key per principal name. Within one rig
/// every principal still has a key of its own; rigs have their own stores, so sharing a name's
/// key between rigs changes nothing.
enum TestKeys {
    static let server = try! RSAPrivateKey.generate()
    static let admin = try! RSAPrivateKey.generate()
    static let spare = try! RSAPrivateKey.generate()
    static var sparePEM: String { spare.publicKey.pemRepresentation }

    private static let byName = KeysByName()

    /// The key of principal `name` (made on first use).
    static func named(_ name: String) throws -> RSAPrivateKey { try byName.key(name) }
}
