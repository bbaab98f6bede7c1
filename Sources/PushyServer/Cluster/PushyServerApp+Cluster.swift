import Foundation
import PushyStore
import PushyZMQ

extension PushyServerApp {
    /// On a store that coordinates servers (PostgreSQL), registers this server (id = the
    /// engine's incarnation) and hands the engine its part; nil on SQLite and in memory.
    static func joinCluster(config: ServerConfiguration, store: any PushyStore, engine: CommandEngine,
                            transport: ZMQServerTransport, budget: ConnectionBudget) async throws -> ServerRecord? {
        guard let clusterStore = store as? any ClusterStore else { return nil }
        let host = config.advertisedHost.contains(":") ? "[\(config.advertisedHost)]" : config.advertisedHost
        let snapshot = budget.snapshot
        let me = ServerRecord(
            id: engine.incarnationId, restURL: "\(config.scheme)://\(host):\(config.apiPort)",
            commandAddress: "tcp://\(host):\(transport.routerPort)", heartbeatAddress: "tcp://\(host):\(transport.pubPort)",
            agents: 0, room: max(0, (snapshot.budget - snapshot.open) / 2))
        do {
            try await clusterStore.register(me, lease: config.clusterLease)
        } catch {
            throw ServerStartError("cannot register this server in the database: \(error)")
        }
        await engine.attachCluster(id: me.id, store: clusterStore)
        return me
    }
}
