import Foundation

/// What `/metrics` shows of the cluster (PostgreSQL with several servers; nothing on a single
/// SQLite server): peers seen live, jobs driven for other owners, messages between servers.
struct ClusterMetricsSnapshot: Sendable {
    var liveServers = 0
    var remoteJobs = 0
    var sent = 0
    var received = 0
}

extension CommandEngine {
    func clusterMetricsSnapshot() -> ClusterMetricsSnapshot? {
        guard let cluster else { return nil }
        return ClusterMetricsSnapshot(liveServers: cluster.liveServers.count, remoteJobs: cluster.remoteJobs.count,
                                      sent: cluster.sent, received: cluster.received)
    }
}

extension PushyMetrics {
    func sampleCluster(engine: CommandEngine) async {
        guard let c = await engine.clusterMetricsSnapshot() else { return }
        gauge("pushy_cluster_servers_live", "Servers with a live lease on the database (this one included)", Double(c.liveServers))
        gauge("pushy_cluster_remote_jobs", "Jobs of other servers with nodes held here", Double(c.remoteJobs))
        counter("pushy_cluster_messages_total", "Messages between servers, by direction", [("direction", "sent")], total: c.sent)
        counter("pushy_cluster_messages_total", "Messages between servers, by direction", [("direction", "received")], total: c.received)
    }
}
