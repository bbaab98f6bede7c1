import PushyProtocol

/// RSA keys shared by this target's tests. A 2048-bit key takes a good part of a second to make
/// in a debug build and the router tests would need dozens, so the keys that only have to be
/// valid are made once per process: the engine's server key, the admin's (each rig has its own
/// store), and `spare`, the public key of principals nobody signs as and the key of signers the
/// server must not know. Principals that sign (other than the admin) get keys of their own.
enum TestKeys {
    static let server = try! RSAPrivateKey.generate()
    static let admin = try! RSAPrivateKey.generate()
    static let spare = try! RSAPrivateKey.generate()
    static var sparePEM: String { spare.publicKey.pemRepresentation }
}
