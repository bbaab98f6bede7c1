import PushyProtocol
import PushyTestSupport
import Synchronization

/// RSA keys shared by this target's tests (fixture keys, `KeysByName`): the engine's server key,
/// the admin's, `spare` (the public key of principals nobody signs as, and the key of signers the
/// server must not know), and one key per principal name. Within one rig every principal still
/// has a key of its own; rigs have their own stores, so sharing a name's key between rigs
/// changes nothing.
enum TestKeys {
    private static let byName = KeysByName()
    static let server = try! byName.key("rig server")
    static let admin = try! byName.key("rig admin")
    static let spare = try! byName.key("rig spare")
    static var sparePEM: String { spare.publicKey.pemRepresentation }

    /// The key of principal `name` (made on first use).
    static func named(_ name: String) throws -> RSAPrivateKey { try byName.key(name) }
}
