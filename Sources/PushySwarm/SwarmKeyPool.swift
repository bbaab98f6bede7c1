#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import PushyProtocol

/// A small pool of RSA keys for the agents' clients, kept on disk so that several swarm
/// processes (and a later run of the same swarm) agree on it.
public enum SwarmKeyPool {
    /// `DIR/swarm-keys` next to the admin key (normally the server's data directory).
    public static func defaultDirectory(adminKeyPath: String) -> String {
        (adminKeyPath as NSString).deletingLastPathComponent + "/swarm-keys"
    }

    /// Loads keys `0..<count` from `directory`, generating missing ones. Safe against other
    /// processes doing the same: a key file is published with `link`, so the first one wins.
    public static func load(count: Int, directory: String) throws -> [RSAPrivateKey] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return try (0..<count).map { i in
            let path = "\(directory)/key-\(i).pem"
            if let key = read(path) { return key }
            let fresh = try RSAPrivateKey.generate()
            let temp = "\(path).\(getpid()).tmp"
            guard FileManager.default.createFile(atPath: temp, contents: Data(fresh.pemRepresentation.utf8),
                                                 attributes: [.posixPermissions: 0o600])
            else { throw SwarmError.invalid("cannot write \(temp)") }
            defer { unlink(temp) }
            if link(temp, path) == 0 { return fresh }
            guard let winner = read(path) else { throw SwarmError.invalid("cannot read \(path)") }
            return winner
        }
    }

    static func read(_ path: String) -> RSAPrivateKey? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return try? RSAPrivateKey(pemRepresentation: text)
    }
}
