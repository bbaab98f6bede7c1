import FuzzSupport
@testable import PushyProtocol

/// The PEM key readers: `RSAPublicKey(pemRepresentation:)` (principal keys from the store and
/// the config's server key) and `RSAPrivateKey(pemRepresentation:)` (client and server keys
/// from disk), with the PEM label sniffing in front of them.
///
/// A key that loads writes back (SPKI and PKCS#1 for public keys, PKCS#1 and PKCS#8 for private
/// ones) to PEM that loads as the same key, and a loaded private key signs what its public key
/// verifies (one signature per key that loads, which is rare among fuzz inputs).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKeys(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let text = fuzzString(data, count) else { return 0 }
    if let label = PEM.firstLabel(in: text) {
        fuzzCheck(text.contains("-----BEGIN \(label)-----"), "label '\(label)' is not the text of a BEGIN line")
    }
    _ = PEM.isLegacyEncrypted(text)

    if let key = try? RSAPublicKey(pemRepresentation: text) {
        fuzzCheck(key.keySizeInBits >= 2048, "accepted a \(key.keySizeInBits)-bit public key")
        for pem in [key.pemRepresentation, key.pkcs1PEMRepresentation] {
            let again = try? RSAPublicKey(pemRepresentation: pem)
            fuzzCheck(again == key, "public key did not survive its own PEM:\n\(pem)")
        }
    }

    if let key = try? RSAPrivateKey(pemRepresentation: text) {
        fuzzCheck(key.keySizeInBits >= 2048, "accepted a \(key.keySizeInBits)-bit private key")
        for pem in [key.pemRepresentation, key.pkcs8PEMRepresentation] {
            let again = try? RSAPrivateKey(pemRepresentation: pem)
            fuzzCheck(again?.publicKey == key.publicKey, "private key did not survive its own PEM")
        }
        let message = Array("fuzz".utf8)
        let signature = try? key.signSHA256(message)
        fuzzCheck(signature.map { key.publicKey.verifySHA256(signature: $0, for: message) } == true,
                  "a loaded private key's signature does not verify")
    }
    return 0
}

@_cdecl("fuzz_keys_main")
public func fuzzKeysMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    fuzzMain(argc, argv, fuzzKeys)
}
