import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOCore
import NIOSSL
import Logging
import PushyProtocol
import PushyStore
import PushyZMQ
import ServiceLifecycle

/// A whole Pushy server: store, engine, ZeroMQ sockets and the REST API. `build` does
/// everything that can fail at start (open the store, load keys, bind ports) so errors surface
/// before `run`; tests call the same function as `pushy-server run`.
public final class PushyServerApp: Service, Sendable {
    public let config: ServerConfiguration
    public let engine: CommandEngine
    public let store: any PushyStore
    let transport: ZMQServerTransport
    /// Agent messages checked on the I/O thread, for `InboundService`.
    let checked: CheckedInbound
    let context: ZMQContext
    let logger: Logger
    let serverKey: RSAPrivateKey
    let apiPort: AsyncStream<Int>
    let apiPortContinuation: AsyncStream<Int>.Continuation
    let portBox = PortBox()
    let curve: CurveKeyPair?
    let allowList: CurveAllowList
    /// ZeroMQ connections held and allowed (issue 5).
    public let connectionBudget: ConnectionBudget
    /// Prometheus metrics (`metrics_listen`, or `/metrics` on the REST port with `metrics_token`).
    public var metrics: PushyMetrics { engine.metrics }
    let metricsPortBox = PortBox()
    let metricsPorts = AsyncStream.makeStream(of: Int.self, bufferingPolicy: .bufferingNewest(1))
    /// Orchestration plan runs (issue 14).
    let plans: PlanRunner
    /// This server's row in the cluster (PostgreSQL only; `ClusterService`).
    let cluster: ServerRecord?

    public static func build(config: ServerConfiguration, logger: Logger = Logger(label: "pushy-server")) async throws -> PushyServerApp {
        try config.validate()
        let keyPEM: String
        do { keyPEM = try String(contentsOfFile: config.serverKeyPath, encoding: .utf8) } catch {
            throw ServerStartError("cannot read the server key \(config.serverKeyPath): run 'pushy-server init --data-dir \(config.dataDir)' first")
        }
        let serverKey = try RSAPrivateKey(pemRepresentation: keyPEM)
        let store = try await config.openStore(logger: logger)
        do {
            return try await build(config: config, store: store, serverKey: serverKey, logger: logger)
        } catch {
            await store.shutdown()
            throw error
        }
    }

    /// The rest of `build`, once the store is open (closed again by the caller when this fails).
    private static func build(config: ServerConfiguration, store: any PushyStore, serverKey: RSAPrivateKey,
                              logger: Logger) async throws -> PushyServerApp {
        let engine = CommandEngine(config: config, store: store, serverKey: serverKey, logger: logger,
                                   metrics: PushyMetrics())
        let context = try ZMQContext(ioThreads: 1, maxSockets: 20_000)
        // A fresh CURVE key pair per start (spec 4.5); the ZAP handler admits only client keys
        // registered by a signed config request in the last 60 s.
        let curve: CurveKeyPair? = config.disableCurveEncryption ? nil : try CurveKeyPair.generate()
        let allowList = CurveAllowList()
        let budget = makeConnectionBudget(config: config, logger: logger)
        var options = ZMQServerTransport.Options(
            routerEndpoint: "tcp://\(config.listenAddress):\(config.commandPort)",
            pubEndpoint: "tcp://\(config.listenAddress):\(config.heartbeatPort)",
            connectionBudget: budget)
        options.screenSubscribers = config.screenHeartbeatConnections
        // A frame this far over max_body_size is no agent's: drop the peer before libzmq buffers it.
        options.maxFrameSize = Int64(max(4 * config.maxBodySize, 1 << 20))
        // Idle heartbeats wait on the I/O thread and reach the engine in one batch (issue 16):
        // held at most 2 % of an interval (200 ms at 10 s), so liveness hardly notices.
        options.mayHold = { @Sendable in InboundVerifier.mayWait($0) }
        options.inboundHoldMilliseconds = Int(min(200, max(1, config.heartbeatInterval * 20)))
        // Checked on the I/O thread, one hop to the engine (issue 16).
        let checked = CheckedInbound(verifier: engine.verifier)
        options.inboundSink = { @Sendable in checked.accept($0) }
        if let curve {
            options.curveSecretKey = curve.secretKey
            options.zapAuthorizer = { @Sendable key in allowList.admits(key) }
        }
        let transport: ZMQServerTransport
        do {
            transport = try ZMQServerTransport(context: context, options: options)
        } catch {
            throw ServerStartError("cannot listen on the ZeroMQ ports (command \(config.commandPort), heartbeat \(config.heartbeatPort)) at \(config.listenAddress): \(error)")
        }
        await engine.attach(transport)
        // In a cluster, after joining: this server's previous life (same address) is dead by then,
        // so its jobs are crashed here, and a live peer's are not (`joinCluster`).
        let cluster = try await joinCluster(config: config, store: store, engine: engine, transport: transport, budget: budget)
        let crashed = try await engine.crashUnfinishedJobs()
        if !crashed.isEmpty {
            logger.warning("jobs left unfinished by the previous run are now crashed", metadata: ["pushy.jobs": "\(crashed)"])
        }
        let unfinishedPlans = try await store.failUnfinishedPlanRuns(reason: "the server stopped during the run", at: Date())
        if !unfinishedPlans.isEmpty {
            logger.warning("plan runs left unfinished by the previous run are now failed", metadata: ["pushy.plan_runs": "\(unfinishedPlans)"])
        }
        return PushyServerApp(config: config, engine: engine, store: store, transport: transport, context: context,
                              logger: logger, serverKey: serverKey, curve: curve, allowList: allowList,
                              connectionBudget: budget, checked: checked, cluster: cluster)
    }

