import Foundation
import PostgresNIO
import PushyProtocol
import PushyStore

/// Several servers on one database (issue 17 points 2-3): leases, node presence, messages
/// between servers (rows plus `NOTIFY`), and the dead-server sweep. Every time is the
/// database's clock (`clock_timestamp()`), so servers' clocks never need to agree.
extension PostgresStore: ClusterStore {
    /// The advisory lock key of crash recovery and the dead-server sweep ("pushyrec").
    static let recoveryLock: Int64 = 0x70_7573_6879_7265_63

    /// The database's clock in seconds since 1970, as SQL.
    static let dbNow = "extract(epoch FROM clock_timestamp())"

    /// The `NOTIFY` channel of a server (lower case: `LISTEN` quotes it).
    static func channel(_ server: String) -> String {
        "pushy_" + server.lowercased().filter { $0.isLetter || $0.isNumber }
    }

    public func register(_ server: ServerRecord, lease: Double) async throws(StoreError) {
        try await transaction { s in
            // Two live servers cannot share a command address: a row with this one is this
            // server's previous life (a restart), dead now, whatever its lease says.
            try await s.run("""
                UPDATE pushy_servers SET lease_until = 0 WHERE command_address = \(server.commandAddress) AND id <> \(server.id)
                """)
            try await s.run("""
                INSERT INTO pushy_servers (id, rest_url, command_address, heartbeat_address, agents, room, started_at, lease_until)
                VALUES (\(server.id), \(server.restURL), \(server.commandAddress), \(server.heartbeatAddress), \(server.agents),
                        \(server.room), extract(epoch FROM clock_timestamp()), extract(epoch FROM clock_timestamp()) + \(lease))
                ON CONFLICT (id) DO UPDATE SET rest_url = excluded.rest_url, command_address = excluded.command_address,
                    heartbeat_address = excluded.heartbeat_address, agents = excluded.agents, room = excluded.room,
                    lease_until = excluded.lease_until
                """)
        }
        serverId = server.id
    }

    public func renew(id: String, agents: Int, room: Int, lease: Double) async throws(StoreError) -> Bool {
        try await transaction { s in
            try await s.run("""
                UPDATE pushy_servers SET agents = \(agents), room = \(room),
                    lease_until = extract(epoch FROM clock_timestamp()) + \(lease)
                WHERE id = \(id) RETURNING 1
                """) > 0
        }
    }

    public func deregister(id: String) async throws(StoreError) {
        try await transaction { s in
            try await s.run("DELETE FROM node_presence WHERE server = \(id)")
            try await s.run("DELETE FROM cluster_messages WHERE to_server = \(id)")
            try await s.run("DELETE FROM pushy_servers WHERE id = \(id)")
        }
    }

    public func liveServers() async throws(StoreError) -> [ServerRecord] {
        try await read { s in
            try await s.rawRows("""
                SELECT id, rest_url, command_address, heartbeat_address, agents, room, lease_until FROM pushy_servers
                WHERE lease_until >= extract(epoch FROM clock_timestamp()) ORDER BY id
                """).map { row in
                let (id, rest, command, heartbeat, agents, room, lease) = try row.decode((String, String, String, String, Int, Int, Double).self)
                return ServerRecord(id: id, restURL: rest, commandAddress: command, heartbeatAddress: heartbeat,
                                    agents: agents, room: room, leaseUntil: lease)
            }
        }
    }

    /// Folded to the last change per node; upserts and deletes in one transaction. A delete
    /// removes only this server's row: a node that moved to another server keeps that one.
    public func writePresence(server: String, _ changes: [PresenceChange]) async throws(StoreError) {
        guard !changes.isEmpty else { return }
        var last: [String: Int] = [:]
        var folded: [PresenceChange] = []
        for c in changes {
            let key = c.org + "\u{0}" + c.node
            if let i = last[key] { folded[i] = c } else {
                last[key] = folded.count
                folded.append(c)
            }
        }
        let up = folded.filter { $0.available != nil }, gone = folded.filter { $0.available == nil }
        try await transaction { s in
            if !up.isEmpty {
                try await s.run("""
                    INSERT INTO node_presence (org, node, server, available, updated_at)
                    SELECT u.org, u.node, \(server), u.available, extract(epoch FROM clock_timestamp())
                    FROM unnest(\(up.map(\.org)), \(up.map(\.node)), \(up.map { $0.available ?? false })) AS u(org, node, available)
                    ON CONFLICT (org, node) DO UPDATE SET server = excluded.server, available = excluded.available,
                        updated_at = excluded.updated_at
                    """)
            }
            if !gone.isEmpty {
                try await s.run("""
                    DELETE FROM node_presence p USING unnest(\(gone.map(\.org)), \(gone.map(\.node))) AS u(org, node)
                    WHERE p.org = u.org AND p.node = u.node AND p.server = \(server)
                    """)
            }
        }
    }

    public func presence(org: String, names: [String]?, excluding: String) async throws(StoreError) -> [PresenceRecord] {
        try await read { s in
            let rows: [PostgresRow]
            if let names {
                rows = try await s.rawRows("""
                    SELECT p.org, p.node, p.server, p.available FROM node_presence p JOIN pushy_servers v ON v.id = p.server
                    WHERE p.org = \(org) AND p.node = ANY(\(names)) AND p.server <> \(excluding)
                        AND v.lease_until >= extract(epoch FROM clock_timestamp())
                    ORDER BY p.node
                    """)
            } else {
                rows = try await s.rawRows("""
                    SELECT p.org, p.node, p.server, p.available FROM node_presence p JOIN pushy_servers v ON v.id = p.server
                    WHERE p.org = \(org) AND p.server <> \(excluding) AND v.lease_until >= extract(epoch FROM clock_timestamp())
                    ORDER BY p.node
                    """)
            }
            return try rows.map { row in
                let (o, n, server, available) = try row.decode((String, String, String, Bool).self)
                return PresenceRecord(org: o, node: n, server: server, available: available)
            }
        }
    }

