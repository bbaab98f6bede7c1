import Foundation
import PushyProtocol
@testable import PushyServer
import PushySwarm
import PushyZMQ
import Testing

/// The floor (issue 16) sends frames of the sizes `FloorTraffic` computes; these are the sizes
/// the engine really sends for a bench job (`noop`, default run timeout) and its broadcast, up to
/// the width of the sequence number (the floor assumes two digits).
@Suite(.timeLimit(.minutes(1)))
struct FloorTrafficTests {
    /// `floor` minus the difference between the floor's two sequence digits and `body`'s.
    static func expected(_ floor: Int, for body: [UInt8]) throws -> Int {
        let sequence = try ServerMessage.parse(body).sequence
        return floor - (2 - String(sequence).count)
    }

    @Test func commitRunAndBroadcastAreTheSizesTheFloorSends() async throws {
        let floor = try FloorTraffic.pushyFrames(nodeName: "web1", org: EngineRig.org)
        try await EngineRig.with { rig in
            _ = try await rig.runningJob()
            await rig.engine.broadcastHeartbeat(now: Date().timeIntervalSince1970)
            let byType = Dictionary(rig.transport.sentFrames.map { ((try? ServerMessage.parse($0[1]))?.type ?? "?", $0) },
                                    uniquingKeysWith: { first, _ in first })
            let commit = try #require(byType["commit"])
            let run = try #require(byType["run"])
            let broadcast = try #require(rig.transport.publishedFrames.last)
            let bodies = (commit: try Self.expected(floor.commit.body, for: commit[1]),
                          run: try Self.expected(floor.run.body, for: run[1]),
                          broadcast: try Self.expected(floor.broadcast.body, for: broadcast[1]))
            #expect(commit[0].count == floor.commit.header)
            #expect(commit[1].count == bodies.commit)
            #expect(run[0].count == floor.run.header)
            #expect(run[1].count == bodies.run)
            #expect(broadcast[0].count == floor.broadcast.header)
            #expect(broadcast[1].count == bodies.broadcast)
        }
    }

    /// The single-node job of the bench runs on agents that asked for `commit_run` (issue 16):
    /// one commit that runs, of the size the floor's commit_run has.
    @Test func commitRunIsTheSizeTheFloorSends() async throws {
        let floor = try FloorTraffic.pushyFrames(nodeName: "web1", org: EngineRig.org)
        try await EngineRig.with(connect: false) { rig in
            rig.engine.setAgentFeatures(org: rig.org, node: "web1", commitRun: true)
            await rig.say(.heartbeat, job: nil, state: .idle)
            await rig.say(.aborted, job: nil)
            _ = try await rig.engine.startJob(org: rig.org, orgGUID: String(repeating: "a", count: 32),
                                              request: JobRequest(command: "noop", nodes: ["web1"]), requestor: "admin")
            let commit = try #require(rig.transport.sentFrames.last)
            #expect(try ServerMessage.parse(commit[1]).commitRun == true)
            #expect(commit[0].count == floor.commitRun.header)
            #expect(commit[1].count == (try Self.expected(floor.commitRun.body, for: commit[1])))
        }
    }
}
