import Foundation
import PushyProtocol
import PushyTestSupport
import Synchronization

/// RSA keys shared by the clusters of this test process (fixture keys, `KeysByName`): making
/// 2048-bit keys in a debug build, synchronously on one of the two cooperative threads every test
/// shares, was a large share of the suite's CPU. Clusters have their own data directories and
/// stores, so sharing keys between them changes nothing a test looks at; within a cluster every
/// node still has a key of its own (one per name).
enum ClusterKeys {
    private static let byName = KeysByName()
    static let server = try! byName.key("cluster server")
    static let admin = try! byName.key("cluster admin")

    /// The key of node or user `name` (made on first use).
    static func named(_ name: String) throws -> RSAPrivateKey { try byName.key(name) }

    /// Puts the shared server and admin keys where `pushy-server init` (`DataDirectory.initialize`)
    /// looks, so it uses them instead of making new ones.
    static func seed(dataDir: String, serverKeyPath: String, adminName: String = "admin") throws {
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        for (key, path) in [(server, serverKeyPath), (admin, dataDir + "/\(adminName).pem")] {
            guard FileManager.default.createFile(atPath: path, contents: Data(key.pemRepresentation.utf8),
                                                 attributes: [.posixPermissions: 0o600]) else {
                throw FaultError.setup("cannot write \(path)")
            }
        }
    }
}
