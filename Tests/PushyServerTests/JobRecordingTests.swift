import Foundation
import Logging
import PushyProtocol
@testable import PushyServer
import PushyStore
import PushyTestSupport
import Testing

/// A door a test holds shut and opens once (a slow disk, released on cue).
actor Gate {
    private var open = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func wait() async {
        if open { return }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        open = true
        for w in waiting { w.resume() }
        waiting = []
    }
}

/// A job's rows are written while its commits go out; `run` and the answer wait for them, and a
/// job that could not be recorded does not go on.
@Suite(.timeLimit(.minutes(5))) struct JobRecordingTests {
    static let org = "acme"

    /// An engine with one node, `web1`, connected and available.
    static func engine(_ store: InMemoryStore) async throws -> (CommandEngine, RecordingTransport, [UInt8]) {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let engine = CommandEngine(
            config: ServerConfiguration(dataDir: NSTemporaryDirectory()), store: store,
            serverKey: TestKeys.server, logger: logger)
        let transport = RecordingTransport()
        await engine.attach(transport)
        Task { await engine.runWriter() }
        let key = engine.sessionKey(org: org, node: "web1")
        await say(engine, key, 1, .heartbeat, job: nil)
        await say(engine, key, 2, .aborted, job: nil)
        #expect(await engine.nodeState(org: org, node: "web1").availability == .available)
        return (engine, transport, key)
    }

    static func say(_ engine: CommandEngine, _ key: [UInt8], _ seq: Int, _ type: AgentMessageType, job: String?) async {
        let m = AgentMessage(node: "web1", client: "web1", org: org, type: type, sequence: seq, timestamp: Date(),
                             incarnationId: "inc", jobId: job, jobState: type == .heartbeat ? .idle : nil)
        await engine.receive(identity: [0, 0, 0, 0, 1], frames: MessageSigner.hmacFrames(body: m.bodyBytes, key: key))
    }

    static func start(_ engine: CommandEngine) -> Task<ActiveJobSnapshot, any Error> {
        Task {
            try await engine.startJob(org: org, orgGUID: String(repeating: "a", count: 32),
                                      request: JobRequest(command: "noop", nodes: ["web1"]), requestor: "admin")
        }
    }

    /// The commit the engine sent (polled: the job starts on another task).
    static func commit(_ transport: RecordingTransport) async throws -> ServerMessage {
        for _ in 0..<10_000 {
            if let c = transport.messages.first(where: { $0.type == "commit" }) { return c }
            await Task.yield()
            try await Task.sleep(for: .milliseconds(1))
        }
        throw CancellationError()
    }

    @Test func runWaitsUntilTheJobIsRecorded() async throws {
        let store = InMemoryStore()
        try await store.createOrg(OrgRecord(name: Self.org, guid: String(repeating: "a", count: 32), createdAt: Date()))
        let gate = Gate()
        await store.setBeforeInsertJob { await gate.wait() }
        let (engine, transport, key) = try await Self.engine(store)

        let started = Self.start(engine)
        let jobId = try #require(try await Self.commit(transport).jobId)
        await Self.say(engine, key, 3, .ackCommit, job: jobId)
        // Quorum is met, but the job's rows are not written yet: no run.
        #expect(transport.types == ["abort", "commit"])
        await gate.release()
        _ = try await value(of: started, "the job start")
        #expect(transport.types == ["abort", "commit", "run"])
        await Self.say(engine, key, 4, .ackRun, job: jobId)
        await Self.say(engine, key, 5, .succeeded, job: jobId)
        await engine.drainWrites()
        #expect(try await store.jobNodes(jobId: jobId).map(\.status) == [.succeeded])
        #expect(try await store.job(org: Self.org, id: jobId)?.status == .complete)
        engine.stopWriter()
    }

    @Test func aJobThatCannotBeRecordedIsAbortedAndNeverRuns() async throws {
        let store = InMemoryStore()
        try await store.createOrg(OrgRecord(name: Self.org, guid: String(repeating: "a", count: 32), createdAt: Date()))
        let gate = Gate()
        await store.setBeforeInsertJob { () async throws(StoreError) in
            await gate.wait()
            throw .io("disk full")
        }
        let (engine, transport, key) = try await Self.engine(store)

        let started = Self.start(engine)
        let jobId = try #require(try await Self.commit(transport).jobId)
        await Self.say(engine, key, 3, .ackCommit, job: jobId)
        await gate.release()
        await #expect(throws: StoreError.self) { _ = try await value(of: started, "the job start") }
        // Connect abort, the commit that went out while writing, then the abort that stops it.
        #expect(transport.types == ["abort", "commit", "abort"])
        #expect(await engine.activeJobIds.isEmpty)
        #expect(await engine.nodeState(org: Self.org, node: "web1").availability == .unavailable)
        #expect(try await store.job(org: Self.org, id: jobId) == nil)
        engine.stopWriter()
    }
}
