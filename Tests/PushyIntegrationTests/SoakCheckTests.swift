import Foundation
import Logging
import PushyAPIClient
import PushyProtocol
import PushySwarm
import Testing

/// The soak's parts: per-job plans, the rule that compares an agent's events with the server's
/// node state, and the swarm's recording, mute/unmute and restart against a real server.
@Suite(.serialized)
struct SoakCheckTests {
    @Test(.timeLimit(.minutes(1))) func planParsesAndRoundTrips() {
        let p = JobPlan(failPercent: 20, nackPercent: 10, slowPercent: 15, durationMs: 300, slowMs: 6000)
        #expect(p.command == "mix-f20-n10-s15-d300-l6000")
        #expect(JobPlan.parse(p.command) == p)
        #expect(JobPlan.parse("mix") == JobPlan())
        #expect(JobPlan.parse("mix-f5") == JobPlan(failPercent: 5))
        #expect(JobPlan.parse("noop") == nil)
        #expect(JobPlan.parse("mixer") == nil)
        #expect(JobPlan.parse("mix-q5") == nil)
        #expect(JobPlan.parse("mix-f") == nil)
    }

    @Test(.timeLimit(.minutes(1))) func planSharesHoldAndDifferPerJob() {
        let p = JobPlan(failPercent: 20, nackPercent: 10, slowPercent: 30, durationMs: 400, slowMs: 5000)
        let outcomes = (0..<10_000).map { p.outcome(jobId: "job-a", index: $0) }
        let nacks = outcomes.filter { $0 == .nack }.count
        let runs = outcomes.compactMap { if case .run(let s, let f) = $0 { (s, f) } else { nil } }
        let fails = runs.filter(\.1).count
        let slow = runs.filter { $0.0 == 5 }.count
        #expect((900...1100).contains(nacks))
        #expect((1600...2000).contains(fails))
        #expect((2500...2900).contains(slow))
        #expect(runs.allSatisfy { $0.0 == 5 || ($0.0 >= 0 && $0.0 < 0.4) })
        // The same for anyone who asks; another job picks other agents.
        #expect((0..<10_000).map { p.outcome(jobId: "job-a", index: $0) } == outcomes)
        let other = (0..<10_000).map { p.outcome(jobId: "job-b", index: $0) }
        let sameNacks = zip(outcomes, other).filter { $0 == .nack && $1 == .nack }.count
        #expect(sameNacks < 200)
    }

    /// (agent events, job status, node status, agrees)
    static let table: [(String?, JobStatus, NodeJobStatus, Bool)] = [
        ("crs", .complete, .succeeded, true),
        ("crf", .complete, .failed, true),
        ("crs", .complete, .failed, false),
        ("crf", .complete, .succeeded, false),
        ("crs", .complete, .crashed, false),
        ("n", .complete, .nacked, true),
        ("b", .quorumFailed, .nacked, true),
        ("n", .complete, .succeeded, false),
        ("c", .quorumFailed, .wasReady, true),
        ("c", .complete, .crashed, false),
        ("cr", .complete, .crashed, false),
        ("cra", .timedOut, .timedOut, true),
        ("cr", .timedOut, .timedOut, true),
        ("cra", .aborted, .aborted, true),
        ("crs", .aborted, .aborted, true),
        ("crs", .aborted, .succeeded, true),
        ("crs", .timedOut, .timedOut, false),
        ("crm", .complete, .crashed, true),
        ("cm", .complete, .unavailable, true),
        ("crk", .complete, .crashed, true),
        ("crk", .aborted, .aborted, true),
        ("crm", .timedOut, .timedOut, true),
        ("crms", .complete, .succeeded, false),
        ("crsm", .complete, .succeeded, true),
        ("crm", .complete, .succeeded, false),
        ("cx", .complete, .failed, true),
        // A second `run` while running is nacked, but the command's own result stands.
        ("crys", .complete, .succeeded, true),
        ("crys", .complete, .failed, false),
        ("cry", .timedOut, .timedOut, true),
        (nil, .complete, .unavailable, true),
        (nil, .aborted, .aborted, true),
        (nil, .complete, .crashed, false),
        (nil, .complete, .succeeded, false),
        // A heartbeat a whole interval late: the server may have taken the node for dead, or not.
        ("crl", .complete, .crashed, true),
        ("crls", .complete, .succeeded, true),
        ("crls", .complete, .crashed, true),
        ("crls", .complete, .failed, false),
        ("cl", .quorumFailed, .wasReady, true),
    ]

