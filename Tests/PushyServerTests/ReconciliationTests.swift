import Foundation
import Logging
import PushyCore
import PushyProtocol
@testable import PushyServer
import PushyStore
import Synchronization
import Testing

@Suite(.timeLimit(.minutes(1))) struct ReconciliationTests {
    /// The job of issue 11 that never ended: the node's `succeeded` was lost on the way, and
    /// its heartbeats then said it was idle. One interval later its part ends, with a reason.
    @Test func aLostResultEndsTheNodesPartAfterOneIntervalOfIdleHeartbeats() async throws {
        try await EngineRig.with { rig in
            let id = try await rig.runningJob()
            // `succeeded` never arrives. The first idle heartbeat is not enough (it may have overtaken it)…
            await rig.say(.heartbeat, job: nil, state: .idle)
            rig.clock.advance(5)
            await rig.say(.heartbeat, job: nil, state: .idle)
            #expect(await rig.node(id) == .running)
            #expect(await rig.engine.reconciliations == 0)
            // …a whole interval of them is.
            rig.clock.advance(5)
            await rig.say(.heartbeat, job: nil, state: .idle)
            let view = try #require(await rig.job(id))
            #expect(view.status == .complete)
            #expect(await rig.node(id) == .crashed)
            let reason = view.nodeReasons?.first { $0.0 == "web1" }?.1 ?? ""
            #expect(reason.contains("the agent reports no job (idle)"), "reason: \(reason)")
            #expect(await rig.engine.reconciliations == 1)
            // Not reset: it is idle (or busy with another job, which must go on).
            #expect(rig.transport.types.last == "run")
            await rig.engine.drainWrites()
            #expect(try await rig.store.job(org: EngineRig.org, id: id)?.status == .complete)
            #expect(try await rig.store.jobNodes(jobId: id).map(\.status) == [.crashed])
        }
    }

    /// A heartbeat that overtook the result does no harm: the result lands, the job completes.
    @Test func aResultJustBehindAnIdleHeartbeatCounts() async throws {
        try await EngineRig.with { rig in
            let id = try await rig.runningJob()
            await rig.say(.heartbeat, job: nil, state: .idle)
            await rig.say(.succeeded, job: id)
            rig.clock.advance(20)
            await rig.say(.heartbeat, job: nil, state: .idle)
            #expect(await rig.job(id)?.status == .complete)
            #expect(await rig.node(id) == .succeeded)
            #expect(await rig.engine.reconciliations == 0)
        }
    }

    /// After a reconnect the agent sends again what its old connection may not have delivered:
    /// the same result twice is one result (no reset, no second event).
    @Test func aResultSentAgainOnANewConnectionIsTheSameResult() async throws {
        try await EngineRig.with { rig in
            let id = try await rig.runningJob()
            await rig.say(.succeeded, job: id)
            let sentBefore = rig.transport.types
            // New connection (new ZeroMQ identity), same process: the engine acks it, nothing more.
            await rig.say(.succeeded, job: id, identity: [0, 0, 0, 0, 2])
            #expect(rig.transport.types == sentBefore + ["ack"])
            #expect(await rig.node(id) == .succeeded)
            #expect(await rig.job(id)?.status == .complete)
        }
    }

    /// A heartbeat the transport held back on the connection the node has since left (it is
    /// handled after the node's messages on the new one) is dropped: the engine keeps answering
    /// on the new connection.
    @Test func aHeartbeatLateOnTheReplacedConnectionIsDropped() async throws {
        try await EngineRig.with { rig in
            let id = try await rig.runningJob()
            await rig.say(.succeeded, job: id, identity: [0, 0, 0, 0, 2])
            let sentBefore = rig.transport.types
            await rig.say(.heartbeat, job: nil, state: .idle, identity: [0, 0, 0, 0, 1])
            #expect(await rig.engine.dropped["stale_connection"] == 1)
            #expect(rig.transport.types == sentBefore)
            // A job message on the old connection is not dropped (only heartbeats are held back).
            await rig.say(.succeeded, job: id, identity: [0, 0, 0, 0, 1])
            #expect(rig.transport.types == sentBefore + ["ack"])
            #expect(await rig.job(id)?.status == .complete)
            // That late message moved the session back to the old connection; the live one's
            // next heartbeat (an interval later) moves it forward again instead of being dropped.
            rig.clock.advance(10)
            await rig.say(.heartbeat, job: nil, state: .idle, identity: [0, 0, 0, 0, 2])
            #expect(await rig.engine.dropped["stale_connection"] == 1)
            #expect(rig.transport.types == sentBefore + ["ack", "ack"])
        }
    }

    /// Only soon after a move: a heartbeat on a connection the node left long ago is handled.
    @Test func aHeartbeatOnTheReplacedConnectionLongAfterIsHandled() async throws {
        try await EngineRig.with { rig in
            await rig.say(.heartbeat, job: nil, state: .idle, identity: [0, 0, 0, 0, 1])
            await rig.say(.heartbeat, job: nil, state: .idle, identity: [0, 0, 0, 0, 2])
            rig.clock.advance(CommandEngine.replacedConnectionGrace + 1)
            let sentBefore = rig.transport.types
            await rig.say(.heartbeat, job: nil, state: .idle, identity: [0, 0, 0, 0, 1])
            #expect(await rig.engine.dropped["stale_connection"] == nil)
            #expect(rig.transport.types == sentBefore + ["ack"])
        }
    }

    /// `run` was lost: the node heartbeats `committed` for a whole interval, so `run` goes again.
    @Test func aLostRunIsSentAgain() async throws {
        try await EngineRig.with { rig in
            let snapshot = try await rig.engine.startJob(
                org: EngineRig.org, orgGUID: String(repeating: "a", count: 32),
                request: JobRequest(command: "noop", nodes: ["web1"]), requestor: "admin")
            let id = snapshot.id
            await rig.say(.ackCommit, job: id)
            #expect(rig.transport.types.filter { $0 == "run" }.count == 1)
            await rig.say(.heartbeat, job: id, state: .committed)
            rig.clock.advance(10)
            await rig.say(.heartbeat, job: id, state: .committed)
            #expect(rig.transport.types.filter { $0 == "run" }.count == 2)
            #expect(await rig.engine.runsResent == 1)
            await rig.say(.ackRun, job: id)
            await rig.say(.succeeded, job: id)
            #expect(await rig.job(id)?.status == .complete)
            #expect(await rig.node(id) == .succeeded)
        }
    }

    /// An agent that restarted mid-job (new incarnation) has lost the job: its part ends at once.
    @Test func aNewIncarnationMidJobEndsTheNodesPart() async throws {
        try await EngineRig.with { rig in
            let id = try await rig.runningJob()
            await rig.say(.heartbeat, job: nil, state: .idle, identity: [0, 0, 0, 0, 3], incarnation: "inc-2")
            #expect(await rig.node(id) == .crashed)
            let reason = await rig.job(id)?.nodeReasons?.first { $0.0 == "web1" }?.1 ?? ""
            #expect(reason.contains("the agent restarted"), "reason: \(reason)")
            #expect(await rig.job(id)?.status == .complete)
        }
    }

    /// A store that fails for a while: the job's writes are retried and the job stays in memory
    /// (readable) until they are durable, then its rows are right.
    @Test func failedWritesAreRetriedAndTheJobIsKeptUntilTheyLand() async throws {
        try await EngineRig.with { rig in
            await rig.store.setFailJobUpdates(.io("disk full"))
            let id = try await rig.runningJob()
            await rig.say(.succeeded, job: id)
            #expect(await rig.job(id)?.status == .complete)
            // Well past wait_complete_time: still held, because its rows are not written.
            rig.clock.advance(60)
            await rig.engine.tick()
            #expect(await rig.job(id)?.status == .complete)
            #expect(await rig.engine.drainWrites(timeout: .milliseconds(300)) == false)
            #expect(rig.engine.writer.stats.failures >= 1)
            // The disk recovers: the writes land, in order, and the job is released.
            await rig.store.setFailJobUpdates(nil)
            #expect(await rig.engine.drainWrites(timeout: .seconds(10)))
            #expect(try await rig.store.job(org: EngineRig.org, id: id)?.status == .complete)
            #expect(try await rig.store.jobNodes(jobId: id).map(\.status) == [.succeeded])
            await rig.engine.tick()
            #expect(await rig.engine.activeJobIds.isEmpty)
        }
    }
}
