import FoundationEssentials
import PushyAPIClient
import PushyProtocol

#if canImport(Glibc)
import Glibc
#endif

/// First start of a node that has no key yet: make an RSA key pair here, register its public
/// half with a one-time enrolment token, and keep the private key (0600) for every later start.
/// The private key never leaves the node.
public enum AgentEnrollment {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Returns the node's key: read from `keyPath` when it exists (the token is then not
    /// needed), else generated and enrolled with `token`.
    public static func key(at keyPath: String, enrollToken token: String?, orgURL: String, node: String,
                           tls: ClientTLS) async throws -> RSAPrivateKey {
        let fm = FileManager.default
        if fm.fileExists(atPath: keyPath) {
            let text: String
            do { text = try String(contentsOfFile: keyPath, encoding: .utf8) } catch {
                throw Failure(description: "cannot read key file \(keyPath): \(Self.reason(error))")
            }
            do { return try RSAPrivateKey(pemRepresentation: text) } catch {
                throw Failure(description: "\(keyPath) is not a usable RSA private key: \(error)")
            }
        }
        guard let token, !token.isEmpty else {
            throw Failure(description: "key file \(keyPath) does not exist: create the node with 'pushy client create \(node) --key-out \(keyPath)', or pass --enroll-token (from 'pushy token create') so the agent enrols itself")
        }
        let key = try RSAPrivateKey.generate()
        do {
            try await PushyRESTClient.enroll(orgURL: orgURL, token: token, name: node,
                                             publicKeyPEM: key.publicKey.pemRepresentation, httpClient: try tls.httpClient())
        } catch {
            throw Failure(description: "enrolment of '\(node)' failed: \(error)")
        }
        let dir = keyPath.deletingLastPathComponent
        if !dir.isEmpty { try? fm.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        guard fm.createFile(atPath: keyPath, contents: Data(key.pemRepresentation.utf8),
                            attributes: [.posixPermissions: 0o600])
        else {
            throw Failure(description: "enrolled '\(node)' but could not write its key to \(keyPath); remove the client with 'pushy client delete \(node)' and enrol again")
        }
        return key
    }

    /// The system's words for a failed file read ("No such file or directory"), as
    /// FoundationEssentials errors have no `localizedDescription`.
    static func reason(_ error: any Error) -> String {
        if let cocoa = error as? CocoaError, let posix = cocoa.userInfo["NSUnderlyingError"] as? POSIXError {
            return String(cString: strerror(posix.code.rawValue))
        }
        return "\(error)"
    }
}
