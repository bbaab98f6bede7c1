import FoundationEssentials
import PushyAPIClient
import PushyCore
import PushyProtocol

/// How an agent runtime is set up; `AgentSettings` makes one from `pushy-client`'s flags,
/// environment and config file.
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
    public var fileDir: String = String.temporaryDirectory + "pushy"
    /// How the server's HTTPS certificate is checked.
    public var tls: ClientTLS = .system
    /// Connect without CURVE when the server offers none (spec 4.5); off by default, as in the reference.
    public var allowUnencrypted: Bool = false
    /// Report node attributes to the server at start (so search finds the node).
    public var reportNode: Bool = true
    /// Largest stdout+stderr sent back with a result, bytes (spec 7.2 `max_body_size`).
    public var maxBodySize: Int = 63_000
    /// Grace period between SIGTERM and SIGKILL when a job is aborted or times out, seconds.
    public var killGracePeriod: Double = 5
    /// The agent kills a job this many seconds after the commit's `run_timeout` (spec 12 point 2).
    /// While connected, the server's own timeout comes first (it marks the node `timed_out` and
    /// sends `abort`, which kills the job); the agent's deadline is the fallback for a lost server.
    public var runTimeoutMargin: Double = 2
    /// Job `env` keys that may overwrite the agent's environment; nil allows all. With a list, any
    /// other key is passed as `CHEF_PUSH_ENV_<key>` instead (spec 7.2, 7.3).
    public var allowedOverwritableEnvVars: [String]? = nil
    /// The lock file of `lock: true` whitelist entries; nil means `defaultLockPath`.
    public var lockFile: String? = nil
    /// Most bytes per stream sent live in `output` messages for one job; the final result still
    /// carries the tail (spec 12 point 8).
    public var liveOutputLimit: Int = 1 << 20

    /// Chef's default lock file, `<file_cache_path>/chef-client-running.pid`, where the usual
    /// `/var/chef/cache` exists (so `lock: true` excludes a concurrent chef-client run); else the
    /// same name in `fileDir`.
    public var defaultLockPath: String {
        if let lockFile { return lockFile }
        var isDir = false
        if FileManager.default.fileExists(atPath: "/var/chef/cache", isDirectory: &isDir), isDir {
            return "/var/chef/cache/chef-client-running.pid"
        }
        return fileDir + "/chef-client-running.pid"
    }

    public init(serverURL: String, nodeName: String, key: RSAPrivateKey, whitelist: Whitelist) {
        self.serverURL = serverURL
        self.nodeName = nodeName
        self.key = key
        self.whitelist = whitelist
    }

    public var orgName: String? { Self.orgName(in: serverURL) }

    /// The servers to try, in order (issue 17: `server_url` may list several, comma-separated,
    /// e.g. every server of a cluster on one database).
    public var serverURLs: [String] { Self.urls(in: serverURL) }

    public static func urls(in text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
    }

    /// The org name in an org URL (`…/organizations/ORG`; the first of a list), nil when it has none.
    public static func orgName(in text: String) -> String? {
        let url = urls(in: text).first ?? text
        let parts = url.split(separator: "/")
        guard let i = parts.lastIndex(of: "organizations"), i + 1 < parts.count else { return nil }
        return String(parts[i + 1])
    }
}
