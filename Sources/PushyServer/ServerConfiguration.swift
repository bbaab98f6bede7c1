import Foundation

/// Every server setting with its default (spec 3.4, 4, 6). `pushy-server init` writes the
/// non-default ones to `DATA_DIR/server.json`; flags override the file.
public struct ServerConfiguration: Sendable, Codable, Equatable {
    /// Where keys, the SQLite database and generated files live.
    public var dataDir: String
    /// Address the REST API and the ZeroMQ sockets bind to.
    public var listenAddress: String = "0.0.0.0"
    /// Host name agents are told to connect to (config `host`, `out_addr`, `command_addr`).
    public var advertisedHost: String = "127.0.0.1"
    /// REST API port (spec: 10003). 0 picks a free port.
    public var apiPort: Int = 10003
    /// Heartbeat PUB port (spec: 10000). 0 picks a free port.
    public var heartbeatPort: Int = 10000
    /// Command ROUTER port (spec: 10002). 0 picks a free port.
    public var commandPort: Int = 10002
    /// Server heartbeat period and the agents' heartbeat period, seconds.
    public var heartbeatInterval: Double = 10
    /// Server heartbeats an agent may miss before it reconnects, and heartbeats it must then see
    /// before it counts the server online again (spec 6.3; sent in the node config).
    public var offlineThreshold: Int = 3
    public var onlineThreshold: Int = 2
    /// Liveness EWMA decay window (intervals) and threshold (spec 6.1).
    public var decayWindow: Double = 4
    public var downThreshold: Double = 0.6
    /// Longest time a job waits for votes, seconds.
    public var votingTimeout: Double = 60
    /// `run_timeout` when a job does not give one, seconds.
    public var defaultRunTimeout: Int = 3600
    /// How long a finished job stays in memory for feed readers, seconds.
    public var waitCompleteTime: Double = 5
    /// Period of `abort` resends while a node is in rehab, seconds.
    public var rehabInterval: Double = 1
    /// Accepted clock difference on ZeroMQ messages, seconds (both directions).
    public var maxMessageSkew: Int = 300
    /// Largest accepted ZeroMQ message body, bytes.
    public var maxBodySize: Int = 65536
    /// Accepted clock difference on signed REST requests, seconds.
    public var authSkew: Double = 900
    /// How often agents refetch their config, seconds.
    public var configLifetime: Int = 3600
    /// Serve the REST API over HTTPS (default). `init` makes a self-signed certificate unless
    /// `tls_certificate`/`tls_key` name the operator's own.
    public var tls: Bool = true
    /// PEM certificate (chain) and private key for HTTPS; default `DATA_DIR/tls.crt`, `DATA_DIR/tls.key`.
    public var tlsCertificate: String?
    public var tlsKey: String?
    /// Turn off CURVE on the command channel and the `ccpk` requirement (spec 3.4); only for
    /// agents that cannot do CURVE.
    public var disableCurveEncryption: Bool = false
    /// Live output kept per node and stream while a job runs, bytes (spec 12 point 8).
    public var outputCap: Int = 1 << 20
    /// SSE keep-alive period, seconds.
    public var keepAliveTime: Double = 15
    /// How long the org feed keeps events, seconds.
    public var orgFeedExpiration: Double = 60
    /// Name of the org `init` creates.
    public var defaultOrg: String = "pushy"
    /// Most ZeroMQ connections (2 per agent) the server holds before it refuses new agents.
    /// nil: the soft file limit minus a reserve of max(256, 2 %) (`ConnectionBudgetState.defaultBudget`).
    public var maxAgentConnections: Int?
    /// Also refuse heartbeat (SUB) connections past the budget through ZAP. Off by default:
    /// libzmq keeps a ZAP pipe for the life of every screened connection (≈ 10 KB each,
    /// measured), and agents past the budget are already turned away by the config 503.
    public var screenHeartbeatConnections = false
    /// Where the Prometheus `/metrics` listener binds (plain HTTP), `HOST:PORT`; port 0 picks a
    /// free port; empty turns the listener off. Loopback by default: the figures are not secret,
    /// but they are not for the world either.
    public var metricsListen: String = "127.0.0.1:10004"
    /// When set, `/metrics` is also served on the REST port to requests bearing
    /// `Authorization: Bearer TOKEN` (for scrapers that cannot reach the loopback listener).
    public var metricsToken: String?
    /// The PostgreSQL database to keep everything in instead of `DATA_DIR/pushy.sqlite`
    /// (`postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?…]`, issue 17); nil: the embedded SQLite file.
    public var postgresURL: String?
    /// Several servers on one PostgreSQL database: a server whose lease (renewed every third of
    /// it) has run out this many seconds counts as dead (its jobs end, its nodes go down).
    public var clusterLease: Double = 15

