import Logging
import PushyAPIClient
import PushyProtocol
import PushyZMQ

/// How the runtime reaches its server: the signed config request, the node report and a new
/// session's sockets. `ServerLink` is the real one (REST + ZeroMQ); tests pass a stand-in.
protocol AgentServerLink: Sendable {
    /// The node's config (spec 5.4 step 1); `curvePublicKey` travels as `ccpk`.
    func nodeConfig(node: String, curvePublicKey: String) async throws -> NodeConfig
    func reportNode(_ report: NodeReport) async throws
    /// Opens the SUB and DEALER for `config`; CURVE with `curveKeys` when the server offers it.
    func openTransport(_ config: NodeConfig, curveKeys: CurveKeyPair) throws -> any AgentTransport
}

/// The production link: `PushyRESTClient` and `ZMQAgentTransport` on one ZeroMQ context.
struct ServerLink: AgentServerLink {
    let rest: PushyRESTClient
    let context: ZMQContext
    let logger: Logger

    init(config: AgentConfiguration, logger: Logger) throws {
        rest = try PushyRESTClient(orgURL: config.serverURL, userId: config.nodeName, key: config.key,
                                   tls: config.tls, timeout: .seconds(15))
        context = try ZMQContext(ioThreads: 1, maxSockets: 64)
        self.logger = logger
    }

    func nodeConfig(node: String, curvePublicKey: String) async throws -> NodeConfig {
        // `commit_run` (issue 16): `AgentRunner` runs a commit that asks for it at once.
        try await rest.config(node: node, ccpk: curvePublicKey, features: [NodeConfig.commitRunFeature])
    }

    func reportNode(_ report: NodeReport) async throws {
        try await rest.reportNode(report)
    }

    func openTransport(_ config: NodeConfig, curveKeys: CurveKeyPair) throws -> any AgentTransport {
        let logger = self.logger
        return try ZMQAgentTransport(context: context, options: .init(
            subEndpoint: config.outAddr, dealerEndpoint: config.commandAddr,
            curveServerKey: config.curvePublicKey, curveKeyPair: config.curvePublicKey == nil ? nil : curveKeys,
            onSendFailure: { error in
                // Only heartbeats are dropped (job messages wait); the next beat follows.
                logger.notice("heartbeat not sent: \(error)")
            }))
    }
}
