import Foundation
import Logging
import PushyCore
import PushyProtocol
@testable import PushyServer
import PushyStore
import PushyTestSupport
import Synchronization
import Testing

/// A clock a test moves by hand (near the real time, so message timestamps stay within skew).
final class TestClock: Sendable {
    private let offset = Mutex(0.0)
    func now() -> Double { Date().timeIntervalSince1970 + offset.withLock { $0 } }
    func advance(_ seconds: Double) { offset.withLock { $0 += seconds } }
}

/// One engine with an in-memory store, a recording transport and a hand-moved clock, and an
/// agent stand-in that says exactly what a test tells it to, in that order: the lost-message
/// cases of issue 11, made deterministic. `RouterRig` builds the REST API over one.
final class EngineRig: Sendable {
    static let org = "acme"
    let org: String
    let config: ServerConfiguration
    let serverKey: RSAPrivateKey
    let engine: CommandEngine
    let store: InMemoryStore
    let transport = RecordingTransport()
    let clock = TestClock()
    let writer: Task<Void, Never>
    let sequence = Mutex(0)

    /// An engine over a store with `org` in it (`seed`, else a record with a fixed guid), its
    /// store writer running; with `connect`, `web1` is connected and available.
    init(org: String = EngineRig.org, connect: Bool = true, seed: ((InMemoryStore) async throws -> Void)? = nil,
         configure: (inout ServerConfiguration) -> Void = { _ in }) async throws {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        self.org = org
        store = InMemoryStore()
        if let seed {
            try await seed(store)
        } else {
            try await store.createOrg(OrgRecord(name: org, guid: String(repeating: "a", count: 32), createdAt: Date()))
        }
        var config = ServerConfiguration(dataDir: NSTemporaryDirectory())
        config.heartbeatInterval = 10
        configure(&config)
        self.config = config
        serverKey = TestKeys.server
        let clock = self.clock
        engine = CommandEngine(config: config, store: store, serverKey: serverKey, logger: logger, clock: { clock.now() })
        await engine.attach(transport)
        let engine = self.engine
        writer = Task { await engine.runWriter() }
        guard connect else { return }
        await say(.heartbeat, job: nil, state: .idle)
        await say(.aborted, job: nil)
        #expect(await engine.nodeState(org: org, node: "web1").availability == .available)
    }

    /// Runs `body` with a new rig and stops the rig's store writer on every path, a failed
    /// `#require` included.
    static func with<T>(org: String = EngineRig.org, connect: Bool = true,
                        seed: ((InMemoryStore) async throws -> Void)? = nil,
                        configure: (inout ServerConfiguration) -> Void = { _ in },
                        _ body: (EngineRig) async throws -> T) async throws -> T {
        let rig = try await EngineRig(org: org, connect: connect, seed: seed, configure: configure)
        do {
            let result = try await body(rig)
            await rig.stop()
            return result
        } catch {
            await rig.stop()
            throw error
        }
    }

    /// Stops the store writer once what was asked for is written (bounded: the writer has its
    /// own stop timeout, and this waits at most 30 s more).
    func stop() async {
        engine.stopWriter()
        await waitForTask(writer, "the engine's store writer")
    }

    /// web1's session key (created on first use, as by its config request).
    var key: [UInt8] { engine.sessionKey(org: org, node: "web1") }

    /// web1 sends one message (on connection `identity`, as process `incarnation`).
    func say(_ type: AgentMessageType, job: String?, state: AgentJobState? = nil,
             identity: [UInt8] = [0, 0, 0, 0, 1], incarnation: String = "inc-1") async {
        let seq = sequence.withLock { $0 += 1; return $0 }
        let m = AgentMessage(node: "web1", client: "web1", org: org, type: type, sequence: seq, timestamp: Date(),
                             incarnationId: incarnation, jobId: job, jobState: state)
        await engine.receive(identity: identity, frames: MessageSigner.hmacFrames(body: m.bodyBytes, key: key))
    }

    /// Starts a job on web1, acks its commit and its run: web1 is `running` in it.
    func runningJob() async throws -> String {
        let snapshot = try await engine.startJob(
            org: org, orgGUID: String(repeating: "a", count: 32),
            request: JobRequest(command: "noop", nodes: ["web1"]), requestor: "admin")
        let id = snapshot.id
        await say(.ackCommit, job: id)
        #expect(transport.types.last == "run")
        await say(.ackRun, job: id)
        #expect(await node(id) == .running)
        return id
    }

    func job(_ id: String) async -> JobView? { await engine.activeJobView(org: org, id: id) }
    func node(_ id: String) async -> NodeJobStatus? {
        await job(id)?.nodes?.first { $0.1.contains("web1") }?.0
    }
}