    init(config: ServerConfiguration, engine: CommandEngine, store: any PushyStore, transport: ZMQServerTransport,
         context: ZMQContext, logger: Logger, serverKey: RSAPrivateKey, curve: CurveKeyPair?, allowList: CurveAllowList,
         connectionBudget: ConnectionBudget, checked: CheckedInbound, cluster: ServerRecord? = nil) {
        self.cluster = cluster
        self.connectionBudget = connectionBudget
        self.checked = checked
        plans = PlanRunner(store: store, engine: engine, logger: logger, defaultOrg: config.defaultOrg)
        self.curve = curve
        self.allowList = allowList
        self.config = config
        self.engine = engine
        self.store = store
        self.transport = transport
        self.context = context
        self.logger = logger
        self.serverKey = serverKey
        (apiPort, apiPortContinuation) = AsyncStream.makeStream(of: Int.self, bufferingPolicy: .bufferingNewest(1))
    }

    public var heartbeatPort: Int { transport.pubPort }
    public var commandPort: Int { transport.routerPort }

    /// Waits until the REST API listens and returns its port.
    public func waitUntilListening() async -> Int {
        if let p = portBox.value { return p }
        for await p in apiPort { return p }
        return portBox.value ?? config.apiPort
    }

    /// The port of the `metrics_listen` listener once it listens (nil while it does not, or when it is off).
    public var metricsPort: Int? { metricsPortBox.value }

    /// Waits until the `metrics_listen` listener listens and returns its port (nil when it is off).
    public func waitUntilMetricsListening() async -> Int? {
        guard config.metricsEndpoint != nil else { return nil }
        if let p = metricsPortBox.value { return p }
        for await p in metricsPorts.stream { return p }
        return metricsPortBox.value
    }

    /// Runs until cancelled or a graceful shutdown (SIGTERM/SIGINT under a ServiceGroup); either
    /// way the server's services stop in their declared order (`ServerServices.swift`): REST
    /// drained, inbound messages handled, timers stopped, pending store writes written.
    public func run() async throws {
        defer { transport.shutdown() }
        // The store closes last: the services write their pending changes as they stop.
        do {
            try await runServices()
        } catch {
            await store.shutdown()
            throw error
        }
        await store.shutdown()
    }

