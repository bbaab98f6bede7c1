import Foundation
import Logging
import PushyAPIClient
import PushyProtocol
import PushySwarm
import Testing

/// A few hundred virtual agents against an in-process server: every one connects, becomes
/// available, runs a job, and reports the outcome its index prescribes.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct SwarmTests {
    @Test func jobOverWholeSwarmReportsEveryNode() async throws {
        let c = try await TestCluster()
        var logger = Logger(label: "swarm-test")
        logger.logLevel = .warning
        var config = SwarmConfiguration(
            orgURL: c.orgURL, count: 300,
            identity: .nodeKeys([try ClusterKeys.named("swarm-key-1"), try ClusterKeys.named("swarm-key-2")]))
        config.tls = c.tls
        config.tls = c.tls
        config.prefix = "vt"
        config.failRatio = 0.1
        config.commandSeconds = 0.05
        config.connectSplaySeconds = 0.5
        config.shardSize = 100
        let swarm = try Swarm(config, logger: logger)
        try await c.running(swarm) {
            let names = swarm.nodeNames
            try await c.eventually("all \(names.count) swarm agents available", timeout: 45) {
                let states = try await c.admin.nodeStates()
                return states.filter { $0.nodeName.hasPrefix("vt-") && $0.availability == .available }.count == names.count
            }
            let id = try await c.admin.startJob(JobRequest(command: "noop", nodes: names))
            let view = try await c.waitFinished(id, timeout: 45)
            #expect(view.status == .complete)
            let succeeded = Set(view.nodes?.first { $0.0 == .succeeded }?.1 ?? [])
            let failed = Set(view.nodes?.first { $0.0 == .failed }?.1 ?? [])
            let expectedFailed = Set((0..<names.count).filter { Swarm.isSelected(index: $0, ratio: 0.1) }.map { names[$0] })
            #expect(expectedFailed.count == 30)
            #expect(failed == expectedFailed)
            #expect(succeeded == Set(names).subtracting(expectedFailed))
            let stats = swarm.stats
            #expect(stats.runs == names.count)
            #expect(stats.badMessages == 0)
        }
    }

    @Test func selectionRatioIsExactAndSpread() {
        let picked = (0..<1000).filter { Swarm.isSelected(index: $0, ratio: 0.03) }
        #expect(picked.count == 30)
        #expect((0..<10).filter { Swarm.isSelected(index: $0, ratio: 0) }.isEmpty)
        #expect((0..<10).allSatisfy { Swarm.isSelected(index: $0, ratio: 1) })
    }
}
