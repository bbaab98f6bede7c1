import Foundation
@testable import PushyServer
import Testing

/// A server behind on its inbound messages (starved of CPU) does not take its own lateness for
/// its agents' silence: liveness is judged no later than the transport last had every message
/// in hand, at most `livenessHoldBack` intervals behind the clock. (The churn soak on a loaded
/// machine found nodes declared dead while they heartbeat.)
@Suite(.timeLimit(.minutes(1))) struct LivenessHoldBackTests {
    @Test func aServerBehindItsMessagesDoesNotDeclareNodesDead() async throws {
        try await EngineRig.with { rig in
            let frozen = rig.clock.now()
            rig.transport.setCaughtUp(frozen)
            // Four intervals of silence (a node heard once is dead after 3.5 when the server keeps up)…
            rig.clock.advance(40)
            await rig.engine.tick()
            // …but the server had not read its messages since: nothing is judged.
            #expect(await rig.engine.nodeState(org: rig.org, node: "web1").availability == .available)
            #expect(await rig.engine.livenessHeldBack >= 1)
            // Caught up, and the silence was real: dead.
            rig.transport.setCaughtUp(nil)
            await rig.engine.tick()
            #expect(await rig.engine.nodeState(org: rig.org, node: "web1").availability == .unavailable)
        }
    }

    @Test func aServerThatStaysBehindStillFindsDeadNodesLater() async throws {
        try await EngineRig.with { rig in
            rig.transport.setCaughtUp(rig.clock.now())
            // Held back at most 4 intervals: judged as of 30 s of silence, alive (dead after 35 s)…
            rig.clock.advance(70)
            await rig.engine.tick()
            #expect(await rig.engine.nodeState(org: rig.org, node: "web1").availability == .available)
            // …and as of 40 s, dead, though the server is still behind.
            rig.clock.advance(10)
            await rig.engine.tick()
            #expect(await rig.engine.nodeState(org: rig.org, node: "web1").availability == .unavailable)
        }
    }

    /// Rehab resends are judged at the same time: a server behind on its inbound (the node's
    /// `aborted` may be among the unread messages) does not send an abort per second per node,
    /// which would flood it with answers once it reads again (the cluster bench at 100,000
    /// agents, issue 17 point 4).
    @Test func aServerBehindItsMessagesDoesNotResendAborts() async throws {
        try await EngineRig.with(connect: false) { rig in
            await rig.say(.heartbeat, job: nil, state: .idle)
            #expect(rig.transport.types.filter { $0 == "abort" }.count == 1)
            rig.transport.setCaughtUp(rig.clock.now())
            rig.clock.advance(5)
            await rig.engine.tick()
            // Five rehab intervals, but nothing read since the abort went out: not sent again.
            #expect(rig.transport.types.filter { $0 == "abort" }.count == 1)
            // Caught up and still no answer: sent again.
            rig.transport.setCaughtUp(nil)
            await rig.engine.tick()
            #expect(rig.transport.types.filter { $0 == "abort" }.count == 2)
        }
    }
}
