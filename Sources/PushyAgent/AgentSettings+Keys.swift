import PushyCore

extension AgentSettings {
    /// One setting: its config-file key, the flag and environment variables that set it, where
    /// its value goes and what it means. Declared once, in `keys`.
    public struct Key {
        /// The config-file key, e.g. `server_url`.
        public let name: String
        /// Other config-file keys with the same meaning (Chef's `chef_server_url`).
        public let aliases: [String]
        /// The `pushy-client` flag, e.g. `--server-url`.
        public let flag: String
        /// `PUSHY_<NAME>` for single values (plus any older name); lists have none.
        public let environmentVariables: [String]
        public let kind: Kind
        /// One line for docs/agent.md and `--check-config`.
        public let doc: String

        init(_ name: String, aliases: [String] = [], flag: String, env extra: [String] = [], _ kind: Kind, _ doc: String) {
            self.name = name
            self.aliases = aliases
            self.flag = flag
            self.environmentVariables = kind.isList ? [] : ["PUSHY_" + name.uppercased()] + extra
            self.kind = kind
            self.doc = doc
        }
    }

    /// What type a key holds and which property it sets.
    public enum Kind {
        case string(WritableKeyPath<AgentSettings, String>)
        case optionalString(WritableKeyPath<AgentSettings, String?>)
        case int(WritableKeyPath<AgentSettings, Int>)
        case bool(WritableKeyPath<AgentSettings, Bool>)
        /// A list the config file gives and flags add to.
        case strings(WritableKeyPath<AgentSettings, [String]>)
        /// A list the flags replace (nil when neither gives one).
        case optionalStrings(WritableKeyPath<AgentSettings, [String]?>)
        /// Entries as a JSON object `{"NAME": "COMMAND LINE", …}` or strings `NAME=COMMAND LINE`; flags add to it.
        case whitelist
        /// `{"KEY": "VALUE", …}` or strings `KEY=VALUE`; flags add to it.
        case attributes

        var isList: Bool {
            switch self {
            case .string, .optionalString, .int, .bool: false
            case .strings, .optionalStrings, .whitelist, .attributes: true
            }
        }

        /// Whether flags add to the config file's list instead of replacing it.
        var flagsAdd: Bool {
            switch self {
            case .strings, .whitelist, .attributes: true
            default: false
            }
        }

        /// The JSON type, as an error message or the docs name it.
        public var typeName: String {
            switch self {
            case .string, .optionalString: "a string"
            case .int: "a whole number"
            case .bool: "true or false"
            case .strings, .optionalStrings: "a list of strings"
            case .whitelist: "an object of command names to command lines (or a list of NAME=COMMAND LINE)"
            case .attributes: "an object of strings (or a list of KEY=VALUE)"
            }
        }
    }

    /// Every key the agent knows, in the order docs/agent.md and `--check-config` show them.
    public static var keys: [Key] {
        [
            Key("server_url", aliases: ["chef_server_url"], flag: "--server-url", .optionalString(\.serverURL),
                "The org URL, e.g. https://127.0.0.1:10003/organizations/pushy (required); for several servers on one database, their org URLs, comma-separated (tried in turn)."),
            Key("node_name", flag: "--node", .optionalString(\.nodeName), "Node (and client) name (required)."),
            Key("client_key", flag: "--key", .optionalString(\.clientKey),
                "Path of the node's private key, PEM (required; made by 'pushy client create' or by enrolment)."),
            Key("enrollment_token", flag: "--enroll-token", env: ["PUSHY_ENROLL_TOKEN"], .optionalString(\.enrollmentToken),
                "One-time token ('pushy token create'): when client_key does not exist yet the agent makes its key pair there and registers it."),
            Key("whitelist", flag: "--whitelist", .whitelist,
                "Job commands this node runs: NAME to command line, /REGEX/ to a line where \\1 is the first group, or {\"command_line\": …, \"lock\": true | PATH}. Default: chef-client only."),
            Key("roles", flag: "--role", .strings(\.roles), "Roles of this node, searchable as role:NAME."),
            Key("environment", flag: "--environment", .string(\.environment), "Chef environment of this node."),
            Key("tags", flag: "--tag", .strings(\.tags), "Tags of this node, searchable as tags:NAME."),
            Key("attributes", flag: "--attribute", .attributes, "Attributes of this node, searchable as KEY:VALUE."),
            Key("file_dir", flag: "--file-dir", .string(\.fileDir), "Directory for job files and captured output."),
            Key("allowed_overwritable_env_vars", flag: "--allowed-overwritable-env-var", .optionalStrings(\.allowedOverwritableEnvVars),
                "Job env keys that may overwrite the agent's environment; when given, other keys arrive as CHEF_PUSH_ENV_<KEY>. Default: every key."),
            Key("max_body_size", flag: "--max-body-size", .int(\.maxBodySize),
                "Most bytes of stdout+stderr returned with a result, at least 1024 (the tails are kept)."),
            Key("lockfile", flag: "--lockfile", .optionalString(\.lockfile),
                "Lock file of whitelist entries with \"lock\": true. Default: /var/chef/cache/chef-client-running.pid when /var/chef/cache exists, else FILE_DIR/chef-client-running.pid."),
            Key("allow_unencrypted", flag: "--allow-unencrypted", .bool(\.allowUnencrypted),
                "Connect without CURVE encryption when the server offers none."),
            Key("trusted_cert", flag: "--trusted-cert", .optionalString(\.trustedCert),
                "PEM certificate trusted for the server's HTTPS besides the system roots (pushy-server init writes DATA_DIR/tls.crt)."),
            Key("ssl_verify_mode", flag: "--insecure", .string(\.sslVerifyMode),
                "verify_peer, or verify_none to skip checking the server's HTTPS certificate (tests only; --insecure)."),
            Key("log_level", flag: "--log-level", .string(\.logLevel), "trace, debug, info, notice, warning, error or critical."),
        ]
    }

    /// The key a config-file name (or alias) stands for.
    static func key(named name: String) -> Key? {
        keys.first { $0.name == name || $0.aliases.contains(name) }
    }
}
