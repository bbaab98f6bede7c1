import Foundation

/// One running `pushy-server` in a cluster (issue 17 point 2): who it is, where agents and
/// people reach it, how many agents it holds, and until when its lease runs.
public struct ServerRecord: Sendable, Equatable {
    /// Random per start.
    public var id: String
    /// Its REST API base, e.g. `https://10.0.0.5:10003`.
    public var restURL: String
    /// Its ZeroMQ command (ROUTER) and heartbeat (PUB) addresses as agents reach them.
    public var commandAddress: String
    public var heartbeatAddress: String
    /// Agent sessions held, and how many more it may take (its connection budget).
    public var agents: Int
    public var room: Int
    /// Seconds since 1970 (the database's clock) after which the server counts as dead.
    public var leaseUntil: Double

    public init(id: String, restURL: String, commandAddress: String, heartbeatAddress: String, agents: Int = 0,
                room: Int = 0, leaseUntil: Double = 0) {
        self.id = id
        self.restURL = restURL
        self.commandAddress = commandAddress
        self.heartbeatAddress = heartbeatAddress
        self.agents = agents
        self.room = room
        self.leaseUntil = leaseUntil
    }
}

/// A node's presence as the server holding its session last wrote it.
public struct PresenceRecord: Sendable, Equatable {
    public var org: String
    public var node: String
    public var server: String
    public var available: Bool

    public init(org: String, node: String, server: String, available: Bool) {
        self.org = org
        self.node = node
        self.server = server
        self.available = available
    }
}

/// A change of a node's session on this server: connected or its availability changed
/// (`available` set), or its session ended (`available` nil).
public struct PresenceChange: Sendable, Equatable {
    public var org: String
    public var node: String
    public var available: Bool?

    public init(org: String, node: String, available: Bool?) {
        self.org = org
        self.node = node
        self.available = available
    }
}

/// A message between servers (`cluster_messages`), in the order it was sent.
public struct ClusterEnvelope: Sendable, Equatable {
    public var id: Int64
    public var from: String
    public var body: String

    public init(id: Int64, from: String, body: String) {
        self.id = id
        self.from = from
        self.body = body
    }
}

/// What several servers on one database need from it besides `PushyStore` (only PostgreSQL
/// offers it). Every time is the database's clock; a server is live while its lease runs.
public protocol ClusterStore: Sendable {
    /// Inserts or replaces the server's row with a lease of `lease` seconds from now, and makes
    /// `server.id` the owner written into the jobs this store inserts from now on. A row of
    /// another id with the same command address (this server before a restart) is dead at once.
    func register(_ server: ServerRecord, lease: Double) async throws(StoreError)
    /// Extends the lease and updates the counts; false when the row is gone (the server was
    /// taken for dead: it must not go on as if live).
    func renew(id: String, agents: Int, room: Int, lease: Double) async throws(StoreError) -> Bool
    /// Deletes the server's row and its presence (graceful stop).
    func deregister(id: String) async throws(StoreError)
    /// Servers whose lease runs, by id.
    func liveServers() async throws(StoreError) -> [ServerRecord]
    /// Applies one batch of this server's session changes.
    func writePresence(server: String, _ changes: [PresenceChange]) async throws(StoreError)
    /// Presence rows of live servers other than `excluding`, of `org`; of `names` only when given.
    func presence(org: String, names: [String]?, excluding: String) async throws(StoreError) -> [PresenceRecord]
    /// Sends each body to its server (one row each) and wakes the receivers, in one transaction.
    func send(from: String, _ messages: [(to: String, body: String)]) async throws(StoreError)
    /// Reads (without deleting) up to `limit` messages for `server`, oldest first: they stay
    /// until `acknowledge`d, so a message is never lost between the read and its handling.
    func receive(server: String, limit: Int) async throws(StoreError) -> [ClusterEnvelope]
    /// Deletes the messages `ids` of `server` once handled (by id, not "up to": ids are handed
    /// out at insert, so a sender's late commit may carry a lower id than one already read).
    func acknowledge(server: String, ids: [Int64]) async throws(StoreError)
    /// The server that owns job `id` (nil: unknown job, or no owner recorded).
    func jobOwner(id: String) async throws(StoreError) -> String?
    /// Yields whenever a message for `server` may be waiting; holds one connection while iterated.
    func wakeUps(server: String) -> AsyncStream<Void>
    /// Once across the cluster (an advisory lock; nil when another server holds it now): deletes
    /// the rows of servers whose lease ran out, the presence and messages of every server without
    /// a row (orphans included), and crashes the unfinished
    /// jobs whose owner has no live lease with `reason` + " (server ID)". Returns the crashed
    /// jobs and the servers found dead.
    func sweepDeadServers(reason: String, at: Date) async throws(StoreError) -> (jobs: [String], servers: [String])?
}
