import AsyncHTTPClient
import Foundation
import PushyAPIClient
import PushyProtocol
import Testing

/// Issue 16 point 2 with real `pushy-client` processes: they ask for `commit_run`, so a
/// single-node job costs one commit (run at once), its ack_run and its result; jobs of several
/// nodes keep the reference exchange. The server's own
/// message counters (`/metrics`) show which exchange ran.
@Suite(.serialized, .timeLimit(.minutes(5))) struct CommitRunTests {
    static let token = "metrics-token-for-the-test-0123456789"

    @Test func realAgentsRunAtCommitInSingleNodeJobsOnly() async throws {
        let c = try await TestCluster { $0.metricsToken = Self.token }
        do {
            let port = try #require(await c.server.waitUntilMetricsListening())
            let url = "http://127.0.0.1:\(port)/metrics"
            try await c.startAgentProcess("real1")
            try await c.startAgentProcess("real2")
            try await c.waitAvailable(["real1", "real2"])
            func counts() async throws -> (commit: Double, run: Double, ackCommit: Double, ackRun: Double, results: Double) {
                let s = try await MetricsTests.scrape(HTTPClient.shared, url).samples
                func v(_ key: String) -> Double { s[key] ?? 0 }
                return (v("pushy_messages_sent_total{type=\"commit\"}"), v("pushy_messages_sent_total{type=\"run\"}"),
                        v("pushy_messages_received_total{type=\"ack_commit\"}"),
                        v("pushy_messages_received_total{type=\"ack_run\"}"),
                        v("pushy_messages_received_total{type=\"succeeded\"}"))
            }

            // One node (quorum 1): commit with commit_run, ack_run, succeeded.
            var before = try await counts()
            let single = try await c.admin.startJob(JobRequest(command: "ok", nodes: ["real1"]))
            var job = try await c.waitFinished(single)
            #expect(job.status == .complete)
            #expect(job.count(.succeeded) == 1)
            var after = try await counts()
            #expect(after.commit - before.commit == 1)
            #expect(after.run - before.run == 0)
            #expect(after.ackCommit - before.ackCommit == 0)
            #expect(after.ackRun - before.ackRun == 1)
            #expect(after.results - before.results == 1)

            // Both nodes, quorum 2 (the default: all): the vote decides, the reference exchange runs.
            before = after
            let voted = try await c.admin.startJob(JobRequest(command: "ok", nodes: ["real1", "real2"]))
            job = try await c.waitFinished(voted)
            #expect(job.status == .complete)
            #expect(job.count(.succeeded) == 2)
            after = try await counts()
            #expect(after.commit - before.commit == 2)
            #expect(after.run - before.run == 2)
            #expect(after.ackCommit - before.ackCommit == 2)
            #expect(after.ackRun - before.ackRun == 2)

            // Both nodes, quorum 1: still the reference exchange. commit_run is offered for
            // single-node jobs only, so that the feed of a job of several nodes keeps the
            // reference order (every vote and quorum_succeeded before any run_start).
            before = after
            var request = JobRequest(command: "fail", nodes: ["real1", "real2"])
            request.quorum = .count(1)
            let anyOne = try await c.admin.startJob(request)
            job = try await c.waitFinished(anyOne)
            #expect(job.status == .complete)
            #expect(job.count(.failed) == 2)
            after = try await counts()
            #expect(after.commit - before.commit == 2)
            #expect(after.run - before.run == 2)
            #expect(after.ackCommit - before.ackCommit == 2)
            #expect(after.ackRun - before.ackRun == 2)

            // Single-node jobs, one after another: each one commit that runs.
            before = after
            for _ in 0..<3 {
                let one = try await c.admin.startJob(JobRequest(command: "ok", nodes: ["real2"]))
                #expect(try await c.waitFinished(one).count(.succeeded) == 1)
            }
            after = try await counts()
            #expect(after.commit - before.commit == 3)
            #expect(after.run - before.run == 0)
        } catch {
            await c.shutdown()
            throw error
        }
        await c.shutdown()
    }
}
