#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging
import PushyAPIClient
import PushyProtocol
import PushyZMQ
import Synchronization

/// N virtual agents in one process, each with its own node name, config fetch, session key,
/// SUB + DEALER connections, heartbeats, abort/aborted handshake and simulated commands
/// (spec 5–7). Commands take `commandSeconds` and fail/nack for a deterministic share of
/// agents, so what is measured is the server, not fork/exec.
///
/// Agents are spread over `ZMQSwarmTransport` shards (one I/O thread each). Config requests
/// go through a bounded pool of concurrent REST calls. Each agent sends its own CURVE public
/// key as `ccpk` and, when the config offers `curve_public_key`, its DEALER is a CURVE client.
public final class Swarm: Sendable {
    public let configuration: SwarmConfiguration
    let context: ZMQContext
    let shards: [SwarmShard]
    let transports: [ZMQSwarmTransport]
    let liveStats = AtomicSwarmStats()
    let requests: AsyncStream<FetchRequest>.Continuation
    /// Config requests of agents moving to another server (theirs went silent): a pool of their own.
    let moves: AsyncStream<FetchRequest>.Continuation
    let fetcher: Mutex<Task<Void, Never>?>
    let serverKeys = Mutex<[String: RSAPublicKey]>([:])
    let org: String
    let logger: Logger
    let loggedFailures = Atomic(0)

    struct FetchRequest: Sendable {
        let shard: SwarmShard
        let slot: Int
        let name: String
        let curve: CurveKeyPair
        /// Position in the agent's server list to start with.
        let server: Int
    }

    /// Checks the file budget and starts the shards' I/O threads; agents connect on `start()`.
    public init(_ configuration: SwarmConfiguration, logger: Logger = Logger(label: "pushy-swarm")) throws {
        guard configuration.count >= 0, configuration.firstIndex >= 0, configuration.shardSize > 0,
              (1...254).contains(configuration.addressSpread), configuration.fetchConcurrency > 0,
              (configuration.moveConcurrency ?? 1) > 0
        else { throw SwarmError.invalid("count, first index, shard size, fetch or move concurrency or address spread out of range") }
        if case .nodeKeys(let pool) = configuration.identity, pool.isEmpty {
            throw SwarmError.invalid("the key pool is empty")
        }
        let limit = Self.fileLimit()
        let maximum = Self.maximumAgents(fileLimit: limit)
        guard configuration.count <= maximum else {
            throw SwarmError.tooManyAgents(requested: configuration.count, maximum: maximum, fileLimit: limit)
        }
        self.configuration = configuration
        self.logger = logger
        org = try PushyRESTClient(orgURL: configuration.orgURL, userId: "swarm", key: Self.anyKey(configuration)).org
        context = try ZMQContext(ioThreads: configuration.ioThreads, maxSockets: 2 * configuration.count + 64)
        let (stream, continuation) = AsyncStream.makeStream(of: FetchRequest.self)
        let (moveStream, moveContinuation) = AsyncStream.makeStream(of: FetchRequest.self)
        requests = continuation
        moves = moveContinuation
        var shards: [SwarmShard] = []
        var transports: [ZMQSwarmTransport] = []
        var lower = configuration.firstIndex
        let end = configuration.firstIndex + configuration.count
        while lower < end {
            let upper = min(end, lower + configuration.shardSize)
            let shard = SwarmShard(org: org, indexes: lower..<upper, configuration: configuration, stats: liveStats) {
                shard, slot, name, curve, server, moving in
                let request = FetchRequest(shard: shard, slot: slot, name: name, curve: curve, server: server)
                if moving { moveContinuation.yield(request) } else { continuation.yield(request) }
            }
            let transport = try ZMQSwarmTransport(context: context, options: configuration.transport, handler: shard)
            shard.transport = transport
            shards.append(shard)
            transports.append(transport)
            lower = upper
        }
        self.shards = shards
        self.transports = transports
        fetcher = Mutex(nil)
        let task = Task { [weak self] in
            await withTaskGroup(of: Void.self) { group in
                // Weakly held, so that a swarm nobody holds any more is deinitialised (and stopped).
                let fetch: @Sendable (FetchRequest) async -> Void = { [weak self] in await self?.fetch($0) }
                group.addTask { await Self.fetchAll(stream, atOnce: configuration.fetchConcurrency, fetch) }
                group.addTask {
                    await Self.fetchAll(moveStream, atOnce: configuration.moveConcurrency ?? configuration.fetchConcurrency, fetch)
                }
            }
        }
        fetcher.withLock { $0 = task }
    }

