import Crypto
import Foundation
import SwiftASN1
import X509

/// The TLS certificate `pushy-server init` makes when the operator brings none: self-signed,
/// ECDSA P-256, valid for every name agents and the CLI may use to reach this machine.
enum SelfSignedCertificate {
    /// Writes `certificatePath` and `keyPath` (0600). Names are DNS names or IP addresses.
    static func create(names: [String], certificatePath: String, keyPath: String, validDays: Int = 825) throws {
        let signingKey = P256.Signing.PrivateKey()
        let key = Certificate.PrivateKey(signingKey)
        let subject = try DistinguishedName {
            OrganizationName("Pushy")
            CommonName(names.first ?? "localhost")
        }
        var sans: [GeneralName] = []
        var seen = Set<String>()
        for name in names where seen.insert(name).inserted {
            if let ip = ipBytes(name) {
                sans.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(ip))))
            } else {
                sans.append(.dnsName(name))
            }
        }
        let extensions = try Certificate.Extensions {
            // A self-issued leaf must also look like its own issuer (CA, keyCertSign), or
            // BoringSSL (used by the agent and CLI) will not accept it as a trust anchor.
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
            Critical(KeyUsage(digitalSignature: true, keyEncipherment: true, keyCertSign: true))
            try ExtendedKeyUsage([.serverAuth])
            SubjectAlternativeNames(sans)
        }
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: key.publicKey,
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(Double(validDays) * 86_400),
            issuer: subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions,
            issuerPrivateKey: key)
        try DataDirectory.writePrivate(signingKey.pemRepresentation + "\n", to: keyPath)
        let pem = try certificate.serializeAsPEM().pemString + "\n"
        try Data(pem.utf8).write(to: URL(fileURLWithPath: certificatePath))
    }

    /// IPv4 or IPv6 text → network-order bytes.
    static func ipBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}
