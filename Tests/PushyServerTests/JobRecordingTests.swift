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
    /// Starts a job on web1 on another task (its answer waits for the job's rows).
    static func start(_ rig: EngineRig) -> Task<ActiveJobSnapshot, any Error> {
        let engine = rig.engine, org = rig.org
        return Task {
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
        let gate = Gate()
        try await EngineRig.with { rig in
            await rig.store.setBeforeInsertJob { await gate.wait() }
            let started = Self.start(rig)
            let jobId = try #require(try await Self.commit(rig.transport).jobId)
            await rig.say(.ackCommit, job: jobId)
            // Quorum is met, but the job's rows are not written yet: no run.
            #expect(rig.transport.types == ["abort", "commit"])
            await gate.release()
            _ = try await value(of: started, "the job start")
            #expect(rig.transport.types == ["abort", "commit", "run"])
            await rig.say(.ackRun, job: jobId)
            await rig.say(.succeeded, job: jobId)
            await rig.engine.drainWrites()
            #expect(try await rig.store.jobNodes(jobId: jobId).map(\.status) == [.succeeded])
            #expect(try await rig.store.job(org: rig.org, id: jobId)?.status == .complete)
        }
    }

    @Test func aJobThatCannotBeRecordedIsAbortedAndNeverRuns() async throws {
        let gate = Gate()
        try await EngineRig.with { rig in
            await rig.store.setBeforeInsertJob { () async throws(StoreError) in
                await gate.wait()
                throw .io("disk full")
            }
            let started = Self.start(rig)
            let jobId = try #require(try await Self.commit(rig.transport).jobId)
            await rig.say(.ackCommit, job: jobId)
            await gate.release()
            await #expect(throws: StoreError.self) { _ = try await value(of: started, "the job start") }
            // Connect abort, the commit that went out while writing, then the abort that stops it.
            #expect(rig.transport.types == ["abort", "commit", "abort"])
            #expect(await rig.engine.activeJobIds.isEmpty)
            #expect(await rig.engine.nodeState(org: rig.org, node: "web1").availability == .unavailable)
            #expect(try await rig.store.job(org: rig.org, id: jobId) == nil)
        }
    }
}
