import FoundationEssentials
import PushyCore

/// Every setting of `pushy-client` with its default. `resolve` fills it from flags, `PUSHY_*`
/// environment variables, the JSON config file and the defaults, in that order; `validate()`
/// reports every problem at once; `configuration(key:)` gives the runtime's `AgentConfiguration`.
/// The keys (names, flags, variables, meaning) are declared once in `AgentSettings.keys`;
/// docs/agent.md lists them.
public struct AgentSettings: Sendable {
    /// The org URL, e.g. `https://127.0.0.1:10003/organizations/pushy`.
    public var serverURL: String?
    /// Node (and client) name.
    public var nodeName: String?
    /// Path of the node's private key (PEM).
    public var clientKey: String?
    /// Job commands this node runs, in order (regexes are tried in it); none means `chef-client` only.
    public var whitelist: [WhitelistEntry] = []
    public var roles: [String] = []
    public var environment = "_default"
    public var tags: [String] = []
    /// Operator attributes, searchable as `KEY:VALUE`.
    public var attributes: [(String, String)] = []
    /// Where job files and captured output are written.
    public var fileDir = String.temporaryDirectory + "pushy"
    /// Job env keys that may overwrite the agent's environment; nil allows every key.
    public var allowedOverwritableEnvVars: [String]?
    /// Most bytes of stdout+stderr sent back with a result (the tails are kept).
    public var maxBodySize = 63_000
    /// Lock file of `"lock": true` whitelist entries; nil means Chef's default.
    public var lockfile: String?
    /// Connect without CURVE when the server offers none.
    public var allowUnencrypted = false
    /// A PEM certificate trusted for the server's HTTPS besides the system roots.
    public var trustedCert: String?
    /// `verify_peer` (default) or `verify_none` (tests only).
    public var sslVerifyMode = "verify_peer"
    /// One-time enrolment token, used when `clientKey` does not exist yet.
    public var enrollmentToken: String?
    /// trace, debug, info, notice, warning, error or critical.
    public var logLevel = "info"

    /// Where each key's value came from; a key not here has its default.
    public internal(set) var sources: [String: Source] = [:]
    /// What reading the sources found wrong (unknown keys, wrong types, bad entries); `validate()`
    /// reports these together with the checks of the values.
    public internal(set) var readProblems: [String] = []

    public init() {}

    /// Where a value came from, highest precedence first.
    public enum Source: Sendable, Equatable, CustomStringConvertible {
        case flag(String)
        case environment(String)
        /// The config file's path and the key as spelt there (`chef_server_url` for `server_url`).
        case file(path: String, key: String)
        /// Both the config file and flags (lists that flags add to).
        case fileAndFlag(path: String, flag: String)

        public var description: String {
            switch self {
            case .flag(let f): f
            case .environment(let v): "$\(v)"
            case .file(let path, let key): "\(key) in \(path)"
            case .fileAndFlag(let path, let flag): "\(path) and \(flag)"
            }
        }
    }

    /// The org name in `serverURL` (`…/organizations/ORG`), nil when it has none.
    public var orgName: String? { serverURL.flatMap(AgentConfiguration.orgName(in:)) }
}
