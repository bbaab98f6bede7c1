import Logging
import PushyAPIClient
import PushyProtocol
import PushyZMQ
import Synchronization

/// How the runtime reaches its server: the signed config request, the node report and a new
/// session's sockets. `ServerLink` is the real one (REST + ZeroMQ); tests pass a stand-in.
protocol AgentServerLink: Sendable {
    /// The node's config (spec 5.4 step 1); `curvePublicKey` travels as `ccpk`.
    func nodeConfig(node: String, curvePublicKey: String) async throws -> NodeConfig
    func reportNode(_ report: NodeReport) async throws
    /// Opens the SUB and DEALER for `config`; CURVE with `curveKeys` when the server offers it.
    func openTransport(_ config: NodeConfig, curveKeys: CurveKeyPair) throws -> any AgentTransport
    /// The current server stopped sending heartbeats: the next config request starts elsewhere.
    func serverWentSilent()
}

extension AgentServerLink {
    func serverWentSilent() {}
}

/// The production link: `PushyRESTClient` and `ZMQAgentTransport` on one ZeroMQ context.
/// With several server URLs (a cluster on one database, issue 17) it stays with the one that
/// last answered, and when that one fails moves on to the next.
struct ServerLink: AgentServerLink {
    let servers: [PushyRESTClient]
    let current = CurrentServer()
    let context: ZMQContext
    let logger: Logger

    init(config: AgentConfiguration, logger: Logger) throws {
        let urls = config.serverURLs.isEmpty ? [config.serverURL] : config.serverURLs
        servers = try urls.map {
            try PushyRESTClient(orgURL: $0, userId: config.nodeName, key: config.key, tls: config.tls, timeout: .seconds(15))
        }
        context = try ZMQContext(ioThreads: 1, maxSockets: 64)
        self.logger = logger
    }

    var rest: PushyRESTClient { servers[current.index] }

    /// Tries the current server, then each other in turn; the first that answers becomes current.
    func nodeConfig(node: String, curvePublicKey: String) async throws -> NodeConfig {
        let first = current.index
        var failure: (any Error)?
        for step in 0..<servers.count {
            let i = (first + step) % servers.count
            do {
                // `commit_run` (issue 16): `AgentRunner` runs a commit that asks for it at once.
                let config = try await servers[i].config(node: node, ccpk: curvePublicKey,
                                                          features: [NodeConfig.commitRunFeature])
                current.index = i
                if step > 0 { logger.notice("moved to server \(servers[i].orgURL)") }
                return config
            } catch {
                if servers.count > 1 { logger.warning("server \(servers[i].orgURL) did not configure us: \(error)") }
                // A busy server's answer (retry after) is kept over a dead one's, so the wait is honoured.
                if failure == nil || (error as? PushyClientError)?.retryAfter != nil { failure = error }
            }
        }
        throw failure ?? AgentError("no server_url to try")
    }

    func reportNode(_ report: NodeReport) async throws {
        try await rest.reportNode(report)
    }

    /// Starts the next config request with the next URL, not the silent one (a dead host may
    /// take the whole request timeout to fail); it comes last in the round.
    func serverWentSilent() {
        guard servers.count > 1 else { return }
        current.index = (current.index + 1) % servers.count
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

/// Which of several server URLs the link uses now.
final class CurrentServer: Sendable {
    private let value = Atomic<Int>(0)
    var index: Int {
        get { value.load(ordering: .relaxed) }
        set { value.store(newValue, ordering: .relaxed) }
    }
}
