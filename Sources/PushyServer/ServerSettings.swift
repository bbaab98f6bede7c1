import Foundation
import PushyPostgres

/// Every `pushy-server` setting, declared once: its `server.json` key, default, environment
/// variable, flag and meaning. `ServerSettings.resolve` fills a `ServerConfiguration` from, in
/// order of precedence, flags, `PUSHY_SERVER_*` variables, `DATA_DIR/server.json` and the
/// defaults, and says where each value came from (`pushy-server config` prints it);
/// docs/configuration.md is this table.
public enum ServerSettings {
    /// One setting.
    public struct Setting: Sendable {
        /// The `server.json` key, e.g. `api_port`.
        public let name: String
        /// The flag of `pushy-server run`/`init`/`config`, e.g. `--api-port`.
        public let flag: String
        /// `PUSHY_SERVER_<NAME>`.
        public var environmentVariable: String { "PUSHY_SERVER_" + name.uppercased() }
        let kind: Kind
        /// One line for help, docs and `pushy-server config`.
        public let doc: String

        init(_ name: String, flag: String? = nil, _ kind: Kind, _ doc: String) {
            self.name = name
            self.flag = flag ?? "--" + name.replacingOccurrences(of: "_", with: "-")
            self.kind = kind
            self.doc = doc
        }

        /// The default as text (`pushy-server config`, docs).
        public var defaultText: String {
            if name == "max_agent_connections" { return "(the file limit minus max(256, 2 %))" }
            if name == "tls_certificate" { return "DATA_DIR/tls.crt" }
            if name == "tls_key" { return "DATA_DIR/tls.key" }
            return kind.text(of: ServerConfiguration(dataDir: "DATA_DIR")) ?? "(none)"
        }

        /// The type as a message names it.
        public var typeName: String { kind.typeName }
    }

    /// What type a setting holds and which property it sets.
    enum Kind: Sendable {
        case string(WritableKeyPath<ServerConfiguration, String> & Sendable)
        case optionalString(WritableKeyPath<ServerConfiguration, String?> & Sendable)
        case int(WritableKeyPath<ServerConfiguration, Int> & Sendable)
        case optionalInt(WritableKeyPath<ServerConfiguration, Int?> & Sendable)
        case double(WritableKeyPath<ServerConfiguration, Double> & Sendable)
        case bool(WritableKeyPath<ServerConfiguration, Bool> & Sendable)

        var typeName: String {
            switch self {
            case .string, .optionalString: "a string"
            case .int, .optionalInt: "a whole number"
            case .double: "a number"
            case .bool: "true or false"
            }
        }

        /// The value in `c` as text; nil when unset.
        func text(of c: ServerConfiguration) -> String? {
            switch self {
            case .string(let p): c[keyPath: p]
            case .optionalString(let p): c[keyPath: p]
            case .int(let p): String(c[keyPath: p])
            case .optionalInt(let p): c[keyPath: p].map(String.init)
            case .double(let p): Self.format(c[keyPath: p])
            case .bool(let p): String(c[keyPath: p])
            }
        }

        static func format(_ d: Double) -> String {
            d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d)
        }

