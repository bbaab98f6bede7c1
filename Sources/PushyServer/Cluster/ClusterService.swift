import Foundation
import Logging
import PushyStore
import ServiceLifecycle
import Synchronization

/// This server's membership in a cluster on one PostgreSQL database (issue 17 points 2-3), as
/// one `Service` with three loops: the lease (renewed every second at most `lease / 3`, with a look at which
/// servers live and the dead-server sweep), the sender (the engine's queued messages and
/// presence changes, written as soon as they gather) and the receiver (woken by `NOTIFY`, and
/// polling every second so a lost notification only delays). At a graceful stop the server's
/// row and presence are deleted, so its peers need not wait for the lease to run out.
struct ClusterService: Service {
    let engine: CommandEngine
    let store: any ClusterStore
    let server: ServerRecord
    let lease: Double
    let agents: @Sendable () async -> (agents: Int, room: Int)
    let logger: Logger

    /// While the database is away every loop fails each time: said once per 30 s.
    let quiet = LogGate(every: 30)
    /// Messages handled but not yet deleted (the delete failed): not handled twice.
    let handled = HandledMessages()
    /// What the sender took from the engine but could not write before it was stopped: the
    /// last words (`leave`) write it first.
    let unsent = UnsentBatch()
    /// Whether this server has been in touch with the database long enough to judge its peers.
    let health: LeaseHealth

    /// Reason given to the jobs of a server found dead.
    static let deadOwnerReason = "the server that owned the job stopped"
    /// How long the database's connection pool may wait before it tries a lost connection
    /// again (postgres-nio's longest back-off): after an outage the peers come back up to this
    /// much later than this server.
    static let reconnectBackOff = 60.0
    /// How often every session's presence is written in full, whatever changed: a row a stale
    /// session of another server wrote over (an agent that moved) is put right within this.
    static let presenceRefresh = 60.0

    init(engine: CommandEngine, store: any ClusterStore, server: ServerRecord, lease: Double,
         agents: @escaping @Sendable () async -> (agents: Int, room: Int), logger: Logger) {
        self.engine = engine
        self.store = store
        self.server = server
        self.lease = lease
        self.agents = agents
        self.logger = logger
        health = LeaseHealth(judgeAfter: lease + Self.reconnectBackOff)
    }