    /// Serves `stream`'s config requests, `atOnce` at a time, until it finishes.
    static func fetchAll(_ stream: AsyncStream<FetchRequest>, atOnce limit: Int,
                         _ fetch: @escaping @Sendable (FetchRequest) async -> Void) async {
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            for await request in stream {
                if running >= limit {
                    await group.next()
                    running -= 1
                }
                group.addTask { await fetch(request) }
                running += 1
            }
            group.cancelAll()
        }
    }

    deinit { stop() }

    static func anyKey(_ c: SwarmConfiguration) -> RSAPrivateKey {
        switch c.identity {
        case .nodeKeys(let pool): pool[0]
        case .admin(_, let key): key
        }
    }

    /// `prefix-NNNNNN`: fixed width, so names sort by index.
    public static func nodeName(prefix: String, index: Int) -> String {
        let digits = String(index)
        return prefix + "-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }

    /// This process's node names, in index order.
    public var nodeNames: [String] {
        (configuration.firstIndex..<(configuration.firstIndex + configuration.count)).map {
            Self.nodeName(prefix: configuration.prefix, index: $0)
        }
    }

    /// Whether the agent with global `index` is in the `ratio` share (failing or nacking):
    /// exactly ⌊n·ratio⌋ of indexes 0..<n, evenly spread.
    public static func isSelected(index: Int, ratio: Double) -> Bool {
        guard ratio > 0 else { return false }
        guard ratio < 1 else { return true }
        return (Double(index + 1) * ratio).rounded(.down) > (Double(index) * ratio).rounded(.down)
    }

    /// The soft `RLIMIT_NOFILE` of this process.
    public static func fileLimit() -> Int {
        ConnectionBudget.processFileLimit()
    }

    /// Most agents one process can hold within `fileLimit` descriptors.
    public static func maximumAgents(fileLimit: Int) -> Int {
        max(0, (fileLimit - SwarmConfiguration.descriptorReserve) / SwarmConfiguration.descriptorsPerAgent)
    }

    // MARK: Control

    /// Every agent fetches its config and connects, each at a random moment within the splay.
    public func start() {
        for shard in shards { shard.transport.perform { shard.start() } }
    }

    /// Makes the agent with global `index` silent (no heartbeats, no answers), its sockets left
    /// open, like a hung host. Unknown indexes are ignored.
    public func mute(index: Int) {
        let local = index - configuration.firstIndex
        guard local >= 0, local < configuration.count else { return }
        let shard = shards[local / configuration.shardSize]
        let slot = local % configuration.shardSize
        shard.transport.perform { shard.mute(slot: slot) }
    }

    /// Ends `mute(index:)`: heartbeats resume, a command that ended meanwhile reports.
    public func unmute(index: Int) {
        guard let (shard, slot) = locate(index) else { return }
        shard.transport.perform { shard.unmute(slot: slot) }
    }

    /// Restarts the agent with global `index` if it is in a job (new incarnation, reconnect);
    /// returns whether it was.
    public func restart(index: Int) async -> Bool {
        guard let (shard, slot) = locate(index) else { return false }
        return await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
            shard.transport.perform { c.resume(returning: shard.restart(slot: slot)) }
        }
    }

    /// What this process's agents did in `job` (global index, `AgentJobEvent` letters), sorted by
    /// index; agents that never heard of the job are absent. Needs `recordJobs`. The records
    /// are handed out once: later events for the job are not kept.
    public func report(job: String) async -> [(index: Int, events: String)] {
        var all: [(index: Int, events: String)] = []
        for shard in shards {
            all += await withCheckedContinuation { (c: CheckedContinuation<[(index: Int, events: String)], Never>) in
                shard.transport.perform { c.resume(returning: shard.takeRecords(job: job)) }
            }
        }
        return all.sorted { $0.index < $1.index }
    }

    func locate(_ index: Int) -> (SwarmShard, Int)? {
        let local = index - configuration.firstIndex
        guard local >= 0, local < configuration.count else { return nil }
        return (shards[local / configuration.shardSize], local % configuration.shardSize)
    }

    public var stats: SwarmStats { liveStats.snapshot }

    /// Closes every connection and stops the threads. Idempotent.
    public func stop() {
        requests.finish()
        moves.finish()
        fetcher.withLock { $0?.cancel() }
        for t in transports { t.shutdown() }
    }

    // MARK: Registration

    /// Creates every agent's client (replacing an existing one) and, when asked, reports its
    /// node, signed as `admin`. Needed once per server data directory before `start()`.
    public func register(admin: PushyRESTClient, reportNodes: Bool = false, concurrency: Int = 8) async throws(SwarmError) {
        let names = nodeNames
        let first = configuration.firstIndex
        let keys: [String]
        switch configuration.identity {
        case .nodeKeys(let pool): keys = pool.map(\.publicKey.pemRepresentation)
        case .admin(_, let key): keys = [key.publicKey.pemRepresentation]
        }
        let failure = FirstFailure()
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            for (offset, name) in names.enumerated() {
                if failure.value != nil { break }
                if running >= concurrency {
                    await group.next()
                    running -= 1
                }
                let pem = keys[(first + offset) % keys.count]
                group.addTask {
                    do {
                        try await Self.register(name: name, publicKeyPEM: pem, admin: admin, reportNode: reportNodes)
                    } catch {
                        failure.record(.registration(node: name, reason: "\(error)"))
                    }
                }
                running += 1
            }
        }
        if let error = failure.value { throw error }
    }

    static func register(name: String, publicKeyPEM: String, admin: PushyRESTClient, reportNode: Bool) async throws {
        do {
            try await admin.createClient(name: name, publicKeyPEM: publicKeyPEM)
        } catch let e where e.status == 409 {
            try await admin.deleteClient(name: name)
            try await admin.createClient(name: name, publicKeyPEM: publicKeyPEM)
        }
        if reportNode { try await admin.reportNode(NodeReport(name: name, automatic: ["swarm": true])) }
    }

    // MARK: Config fetch

    /// The agent's config from its servers in turn, starting at `r.server` (as `pushy-client`
    /// with several `server_url`s): the first that answers is the one it stays with.
    func fetch(_ r: FetchRequest) async {
        let index = Int(r.name.split(separator: "-").last.flatMap { Int($0) } ?? 0)
        let urls = configuration.serverURLs(index: index)
        var failure: (any Error)?
        for step in 0..<urls.count {
            let position = (r.server + step) % urls.count
            do {
                let (client, key) = try restClient(for: r.name, url: urls[position])
                let config = try await client.config(node: r.name, ccpk: r.curve.publicKey,
                                                     features: configuration.commitRun ? [NodeConfig.commitRunFeature] : [])
                let session = try SessionKey.decrypt(base64: config.encodedSessionKey, with: key)
                let serverKey = try serverKey(config.publicKey)
                liveStats.add(.configFetches)
                let shard = r.shard, slot = r.slot, bytes = session.bytes
                shard.transport.perform {
                    shard.configured(slot: slot, config: config, key: bytes, serverKey: serverKey, server: position)
                }
                return
            } catch {
                // A busy server's answer (retry after) is kept over a dead one's, so its wait is honoured.
                if failure == nil || (error as? PushyClientError)?.retryAfter != nil { failure = error }
            }
        }
        if let error = failure {
            liveStats.add(.fetchFailures)
            // 503 (e.g. the server is at its connection budget): retry when the server says.
            let retryAfter = (error as? PushyClientError)?.retryAfter
            if (error as? PushyClientError)?.status == 503 { liveStats.add(.unavailable) }
            if loggedFailures.add(1, ordering: .relaxed).newValue <= 5 {
                logger.warning("config fetch failed for \(r.name): \(error)")
            }
            let shard = r.shard, slot = r.slot
            shard.transport.perform { shard.fetchFailed(slot: slot, retryAfter: retryAfter) }
        }
    }

    func restClient(for name: String, url: String) throws -> (PushyRESTClient, RSAPrivateKey) {
        let timeout = Duration.seconds(configuration.requestTimeoutSeconds)
        switch configuration.identity {
        case .nodeKeys(let pool):
            let index = Int(name.split(separator: "-").last.flatMap { Int($0) } ?? 0)
            let key = pool[index % pool.count]
            return (try PushyRESTClient(orgURL: url, userId: name, key: key, tls: configuration.tls, timeout: timeout), key)
        case .admin(let user, let key):
            return (try PushyRESTClient(orgURL: url, userId: user, key: key, tls: configuration.tls, timeout: timeout), key)
        }
    }

    func serverKey(_ pem: String) throws -> RSAPublicKey {
        if let k = serverKeys.withLock({ $0[pem] }) { return k }
        let k = try RSAPublicKey(pemRepresentation: pem)
        serverKeys.withLock { $0[pem] = k }
        return k
    }
}

/// The first error of a group of concurrent registrations.
final class FirstFailure: Sendable {
    private let error = Mutex<SwarmError?>(nil)
    var value: SwarmError? { error.withLock { $0 } }
    func record(_ e: SwarmError) { error.withLock { $0 = $0 ?? e } }
}