    private func runServices() async throws {
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: JobWriterService(engine: engine)),
            .init(service: EngineTicker(engine: engine)),
            .init(service: InboundService(transport: transport, engine: engine, checked: checked)),
            // Schedules (issue 14): stops before the engine's timers and the store writer.
            .init(service: SchedulerService(scheduler: Scheduler(store: store, engine: engine, logger: logger, defaultOrg: config.defaultOrg))),
            .init(service: HeapTrimmer(events: { [engine] in await engine.memoryEvents }, logger: logger)),
            .init(service: try makeHTTPApplication()),
            .init(service: FeedCloser(engine: engine)),
            .init(service: PlanRunnerService(runner: plans)),
        ]
        if let me = cluster, let clusterStore = store as? any ClusterStore {
            // After the engine's timers and the store writer, before inbound messages: stops first of the three.
            let budget = connectionBudget, engine = self.engine
            let clusterService = ClusterService(
                engine: engine, store: clusterStore, server: me, lease: config.clusterLease,
                agents: {
                    let snapshot = budget.snapshot
                    return (await engine.sessionCount, max(0, (snapshot.budget - snapshot.open) / 2))
                }, logger: logger)
            services.insert(.init(service: clusterService), at: 2)
            // Leaves the cluster last, once the job writer has drained: a peer's sweep (which
            // follows at once) then finds this server's finished jobs written as they ended.
            services.insert(.init(service: ClusterDeparture(cluster: clusterService)), at: 0)
        }
        if let endpoint = config.metricsEndpoint {
            let box = metricsPortBox, cont = metricsPorts.continuation
            services.insert(.init(service: MetricsEndpoint.application(
                host: endpoint.host, port: endpoint.port, metrics: metrics, engine: engine, budget: connectionBudget, logger: logger,
                onRunning: { box.set($0); cont.yield($0) })), at: services.count - 1)
        }
        let watch = StopWatch()
        let group = ServiceGroup(configuration: .init(services: services.map(watch.track), gracefulShutdownSignals: [], logger: logger))
        // Unstructured on purpose: cancelling `run` (how tests stop a server) must still shut the
        // group down gracefully, in order, rather than cancel it mid-request.
        let (ended, groupEnded) = AsyncStream.makeStream(of: Never.self)
        let running = Task {
            defer { groupEnded.finish() }
            try await group.run()
        }
        // Until a graceful shutdown, a cancellation (tests) or the group ending by itself (a
        // service failed, e.g. the REST port was taken), whichever is first. (Both waits end
        // when cancelled; awaiting `running` itself would not.)
        await withTaskGroup(of: Void.self) { first in
            first.addTask { try? await gracefulShutdown() }
            first.addTask { for await _ in ended {} }
            await first.next()
            first.cancelAll()
        }
        await group.triggerGracefulShutdown()
        let logger = self.logger
        let reporter = Task { await watch.report(logger) }
        defer { reporter.cancel() }
        try await running.value
    }

    /// How long a closing TLS connection waits for the peer's close_notify before the socket
    /// closes. NIO's default is 5 s, and HTTP clients idling in a keep-alive pool (curl, the CLI,
    /// agents) rarely answer, so every stop took 5 s; the reply is only a courtesy (the responses
    /// were flushed before close_notify went out), so a stop waits this long at most.
    static let tlsCloseGrace = TimeAmount.milliseconds(250)

    func makeHTTPApplication() throws -> some Service {
        let api = PushyAPI(
            config: config, store: store, engine: engine, serverPublicKeyPEM: serverKey.publicKey.pemRepresentation,
            ports: ServerPorts(api: config.apiPort, heartbeat: transport.pubPort, command: transport.routerPort),
            curvePublicKey: curve?.publicKey, curveAllowList: allowList, connectionBudget: connectionBudget, plans: plans)
        let box = portBox
        let cont = apiPortContinuation
        var server: HTTPServerBuilder = .http1()
        if config.tls {
            do {
                let chain = try NIOSSLCertificate.fromPEMFile(config.certificatePath).map { NIOSSLCertificateSource.certificate($0) }
                let key = try NIOSSLPrivateKey(file: config.certificateKeyPath, format: .pem)
                var tls = TLSConfiguration.makeServerConfiguration(
                    certificateChain: chain, privateKey: NIOSSLPrivateKeySource.privateKey(key))
                tls.shutdownTimeout = Self.tlsCloseGrace
                server = try .tls(tlsConfiguration: tls)
            } catch {
                throw ServerStartError("cannot load the TLS certificate \(config.certificatePath) / key \(config.certificateKeyPath): \(error) (run 'pushy-server init' to create them, or set tls_certificate/tls_key)")
            }
        }
        let app = Application(
            router: api.router(),
            server: server,
            configuration: .init(address: .hostname(config.listenAddress, port: config.apiPort), serverName: "pushy"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                box.set(port)
                cont.yield(port)
            },
            logger: logger)
        return app
    }
}

/// A start-up failure with a message that says what to do.
public struct ServerStartError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// Holds the REST port once known (set from NIO's thread, read from tasks).
final class PortBox: @unchecked Sendable {
    private let lock = NSLock()
    private var port: Int?
    var value: Int? { lock.withLock { port } }
    func set(_ p: Int) { lock.withLock { port = p } }
}