    public init(dataDir: String) { self.dataDir = dataDir }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case dataDir = "data_dir", listenAddress = "listen_address", advertisedHost = "advertised_host"
        case apiPort = "api_port", heartbeatPort = "heartbeat_port", commandPort = "command_port"
        case heartbeatInterval = "heartbeat_interval", decayWindow = "decay_window", downThreshold = "down_threshold"
        case offlineThreshold = "offline_threshold", onlineThreshold = "online_threshold"
        case votingTimeout = "voting_timeout", defaultRunTimeout = "default_run_timeout"
        case waitCompleteTime = "wait_complete_time", rehabInterval = "rehab_interval"
        case maxMessageSkew = "max_message_skew", maxBodySize = "max_body_size", authSkew = "auth_skew"
        case configLifetime = "config_lifetime", defaultOrg = "default_org"
        case disableCurveEncryption = "disable_curve_encryption"
        case tls, tlsCertificate = "tls_certificate", tlsKey = "tls_key"
        case outputCap = "output_cap", keepAliveTime = "keep_alive_time", orgFeedExpiration = "org_feed_expiration"
        case maxAgentConnections = "max_agent_connections"
        case screenHeartbeatConnections = "screen_heartbeat_connections"
        case metricsListen = "metrics_listen", metricsToken = "metrics_token"
        case postgresURL = "postgres_url", clusterLease = "cluster_lease"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        // `data_dir` may be left out of the file: the directory the file is read from is the data directory.
        var d = ServerConfiguration(dataDir: try c.decodeIfPresent(String.self, forKey: .dataDir) ?? "")
        func take<T: Decodable>(_ k: CodingKeys, _ path: WritableKeyPath<ServerConfiguration, T>) throws {
            if let v = try c.decodeIfPresent(T.self, forKey: k) { d[keyPath: path] = v }
        }
        try take(.listenAddress, \.listenAddress)
        try take(.advertisedHost, \.advertisedHost)
        try take(.apiPort, \.apiPort)
        try take(.heartbeatPort, \.heartbeatPort)
        try take(.commandPort, \.commandPort)
        try take(.heartbeatInterval, \.heartbeatInterval)
        try take(.decayWindow, \.decayWindow)
        try take(.downThreshold, \.downThreshold)
        try take(.offlineThreshold, \.offlineThreshold)
        try take(.onlineThreshold, \.onlineThreshold)
        try take(.votingTimeout, \.votingTimeout)
        try take(.defaultRunTimeout, \.defaultRunTimeout)
        try take(.waitCompleteTime, \.waitCompleteTime)
        try take(.rehabInterval, \.rehabInterval)
        try take(.maxMessageSkew, \.maxMessageSkew)
        try take(.maxBodySize, \.maxBodySize)
        try take(.authSkew, \.authSkew)
        try take(.configLifetime, \.configLifetime)
        try take(.defaultOrg, \.defaultOrg)
        try take(.outputCap, \.outputCap)
        try take(.disableCurveEncryption, \.disableCurveEncryption)
        try take(.tls, \.tls)
        if let v = try c.decodeIfPresent(String.self, forKey: .tlsCertificate) { d.tlsCertificate = v }
        if let v = try c.decodeIfPresent(String.self, forKey: .tlsKey) { d.tlsKey = v }
        try take(.keepAliveTime, \.keepAliveTime)
        try take(.orgFeedExpiration, \.orgFeedExpiration)
        if let v = try c.decodeIfPresent(Int.self, forKey: .maxAgentConnections) { d.maxAgentConnections = v }
        try take(.screenHeartbeatConnections, \.screenHeartbeatConnections)
        try take(.metricsListen, \.metricsListen)
        if let v = try c.decodeIfPresent(String.self, forKey: .metricsToken) { d.metricsToken = v }
        if let v = try c.decodeIfPresent(String.self, forKey: .postgresURL) { d.postgresURL = v }
        try take(.clusterLease, \.clusterLease)
        self = d
    }

    public var databasePath: String { (dataDir as NSString).appendingPathComponent("pushy.sqlite") }
    public var serverKeyPath: String { (dataDir as NSString).appendingPathComponent("server.pem") }
    public var configFilePath: String { (dataDir as NSString).appendingPathComponent("server.json") }
    public var certificatePath: String { tlsCertificate ?? (dataDir as NSString).appendingPathComponent("tls.crt") }
    public var certificateKeyPath: String { tlsKey ?? (dataDir as NSString).appendingPathComponent("tls.key") }
    public var scheme: String { tls ? "https" : "http" }

    /// `metrics_listen` as host and port; nil when the listener is off (empty) or the value is not `HOST:PORT`.
    public var metricsEndpoint: (host: String, port: Int)? {
        guard !metricsListen.isEmpty, let colon = metricsListen.lastIndex(of: ":") else { return nil }
        var host = String(metricsListen[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = Int(metricsListen[metricsListen.index(after: colon)...]),
              (0...65535).contains(port) else { return nil }
        return (host, port)
    }
}
