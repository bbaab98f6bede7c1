import COpenSSL

/// Owns an OpenSSL `EVP_PKEY` used only for the raw PKCS#1 v1.5 type-1 primitive
/// ("private encrypt" / "public decrypt" without DigestInfo) that swift-crypto does not offer.
///
/// OpenSSL 3 allows concurrent use of one `EVP_PKEY` as long as each operation has its own
/// `EVP_PKEY_CTX`, which the C helpers create per call; hence `@unchecked Sendable`.
final class OpenSSLKey: @unchecked Sendable {
    private let pointer: OpaquePointer

    private init(pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        EVP_PKEY_free(pointer)
    }

    /// Loads a private key from PKCS#1 or PKCS#8 DER.
    static func privateKey(der: [UInt8]) -> OpenSSLKey? {
        der.withUnsafeBufferPointer { buffer in
            pushy_rsa_private_key_from_der(buffer.baseAddress, buffer.count).map(OpenSSLKey.init(pointer:))
        }
    }

    /// Loads a public key from SubjectPublicKeyInfo DER.
    static func publicKey(der: [UInt8]) -> OpenSSLKey? {
        der.withUnsafeBufferPointer { buffer in
            pushy_rsa_public_key_from_der(buffer.baseAddress, buffer.count).map(OpenSSLKey.init(pointer:))
        }
    }

    /// Modulus size in bytes.
    var size: Int { Int(pushy_rsa_size(pointer)) }

    /// PKCS#1 v1.5 type-1 padding of `input`, then the private-key operation.
    func privateEncrypt(_ input: [UInt8]) -> [UInt8]? {
        run(input, pushy_rsa_private_encrypt_raw)
    }

    /// Public-key operation, then removal and check of type-1 padding.
    func publicDecrypt(_ input: [UInt8]) -> [UInt8]? {
        run(input, pushy_rsa_public_decrypt_raw)
    }

    private func run(
        _ input: [UInt8],
        _ operation: (OpaquePointer?, UnsafePointer<UInt8>?, Int, UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<Int>?) -> Int32
    ) -> [UInt8]? {
        var output = [UInt8](repeating: 0, count: size)
        var outputLength = output.count
        let ok = input.withUnsafeBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                operation(pointer, inBuffer.baseAddress, inBuffer.count, outBuffer.baseAddress, &outputLength)
            }
        }
        guard ok == 1 else { return nil }
        return Array(output.prefix(outputLength))
    }
}
