import Foundation
import PushyCore
import PushyProtocol

/// How an agent is set up: flags of `pushy-client`, or a JSON config file with the same keys.
public struct AgentConfiguration: Sendable {
    /// The org URL, e.g. `http://127.0.0.1:10003/organizations/pushy` (Chef's `chef_server_url`).
    public var serverURL: String
    /// Node (and client) name.
    public var nodeName: String
    /// The node's client private key (PEM).
    public var key: RSAPrivateKey
    public var whitelist: Whitelist
    public var roles: [String] = []
    public var environment: String = "_default"
    public var tags: [String] = []
    /// Operator attributes (`--attribute k=v`), searchable as `k:v`.
    public var attributes: [(String, String)] = []
    /// Where `file` payloads are written.
    public var fileDir: String = NSTemporaryDirectory() + "pushy"
    /// Connect without CURVE when the server offers none (spec 4.5).
    public var allowUnencrypted: Bool = true
    /// Report node attributes to the server at start (so search finds the node).
    public var reportNode: Bool = true
    /// Largest stdout+stderr sent back with a result, bytes (spec 7.2 `max_body_size`).
    public var maxBodySize: Int = 63_000
    /// Grace period between SIGTERM and SIGKILL when a job is aborted, seconds.
    public var killGracePeriod: Double = 5

    public init(serverURL: String, nodeName: String, key: RSAPrivateKey, whitelist: Whitelist) {
        self.serverURL = serverURL
        self.nodeName = nodeName
        self.key = key
        self.whitelist = whitelist
    }

    public var orgName: String? {
        let parts = serverURL.split(separator: "/")
        guard let i = parts.lastIndex(of: "organizations"), i + 1 < parts.count else { return nil }
        return String(parts[i + 1])
    }
}
