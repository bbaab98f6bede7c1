/// The node bootstrap config (spec 7.1), returned by `GET /organizations/{org}/pushy/config/{node}`.
public struct NodeConfig: Sendable, Equatable {
    public var host: String
    public var outAddr: String
    public var commandAddr: String
    public var interval: Double
    public var offlineThreshold: Int = 3
    public var onlineThreshold: Int = 2
    public var node: String
    public var organization: String
    public var publicKey: String
    public var curvePublicKey: String?
    public var encodedSessionKey: String
    public var lifetime: Int = 3600
    public var maxMessageSkew: Int = 300
    public var maxBodySize: Int = 65536
    public var incarnationId: String
    /// Pushy extension: optional features this server understands (`output_stream`: live
    /// `output` messages; `binary_output`: base64 output). Reference clients ignore it.
    public var features: [String] = []

    public static let outputStreamFeature = "output_stream"
    public static let binaryOutputFeature = "binary_output"
    /// Issue 16: the server sends `commit` with `commit_run: true` to agents that ask for it
    /// (`features=commit_run` on this config request) when a job's quorum needs no vote; such
    /// an agent runs at once and answers `ack_run` (docs/decisions.md "Fewer messages").
    public static let commitRunFeature = "commit_run"

    public init(
        host: String, outAddr: String, commandAddr: String, interval: Double, node: String, organization: String,
        publicKey: String, curvePublicKey: String?, encodedSessionKey: String, incarnationId: String
    ) {
        self.host = host
        self.outAddr = outAddr
        self.commandAddr = commandAddr
        self.interval = interval
        self.node = node
        self.organization = organization
        self.publicKey = publicKey
        self.curvePublicKey = curvePublicKey
        self.encodedSessionKey = encodedSessionKey
        self.incarnationId = incarnationId
    }

    public var json: JSONValue {
        var o: [(String, JSONValue)] = [
            ("type", "config"), ("host", .string(host)),
            ("push_jobs", ["heartbeat": [
                "out_addr": .string(outAddr), "command_addr": .string(commandAddr), "interval": .number(interval),
                "offline_threshold": .number(Double(offlineThreshold)), "online_threshold": .number(Double(onlineThreshold)),
            ]]),
            ("node", .string(node)), ("organization", .string(organization)), ("public_key", .string(publicKey)),
        ]
        if let curvePublicKey { o.append(("curve_public_key", .string(curvePublicKey))) }
        o += [
            ("encoded_session_key", ["method": "hmac_sha256", "key": .string(encodedSessionKey)]),
            ("lifetime", .number(Double(lifetime))), ("max_message_skew", .number(Double(maxMessageSkew))),
            ("max_body_size", .number(Double(maxBodySize))), ("incarnation_id", .string(incarnationId)),
        ]
        if !features.isEmpty { o.append(("features", .array(features.map(JSONValue.string)))) }
        return .object(o)
    }

    public static func parse(_ v: JSONValue) throws(MessageError) -> NodeConfig {
        guard let hb = v["push_jobs"]?["heartbeat"] else { throw .missingField("push_jobs.heartbeat") }
        guard let out = hb["out_addr"]?.stringValue else { throw .missingField("out_addr") }
        guard let cmd = hb["command_addr"]?.stringValue else { throw .missingField("command_addr") }
        guard let pk = v["public_key"]?.stringValue else { throw .missingField("public_key") }
        guard let key = v["encoded_session_key"]?["key"]?.stringValue else { throw .missingField("encoded_session_key") }
        guard let inc = v["incarnation_id"]?.stringValue else { throw .missingField("incarnation_id") }
        var c = NodeConfig(
            host: v["host"]?.stringValue ?? "", outAddr: out, commandAddr: cmd,
            interval: hb["interval"]?.doubleValue ?? 10, node: v["node"]?.stringValue ?? "",
            organization: v["organization"]?.stringValue ?? "", publicKey: pk,
            curvePublicKey: v["curve_public_key"]?.stringValue, encodedSessionKey: key, incarnationId: inc)
        c.offlineThreshold = hb["offline_threshold"]?.intValue ?? 3
        c.onlineThreshold = hb["online_threshold"]?.intValue ?? 2
        c.lifetime = v["lifetime"]?.intValue ?? 3600
        c.maxMessageSkew = v["max_message_skew"]?.intValue ?? 300
        c.maxBodySize = v["max_body_size"]?.intValue ?? 65536
        c.features = v["features"]?.arrayValue?.compactMap(\.stringValue) ?? []
        return c
    }
}