    public func send(from: String, _ messages: [(to: String, body: String)]) async throws(StoreError) {
        guard !messages.isEmpty else { return }
        let to = messages.map(\.to), bodies = messages.map(\.body)
        let channels = Array(Set(to)).map(Self.channel)
        try await transaction { s in
            try await s.run("""
                INSERT INTO cluster_messages (to_server, from_server, body)
                SELECT u.to_server, \(from), u.body FROM unnest(\(to), \(bodies)) WITH ORDINALITY AS u(to_server, body, i) ORDER BY u.i
                """)
            // Delivered at commit, so a receiver woken finds the rows.
            try await s.run("SELECT pg_notify(c, '') FROM unnest(\(channels)) AS c")
        }
    }

    public func receive(server: String, limit: Int) async throws(StoreError) -> [ClusterEnvelope] {
        try await read { s in
            try await s.rawRows("""
                SELECT id, from_server, body FROM cluster_messages WHERE to_server = \(server) ORDER BY id LIMIT \(limit)
                """).map { row in
                let (id, from, body) = try row.decode((Int64, String, String).self)
                return ClusterEnvelope(id: id, from: from, body: body)
            }
        }
    }

    public func acknowledge(server: String, ids: [Int64]) async throws(StoreError) {
        guard !ids.isEmpty else { return }
        try await transaction { s in
            try await s.run("DELETE FROM cluster_messages WHERE to_server = \(server) AND id = ANY(\(ids))")
        }
    }

    public func jobOwner(id: String) async throws(StoreError) -> String? {
        try await read { s in
            try await s.rawRows("SELECT owner FROM jobs WHERE id = \(id)").first?.decode(String?.self) ?? nil
        }
    }

    /// One pooled connection `LISTEN`s for as long as the stream is iterated; after an error (or
    /// its connection closed under it) it listens again a second later (the receiver polls meanwhile).
    public func wakeUps(server: String) -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let client = self.client, logger = self.logger, channel = Self.channel(server)
        let task = Task {
            while !Task.isCancelled {
                do {
                    try await client.withConnection { connection in
                        // A connection the database closed need not end the listen (`unlessSilent`).
                        try await Self.unlessSilent(connection, logger: logger) {
                            try await connection.listen(on: channel) { notifications in
                                continuation.yield()  // listening now: look once for what came before
                                for try await _ in notifications { continuation.yield() }
                            }
                        }
                    }
                } catch {
                    if Task.isCancelled { break }
                    logger.debug("cluster LISTEN lost; listening again", metadata: ["pushy.error": "\(error)"])
                }
                try? await Task.sleep(for: .seconds(1))
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    public func sweepDeadServers(reason: String, at: Date) async throws(StoreError) -> (jobs: [String], servers: [String])? {
        let live = [JobStatus.new, .voting, .running].map(\.dbCode)
        let liveNodes = NodeJobStatus.allCases.filter { !$0.isTerminal }.map(\.dbCode)
        let seconds = Self.seconds(at)
        return try await transaction { s -> (jobs: [String], servers: [String])? in
            guard try await s.rawRows("SELECT pg_try_advisory_xact_lock(\(Self.recoveryLock))").first?.decode(Bool.self) == true
            else { return nil }
            let dead = try await s.strings("""
                DELETE FROM pushy_servers WHERE lease_until < extract(epoch FROM clock_timestamp()) RETURNING id
                """)
            // Jobs whose owner has no live lease: dead now, or stopped without finishing them.
            let crashed = try await s.rawRows("""
                WITH crashed AS (
                    UPDATE jobs SET status = \(JobStatus.crashed.dbCode),
                        status_reason = \(reason) || ' (server ' || owner || ')', updated_at = \(seconds)
                    WHERE status = ANY(\(live)) AND owner IS NOT NULL AND owner NOT IN (SELECT id FROM pushy_servers)
                    RETURNING id, status_reason, created_at)
                SELECT id, status_reason FROM crashed ORDER BY created_at, id
                """).map { try $0.decode((String, String).self) }
            for (id, why) in crashed {
                try await s.run("""
                    UPDATE job_nodes SET status = \(NodeJobStatus.crashed.dbCode), reason = \(why), updated_at = \(seconds)
                    WHERE job_id = \(id) AND status = ANY(\(liveNodes))
                    """)
            }
            // Plan runs of such servers stop too (a plan runs where it started).
            try await s.run("""
                UPDATE plan_runs SET status = 'failed', reason = 'the server running the plan stopped (server ' || owner || ')', updated_at = \(seconds)
                WHERE status = 'running' AND owner IS NOT NULL AND owner NOT IN (SELECT id FROM pushy_servers)
                """)
            // Presence and messages of any server without a row: swept now or earlier, or a
            // message sent to a server just as it went (nobody would ever read it).
            try await s.run("DELETE FROM node_presence WHERE server NOT IN (SELECT id FROM pushy_servers)")
            try await s.run("DELETE FROM cluster_messages WHERE to_server NOT IN (SELECT id FROM pushy_servers)")
            return (crashed.map(\.0), dead)
        }
    }
}
