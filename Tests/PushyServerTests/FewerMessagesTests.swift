import Foundation
import PushyProtocol
@testable import PushyServer
import PushyZMQ
import Testing

/// Issue 16 in the engine: a node whose agent asked for `commit_run` gets one commit that runs
/// once the job's rows are durable (three messages instead of five); heartbeats may wait on the
/// I/O thread for the next batch, nothing else does.
@Suite(.timeLimit(.minutes(1)))
struct FewerMessagesTests {
    @Test func aNodeThatAskedForCommitRunGetsOneCommitThatRuns() async throws {
        try await EngineRig.with(connect: false) { rig in
            rig.engine.setAgentFeatures(org: rig.org, node: "web1", commitRun: true)
            await rig.say(.heartbeat, job: nil, state: .idle)
            await rig.say(.aborted, job: nil)
            let before = rig.transport.types.count
            // startJob returns once the rows are durable: the commit has gone out by then.
            let snapshot = try await rig.engine.startJob(
                org: rig.org, orgGUID: String(repeating: "a", count: 32),
                request: JobRequest(command: "noop", nodes: ["web1"]), requestor: "admin")
            let sent = Array(rig.transport.messages.dropFirst(before))
            #expect(sent.map(\.type) == ["commit"])
            #expect(sent.first?.commitRun == true)
            await rig.say(.ackRun, job: snapshot.id)
            #expect(await rig.node(snapshot.id) == .running)
            await rig.say(.succeeded, job: snapshot.id)
            #expect(await rig.job(snapshot.id)?.status == .complete)
            #expect(Array(rig.transport.types.dropFirst(before)) == ["commit"], "no run")
        }
    }

    /// A job whose quorum needs the vote keeps the reference exchange even for such a node.
    @Test func aJobWhoseQuorumNeedsTheVoteKeepsTheReferenceExchange() async throws {
        try await EngineRig.with(connect: false) { rig in
            rig.engine.setAgentFeatures(org: rig.org, node: "web1", commitRun: true)
            await rig.say(.heartbeat, job: nil, state: .idle)
            await rig.say(.aborted, job: nil)
            let before = rig.transport.types.count
            var request = JobRequest(command: "noop", nodes: ["web1", "web2"])
            request.quorum = .count(2)
            _ = try await rig.engine.startJob(
                org: rig.org, orgGUID: String(repeating: "a", count: 32), request: request, requestor: "admin")
            let sent = Array(rig.transport.messages.dropFirst(before))
            #expect(sent.map(\.type).first == "commit")
            #expect(sent.first?.commitRun == nil)
        }
    }

    @Test func onlyHeartbeatsMayWaitForTheNextBatch() {
        func message(_ type: AgentMessageType, job: String? = nil, state: AgentJobState? = nil) -> RouterMessage {
            let m = AgentMessage(node: "web1", client: "web1", org: "acme", type: type, sequence: 7, timestamp: Date(),
                                 incarnationId: "i", jobId: job, jobState: state)
            return RouterMessage(identity: [1], frames: MessageSigner.hmacFrames(body: m.bodyBytes, key: Array(repeating: 1, count: 32)))
        }
        #expect(InboundVerifier.mayWait(message(.heartbeat, state: .idle)))
        #expect(InboundVerifier.mayWait(message(.heartbeat, job: "j", state: .running)))
        for type in AgentMessageType.allCases where type != .heartbeat {
            #expect(!InboundVerifier.mayWait(message(type, job: "j")), "\(type)")
        }
        #expect(!InboundVerifier.mayWait(RouterMessage(identity: [1], frames: [Array(#"{"type":"heartbeat"}"#.utf8)])),
                "one frame: dropped at once by the verifier, not held")
    }
}