    @Test(.timeLimit(.minutes(1)), arguments: table.indices) func checkRule(_ row: Int) {
        let (events, job, node, agrees) = Self.table[row]
        let why = SoakCheck.mismatch(events: events, node: node, reason: "some reason", job: job)
        #expect((why == nil) == agrees, "\(events ?? "nil") in a \(job.rawValue) job as \(node.rawValue): \(why ?? "agrees")")
    }

    @Test(.timeLimit(.minutes(1))) func checkNeedsTerminalStatesAndReasons() {
        #expect(SoakCheck.mismatch(events: "cr", node: .running, reason: nil, job: .running) != nil)
        #expect(SoakCheck.mismatch(events: "cr", node: .running, reason: nil, job: .complete) != nil)
        #expect(SoakCheck.mismatch(events: "crk", node: .crashed, reason: nil, job: .complete) != nil)
        #expect(SoakCheck.mismatch(events: "n", node: .nacked, reason: "", job: .complete) != nil)
    }

    /// Every agent's record agrees with the server for a mixed job; an agent restarted mid-job
    /// and one muted mid-job end crashed, and both come back.
    @Test(.timeLimit(.minutes(2))) func swarmRecordsWhatItDidAndCanBeDisrupted() async throws {
        let c = try await TestCluster()
        var logger = Logger(label: "soak-test")
        logger.logLevel = .warning
        var config = SwarmConfiguration(orgURL: c.orgURL, count: 30, identity: .nodeKeys([try ClusterKeys.named("swarm-key-1")]))
        config.tls = c.tls
        config.prefix = "sk"
        config.recordJobs = true
        config.shardSize = 10
        let swarm = try Swarm(config, logger: logger)
        try await c.running(swarm) {
            let names = swarm.nodeNames
            try await c.eventually("all swarm agents available", timeout: 45) {
                try await c.admin.nodeStates().filter { $0.availability == .available }.count == names.count
            }
            let plan = JobPlan(failPercent: 30, nackPercent: 20, durationMs: 100)
            let id = try await c.admin.startJob(JobRequest(command: plan.command, nodes: names, quorum: .count(1)))
            let view = try await c.waitFinished(id, timeout: 45)
            let records = Dictionary(uniqueKeysWithValues: await swarm.report(job: id).map { ($0.index, $0.events) })
            let reasons = Dictionary((view.nodeReasons ?? []).map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
            #expect(view.status == .complete)
            for (status, group) in view.nodes ?? [] {
                for name in group {
                    let index = names.firstIndex(of: name)!
                    #expect(SoakCheck.mismatch(events: records[index], node: status, reason: reasons[name], job: view.status) == nil)
                    let planned: NodeJobStatus = switch plan.outcome(jobId: id, index: index) {
                    case .nack: .nacked
                    case .run(_, let fails): fails ? .failed : .succeeded
                    }
                    #expect(status == planned, "\(name)")
                }
            }
            #expect(await swarm.report(job: id).isEmpty, "a report is handed out once")

            // Three slow agents: restart one and mute one while they run.
            let slow = JobPlan(slowPercent: 100, slowMs: 4000)
            let three = Array(names.prefix(3))
            let slowId = try await c.admin.startJob(JobRequest(command: slow.command, nodes: three, runTimeout: 60))
            try await c.eventually("the slow job running on 3 nodes", timeout: 20) {
                try await c.admin.job(slowId).count(.running) == 3
            }
            #expect(await swarm.restart(index: 0))
            swarm.mute(index: 1)
            let ended = try await c.waitFinished(slowId, timeout: 30)
            let slowRecords = Dictionary(uniqueKeysWithValues: await swarm.report(job: slowId).map { ($0.index, $0.events) })
            #expect(ended.status == .complete)
            #expect(slowRecords[0] == "crk")
            #expect(slowRecords[1] == "crm")
            #expect(slowRecords[2] == "crs")
            #expect(ended.nodes?.first { $0.0 == .crashed }?.1.sorted() == [names[0], names[1]])
            #expect(ended.nodes?.first { $0.0 == .succeeded }?.1 == [names[2]])
            #expect(await swarm.restart(index: 2) == false, "an idle agent is not restarted")
            swarm.unmute(index: 1)
            try await c.eventually("the restarted and the unmuted agent available again", timeout: 30) {
                try await c.admin.nodeStates().filter { $0.availability == .available }.count == names.count
            }
            #expect(swarm.stats.restarts == 1)
        }
    }
}