    /// The loops, until a graceful shutdown or cancellation. What is still queued then is
    /// written by `leave` (`ClusterDeparture`, the last service to stop), with the row's delete.
    func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await cancelWhenGracefulShutdown { await self.leaseLoop() } }
            group.addTask { await cancelWhenGracefulShutdown { await self.sendLoop() } }
            group.addTask { await cancelWhenGracefulShutdown { await self.receiveLoop() } }
        }
    }

    /// Last words, once every other service has stopped (the job writer drained, so a peer's
    /// sweep finds this server's jobs as they ended): what is still queued, then the row goes.
    /// In a task of its own: when the group was cancelled (another service failed, e.g. a port
    /// was taken) rather than shut down, this task is cancelled too and its queries would fail,
    /// leaving a live row behind. At most `leaveTimeout`: a stop never hangs on the database.
    func leave() async {
        let left = await awaitAtMost(Self.leaveTimeout) {
            // Within the budget with room for the row's delete (each may wait connect_timeout
            // for a connection when the database is away).
            await sendPending(giveUpAfter: .seconds(2))
            do { try await store.deregister(id: server.id) } catch {
                logger.warning("could not leave the cluster cleanly; peers will see the lease run out", metadata: ["pushy.error": "\(error)"])
            }
        }
        if !left {
            logger.warning("leaving the cluster took over \(Self.leaveTimeout); stopping without it (peers will see the lease run out)")
        }
    }

    /// The longest a stop waits for the last words and the row's delete (the database may be away).
    static let leaveTimeout = Duration.seconds(5)

    /// Every second (at most `lease / 3`): a peer that just started is seen within a second
    /// (org events, relays), and a long lease still gets many renewals before it runs out.
    func leaseLoop() async {
        let period = Duration.milliseconds(Int(min(lease / 3, 1) * 1000))
        while !Task.isCancelled {
            await leaseOnce()
            try? await Task.sleep(for: period)
        }
    }

    /// Renews the lease, tells the engine who lives, and sweeps the dead (once across servers).
    /// Peers are judged (gone, swept) only once this server has been in touch with the database
    /// for a lease plus the pool's longest back-off since its last failure: after an outage of
    /// the database the first server back would otherwise take every other for dead.
    func leaseOnce() async {
        let now = ContinuousClock.now
        do {
            let (agents, room) = await agents()
            if try await !store.renew(id: server.id, agents: agents, room: room, lease: lease) {
                // Taken for dead by a peer (a long pause): come back under the same id.
                logger.warning("this server's lease had run out and its row was swept; registering again")
                await engine.clusterLeaseLost()
                var me = server
                me.agents = agents
                me.room = room
                try await store.register(me, lease: lease)
                await engine.clusterPresenceSnapshot()
            } else if health.refreshDue(at: now, every: Self.presenceRefresh) {
                await engine.clusterPresenceSnapshot()
                await engine.dropEndedRemoteJobs(olderThan: Self.presenceRefresh)
            }
            let live = Set(try await store.liveServers().map(\.id))
            let judging = health.succeeded(at: now)
            await engine.clusterMembership(live, judging: judging)
            if judging, let swept = try await store.sweepDeadServers(reason: Self.deadOwnerReason, at: Date()),
               !swept.jobs.isEmpty || !swept.servers.isEmpty {
                // At once: the live set read above may predate the lease that just ran out.
                await engine.clusterSwept(Set(swept.servers))
                logger.warning("servers found dead; their unfinished jobs are crashed", metadata: [
                    "pushy.servers": "\(swept.servers)", "pushy.jobs": "\(swept.jobs)"])
            }
        } catch {
            health.failed()
            if quiet.open() { logger.error("cluster lease not renewed (retrying)", metadata: ["pushy.error": "\(error)"]) }
        }
    }

    func sendLoop() async {
        guard let signals = await engine.clusterSignals() else { return }
        for await _ in signals {
            await sendPending()
        }
    }

    /// Writes what the engine queued (after anything left unsent by a stop); on failure it is
    /// tried again (in order) a moment later, until cancelled (kept for `leave`) or, when given,
    /// that long has passed (the last words, when the database may be away: a stop never hangs
    /// on it).
    func sendPending(giveUpAfter limit: Duration? = nil) async {
        let deadline = limit.map { ContinuousClock.now + $0 }
        let batch = await engine.takeClusterBatch()
        var (presence, messages) = unsent.take()
        presence += batch.presence
        messages += batch.messages
        while !presence.isEmpty || !messages.isEmpty {
            do {
                if !presence.isEmpty {
                    try await store.writePresence(server: server.id, presence)
                    presence = []
                }
                if !messages.isEmpty {
                    try await store.send(from: server.id, messages)
                    messages = []
                }
            } catch {
                if Task.isCancelled {
                    unsent.keep(presence, messages)
                    return
                }
                if quiet.open() { logger.error("cluster messages not written (retrying)", metadata: ["pushy.error": "\(error)"]) }
                if let deadline, ContinuousClock.now >= deadline {
                    logger.warning("cluster messages not written before the stop; the peers' sweep cleans up after this server")
                    return
                }
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    func receiveLoop() async {
        let wakeUps = store.wakeUps(server: server.id)
        let (ticks, tick) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in wakeUps { tick.yield() }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    tick.yield()
                }
                tick.finish()
            }
            group.addTask {
                for await _ in ticks { await self.receivePending() }
            }
            // Cancelled (shutdown): end the loops.
            await withTaskCancellationHandler {
                await group.next()
            } onCancel: {
                tick.finish()
            }
            group.cancelAll()
        }
    }

    /// Reads every message waiting for this server, hands it to the engine in order, and only
    /// then deletes it: a message read is never lost to a failure before it is handled.
    func receivePending() async {
        while !Task.isCancelled {
            do {
                let batch = try await store.receive(server: server.id, limit: 500)
                if batch.isEmpty { return }
                let ids = batch.map(\.id)
                let fresh = handled.withLock { done in batch.filter { !done.contains($0.id) } }
                if !fresh.isEmpty { await engine.clusterReceive(fresh) }
                handled.withLock { $0.formUnion(ids) }
                try await store.acknowledge(server: server.id, ids: ids)
                handled.withLock { $0.subtract(ids) }
                if batch.count < 500 { return }
            } catch {
                if quiet.open() { logger.error("cluster messages not read (retrying)", metadata: ["pushy.error": "\(error)"]) }
                return
            }
        }
    }
}

/// Leaves the cluster after every other service has stopped (`ClusterService.leave`).
struct ClusterDeparture: Service {
    let cluster: ClusterService

    func run() async {
        // Until the group shuts down (gracefully: this one is signalled last) or is cancelled.
        try? await gracefulShutdown()
        await cluster.leave()
    }
}

/// A batch the sender could not write before it was stopped, kept for the last words.
final class UnsentBatch: Sendable {
    private let batch = Mutex<(presence: [PresenceChange], messages: [(to: String, body: String)])>(([], []))

    func keep(_ presence: [PresenceChange], _ messages: [(to: String, body: String)]) {
        batch.withLock { $0 = (presence + $0.presence, messages + $0.messages) }
    }

    func take() -> (presence: [PresenceChange], messages: [(to: String, body: String)]) {
        batch.withLock { b in
            defer { b = ([], []) }
            return b
        }
    }
}

/// Ids of messages handled but not yet deleted.
final class HandledMessages: Sendable {
    private let ids = Mutex<Set<Int64>>([])

    func withLock<T>(_ body: (inout Set<Int64>) -> T) -> T { ids.withLock { body(&$0) } }
}

/// Lets a repeated log line through at most once per `every` seconds.
final class LogGate: Sendable {
    private let last = Mutex<Double>(-.infinity)
    let every: Double

    init(every: Double) { self.every = every }

    func open(now: Double = Date().timeIntervalSince1970) -> Bool {
        last.withLock { at in
            guard now - at >= every else { return false }
            at = now
            return true
        }
    }
}