        /// Sets the value from text (a flag or an environment variable); the problem otherwise.
        func set(_ raw: String, in c: inout ServerConfiguration) -> String? {
            let text = raw.trimmingCharacters(in: .whitespaces)
            switch self {
            case .string(let p): c[keyPath: p] = raw
            case .optionalString(let p): c[keyPath: p] = raw
            case .int(let p):
                guard let v = Int(text) else { return "expected \(typeName), got '\(raw)'" }
                c[keyPath: p] = v
            case .optionalInt(let p):
                guard let v = Int(text) else { return "expected \(typeName), got '\(raw)'" }
                c[keyPath: p] = v
            case .double(let p):
                guard let v = Double(text), v.isFinite else { return "expected \(typeName), got '\(raw)'" }
                c[keyPath: p] = v
            case .bool(let p):
                switch text.lowercased() {
                case "true", "1", "yes", "on": c[keyPath: p] = true
                case "false", "0", "no", "off": c[keyPath: p] = false
                default: return "expected true or false, got '\(raw)'"
                }
            }
            return nil
        }
    }

    /// Where a value came from.
    public enum Source: Sendable, Equatable, CustomStringConvertible {
        case defaultValue
        case file(String)
        case environment(String)
        case flag(String)

        public var description: String {
            switch self {
            case .defaultValue: "default"
            case .file(let path): "file \(path)"
            case .environment(let v): "env $\(v)"
            case .flag(let f): "flag \(f)"
            }
        }
    }

    /// Every server setting, in the order `pushy-server config` and docs/configuration.md show them.
    public static let all: [Setting] = [
        Setting("data_dir", .string(\.dataDir), "Where keys, the SQLite database and generated files live (required)."),
        Setting("listen_address", flag: "--listen", .string(\.listenAddress), "Address the REST API and the ZeroMQ sockets bind to."),
        Setting("advertised_host", flag: "--host", .string(\.advertisedHost),
                "Host name agents are told to connect to (node config `host`, `out_addr`, `command_addr`)."),
        Setting("api_port", .int(\.apiPort), "REST API port (HTTPS unless tls is false); 0 picks a free port."),
        Setting("heartbeat_port", .int(\.heartbeatPort), "Heartbeat broadcast port (ZeroMQ PUB); 0 picks a free port."),
        Setting("command_port", .int(\.commandPort), "Command channel port (ZeroMQ ROUTER, CURVE); 0 picks a free port."),
        Setting("heartbeat_interval", .double(\.heartbeatInterval), "Server heartbeat period and the agents' heartbeat period, seconds."),
        Setting("decay_window", .double(\.decayWindow), "Liveness EWMA decay window, in heartbeat intervals (spec 6.1)."),
        Setting("down_threshold", .double(\.downThreshold), "Heartbeats per interval (EWMA) below which a node is offline, 0-1."),
        Setting("offline_threshold", .int(\.offlineThreshold), "Server heartbeats an agent may miss before it reconnects (sent to agents)."),
        Setting("online_threshold", .int(\.onlineThreshold), "Server heartbeats an agent must then see to count the server online again."),
        Setting("voting_timeout", .double(\.votingTimeout), "Longest time a job waits for votes, seconds."),
        Setting("default_run_timeout", .int(\.defaultRunTimeout), "run_timeout of a job that gives none, seconds."),
        Setting("wait_complete_time", .double(\.waitCompleteTime), "How long a finished job stays in memory for feed readers, seconds."),
        Setting("rehab_interval", .double(\.rehabInterval), "Period of abort resends while a node is in rehab, seconds."),
        Setting("max_message_skew", .int(\.maxMessageSkew), "Accepted clock difference on ZeroMQ messages, seconds (both directions)."),
        Setting("max_body_size", .int(\.maxBodySize), "Largest accepted ZeroMQ message body, bytes."),
        Setting("auth_skew", .double(\.authSkew), "Accepted clock difference on signed REST requests, seconds."),
        Setting("config_lifetime", .int(\.configLifetime), "How often agents refetch their config, seconds."),
        Setting("tls", .bool(\.tls), "Serve the REST API over HTTPS (false: plain HTTP, not for production)."),
        Setting("tls_certificate", flag: "--tls-cert", .optionalString(\.tlsCertificate), "PEM certificate (chain) for HTTPS."),
        Setting("tls_key", .optionalString(\.tlsKey), "PEM private key of tls_certificate."),
        Setting("disable_curve_encryption", .bool(\.disableCurveEncryption),
                "Turn off CURVE on the command channel (only for agents that cannot do CURVE)."),
        Setting("output_cap", .int(\.outputCap), "Live output kept per node and stream while a job runs, bytes."),
        Setting("keep_alive_time", .double(\.keepAliveTime), "SSE keep-alive period, seconds."),
        Setting("org_feed_expiration", .double(\.orgFeedExpiration), "How long the org feed keeps events for replay, seconds."),
        Setting("default_org", .string(\.defaultOrg), "Name of the organization `init` creates."),
        Setting("max_agent_connections", .optionalInt(\.maxAgentConnections),
                "Most ZeroMQ connections (2 per agent) held before new agents are refused (config requests get 503)."),
        Setting("screen_heartbeat_connections", .bool(\.screenHeartbeatConnections),
                "Also refuse heartbeat connections past the budget through ZAP (≈ 10 KB per agent)."),
        Setting("metrics_listen", .string(\.metricsListen),
                "Prometheus /metrics listener, HOST:PORT, plain HTTP (port 0 picks a free port; empty: off)."),
        Setting("metrics_token", .optionalString(\.metricsToken),
                "When set, /metrics is also served on the REST port with 'Authorization: Bearer TOKEN' (16+ characters)."),
        Setting("postgres_url", flag: "--postgres", .optionalString(\.postgresURL),
                "Keep everything in this PostgreSQL database instead of DATA_DIR/pushy.sqlite: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=…] (docs/operations.md)."),
        Setting("cluster_lease", .double(\.clusterLease),
                "With postgres_url: seconds after which a server that stopped renewing its lease counts as dead (its jobs end)."),
    ]

    public static func setting(named name: String) -> Setting? { all.first { $0.name == name } }

    /// The known key closest to `name`, when a typo is likely.
    public static func suggestion(for name: String) -> String? {
        let guess = all.map(\.name).min { ServerConfiguration.editDistance(name, $0) < ServerConfiguration.editDistance(name, $1) }
        guard let guess, ServerConfiguration.editDistance(name, guess) <= 3 else { return nil }
        return guess
    }

    /// The effective configuration: `flags` (raw text by setting name) over the `PUSHY_SERVER_*`
    /// variables of `environment` over `DATA_DIR/server.json` over the defaults, and each value's
    /// source. Every problem (unknown key, wrong type, bad text) is reported at once.
    public static func resolve(dataDir: String, flags: [String: String] = [:], environment: [String: String] = [:])
        throws -> (config: ServerConfiguration, sources: [String: Source]) {
        var config = try DataDirectory.loadConfig(dataDir: dataDir)
        var sources: [String: Source] = [:]
        for key in DataDirectory.keysInFile(dataDir: dataDir) where key != "data_dir" {
            sources[key] = .file(config.configFilePath)
        }
        sources["data_dir"] = .flag("--data-dir")
        var problems: [String] = []
        for s in all where s.name != "data_dir" {
            if let raw = environment[s.environmentVariable], !raw.isEmpty || s.name == "metrics_listen" {
                if let p = s.kind.set(raw, in: &config) {
                    problems.append("$\(s.environmentVariable): \(p)")
                } else {
                    sources[s.name] = .environment(s.environmentVariable)
                }
            }
            if let raw = flags[s.name] {
                if let p = s.kind.set(raw, in: &config) {
                    problems.append("\(s.flag): \(p)")
                } else {
                    sources[s.name] = .flag(s.flag)
                }
            }
        }
        guard problems.isEmpty else { throw ServerStartError("invalid settings:\n  " + problems.joined(separator: "\n  ")) }
        return (config, sources)
    }

    /// `pushy-server config`: one line per setting, `name = value  (source)`.
    public static func describe(_ config: ServerConfiguration, sources: [String: Source]) -> String {
        let width = all.map(\.name.count).max() ?? 0
        return all.map { s in
            var value = s.kind.text(of: config).map { $0.isEmpty ? "\"\"" : $0 } ?? "(unset)"
            if s.name == "metrics_token", config.metricsToken != nil { value = "(set, \(config.metricsToken!.count) characters)" }
            if s.name == "postgres_url", let url = config.postgresURL { value = PostgresURL.redact(url) }
            if s.name == "max_agent_connections", config.maxAgentConnections == nil { value = "(file limit minus reserve)" }
            if s.name == "tls_certificate", config.tlsCertificate == nil { value = config.certificatePath }
            if s.name == "tls_key", config.tlsKey == nil { value = config.certificateKeyPath }
            let pad = String(repeating: " ", count: width - s.name.count)
            return "\(s.name)\(pad) = \(value)  (\(sources[s.name] ?? .defaultValue))"
        }.joined(separator: "\n")
    }

    /// docs/configuration.md's server table.
    public static var markdownTable: String {
        var lines = ["| key | default | environment | flag | meaning |", "|---|---|---|---|---|"]
        for s in all {
            let def = s.name == "data_dir" ? "(required)" : "`\(s.defaultText.isEmpty ? "\"\"" : s.defaultText)`"
            lines.append("| `\(s.name)` | \(def) | `\(s.environmentVariable)` | `\(s.flag)` | \(s.doc.replacingOccurrences(of: "|", with: "\\|")) |")
        }
        return lines.joined(separator: "\n")
    }
}
