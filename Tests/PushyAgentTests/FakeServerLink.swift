@testable import PushyAgent
import PushyProtocol
import PushyZMQ
import Synchronization

/// The server as the agent's REST side sees it: hands out a node config with a session key
/// encrypted for the node, records node reports, and opens a `FakeTransport` per session.
final class FakeServerLink: AgentServerLink {
    let serverKey: RSAPrivateKey
    let nodePublicKey: RSAPublicKey
    let sessionKey = SessionKey.random()
    let incarnation = Mutex("server-1")
    let features: [String]
    let configFetches = Recorder<String>()
    let reports = Recorder<NodeReport>()
    let transports = Recorder<FakeTransport>()

    init(serverKey: RSAPrivateKey, nodePublicKey: RSAPublicKey, features: [String] = []) {
        self.serverKey = serverKey
        self.nodePublicKey = nodePublicKey
        self.features = features
    }

    func nodeConfig(node: String, curvePublicKey: String) async throws -> NodeConfig {
        configFetches.append(node)
        // A long interval: no tick (heartbeat, liveness check) happens within a test unless it asks.
        var config = NodeConfig(
            host: "pushy.test", outAddr: "tcp://pushy.test:10000", commandAddr: "tcp://pushy.test:10002", interval: 600,
            node: node, organization: AgentRig.org, publicKey: serverKey.publicKey.pemRepresentation,
            curvePublicKey: String(repeating: "x", count: 40), encodedSessionKey: try sessionKey.encrypted(for: nodePublicKey),
            incarnationId: incarnation.withLock { $0 })
        config.features = features
        return config
    }

    func reportNode(_ report: NodeReport) async throws {
        reports.append(report)
    }

    func openTransport(_ config: NodeConfig, curveKeys: CurveKeyPair) throws -> any AgentTransport {
        let transport = FakeTransport(sessionKey: sessionKey.bytes)
        transports.append(transport)
        return transport
    }
}
