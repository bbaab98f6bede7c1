import Foundation

/// The in-memory twin of `ClusterStore` for tests: several engines in one process share one.
/// Leases run on `clock`; the sweep forgets dead servers (and their presence and messages) but
/// crashes no jobs (it holds none: `InMemoryStore` has no owners).
public actor InMemoryClusterStore: ClusterStore {
    private var servers: [String: ServerRecord] = [:]
    private var presenceRows: [String: PresenceRecord] = [:]
    private var messages: [(id: Int64, to: String, envelope: ClusterEnvelope)] = []
    private var nextId: Int64 = 1
    private var listeners: [String: [AsyncStream<Void>.Continuation]] = [:]
    private let clock: @Sendable () -> Double

    public init(clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) { self.clock = clock }

    public func register(_ server: ServerRecord, lease: Double) throws(StoreError) {
        for (id, s) in servers where id != server.id && s.commandAddress == server.commandAddress {
            servers[id]?.leaseUntil = 0
        }
        var s = server
        s.leaseUntil = clock() + lease
        servers[s.id] = s
    }

    public func renew(id: String, agents: Int, room: Int, lease: Double) throws(StoreError) -> Bool {
        guard servers[id] != nil else { return false }
        servers[id]?.agents = agents
        servers[id]?.room = room
        servers[id]?.leaseUntil = clock() + lease
        return true
    }

    public func deregister(id: String) throws(StoreError) {
        servers[id] = nil
        presenceRows = presenceRows.filter { $0.value.server != id }
        messages.removeAll { $0.to == id }
    }

    private func isLive(_ id: String) -> Bool { (servers[id]?.leaseUntil ?? 0) >= clock() }

    public func liveServers() throws(StoreError) -> [ServerRecord] {
        servers.values.filter { isLive($0.id) }.sorted { $0.id < $1.id }
    }

    public func writePresence(server: String, _ changes: [PresenceChange]) throws(StoreError) {
        for c in changes {
            let key = c.org + "\u{0}" + c.node
            if let available = c.available {
                presenceRows[key] = PresenceRecord(org: c.org, node: c.node, server: server, available: available)
            } else if presenceRows[key]?.server == server {
                presenceRows[key] = nil
            }
        }
    }

    public func presence(org: String, names: [String]?, excluding: String) throws(StoreError) -> [PresenceRecord] {
        let wanted = names.map(Set.init)
        return presenceRows.values
            .filter { $0.org == org && $0.server != excluding && isLive($0.server) && (wanted?.contains($0.node) ?? true) }
            .sorted { $0.node < $1.node }
    }

    public func send(from: String, _ batch: [(to: String, body: String)]) throws(StoreError) {
        for m in batch {
            messages.append((nextId, m.to, ClusterEnvelope(id: nextId, from: from, body: m.body)))
            nextId += 1
        }
        for to in Set(batch.map(\.to)) { for l in listeners[to] ?? [] { l.yield() } }
    }

    public func receive(server: String, limit: Int) throws(StoreError) -> [ClusterEnvelope] {
        messages.filter { $0.to == server }.prefix(limit).map(\.envelope)
    }

    public func acknowledge(server: String, ids: [Int64]) throws(StoreError) {
        let done = Set(ids)
        messages.removeAll { $0.to == server && done.contains($0.id) }
    }

    /// Owners as tests set them (`InMemoryStore` records none).
    private var owners: [String: String] = [:]
    public func setJobOwner(id: String, owner: String) { owners[id] = owner }
    public func jobOwner(id: String) throws(StoreError) -> String? { owners[id] }

    public nonisolated func wakeUps(server: String) -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        continuation.yield()
        Task { await self.listen(server, continuation) }
        return stream
    }

    private func listen(_ server: String, _ c: AsyncStream<Void>.Continuation) {
        listeners[server, default: []].append(c)
    }

    public func sweepDeadServers(reason: String, at: Date) throws(StoreError) -> (jobs: [String], servers: [String])? {
        let dead = servers.keys.filter { !isLive($0) }.sorted()
        for id in dead { try deregister(id: id) }
        presenceRows = presenceRows.filter { servers[$0.value.server] != nil }
        messages.removeAll { servers[$0.to] == nil }
        return ([], dead)
    }
}
