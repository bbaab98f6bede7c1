import Foundation
import PushyCore
import PushyProtocol
import PushyStore

/// The engine's part in a cluster of servers on one PostgreSQL database (issue 17 points 2-3):
/// where other servers' nodes are, the jobs this server drives for another owner, and what is
/// waiting to be sent. Held by the engine (its actor guards it); nil on SQLite and in memory.
final class EngineCluster {
    /// This server's id (its row in `pushy_servers`).
    let id: String
    let store: any ClusterStore
    /// Jobs of other owners with nodes held here, by id.
    var remoteJobs: [String: RemoteJob] = [:]
    /// Jobs owned here: their nodes held by other servers (node → server), by job id.
    var placement: [String: [String: String]] = [:]
    /// Messages waiting to be sent, per destination server, in order.
    var outbox: [String: [ClusterMessage]] = [:]
    /// Presence changes waiting to be written, in order.
    var presence: [PresenceChange] = []
    /// Wakes the sender (`ClusterService`); coalesces.
    let signal: AsyncStream<Void>.Continuation
    let signals: AsyncStream<Void>
    /// Servers seen live at the last look (membership), to notice the ones that went.
    var liveServers: Set<String> = []
    /// Servers heard from since the last look, and in the interval before: live for sending
    /// and not taken for gone although a look (read a moment before they registered) missed them.
    var heard: Set<String> = [], heardBefore: Set<String> = []

    /// Live at the last look, or heard from since the look before.
    func isLive(_ server: String) -> Bool {
        liveServers.contains(server) || heard.contains(server) || heardBefore.contains(server)
    }
    /// Messages sent and received (for tests and `/metrics` later).
    var sent = 0, received = 0

    init(id: String, store: any ClusterStore) {
        self.id = id
        self.store = store
        (signals, signal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues `message` for `server`, folded into the last one queued for it when they match;
    /// dropped when `server` is not live (nobody would read it: the sweep deletes such rows).
    /// The queue is changed in place (a batch of n node changes costs O(n)).
    func send(_ message: ClusterMessage, to server: String) {
        guard isLive(server) else { return }
        outbox[server, default: []].appendFolding(message)
        signal.yield()
    }

    func presenceChanged(_ key: NodeKey, available: Bool?) {
        presence.append(PresenceChange(org: key.org, node: key.node, available: available))
        signal.yield()
    }

    /// What to write now: one row per destination, and the presence changes.
    func take() -> (messages: [(to: String, body: String)], presence: [PresenceChange]) {
        let messages = outbox.map { (to: $0.key, body: ClusterMessage.body($0.value)) }
        sent += outbox.values.reduce(0) { $0 + $1.count }
        outbox = [:]
        let p = presence
        presence = []
        return (messages, p)
    }
}

extension Array where Element == ClusterMessage {
    /// Appends `message`, folded into the last element when they match (in place).
    mutating func appendFolding(_ message: ClusterMessage) {
        if !isEmpty, self[count - 1].fold(message) { return }
        append(message)
    }
}

/// A job owned by another server, with nodes held here: what a node's machine needs to know of
/// it (`NodeMachine.JobFacts`), as the owner last said.
final class RemoteJob {
    let spec: RemoteJobSpec
    let owner: String
    /// The status of this server's nodes in the job.
    var nodes: [String: NodeJobStatus] = [:]
    var running = false
    var finished = false
    /// Live output bytes sent to the owner, by "node/stream" (capped like the owner's copy).
    var outputRelayed: [String: Int] = [:]

    /// When this server first heard of it (the engine's clock).
    let since: Double

    init(spec: RemoteJobSpec, owner: String, since: Double = 0) {
        self.spec = spec
        self.owner = owner
        self.since = since
    }
}
