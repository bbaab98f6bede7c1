import Foundation
import PushyPostgresTestSupport
import PushyTestSupport
import Testing

/// `pushy-bench cluster` (issue 17 point 4) at a tiny size through the real binaries: two
/// servers on one PostgreSQL database, 200 virtual agents listing both, the jobs, one server
/// SIGKILLed and its agents on the other. The bench's own checks (every agent available, every
/// job complete with every node's result, the failover) must hold; no timing is asserted, so the
/// bench cannot rot unnoticed.
@Suite(.serialized, .timeLimit(.minutes(3)),
       .enabled(if: TestPostgres.enabled, Comment(rawValue: TestPostgres.skipReason)))
struct ClusterBenchTests {
    @Test func theClusterBenchRunsAtATinySize() async throws {
        try await TestPostgres.withDatabase { url in
            let bin = URL(fileURLWithPath: TestCluster.binary("pushy-bench")).deletingLastPathComponent().path
            let args = ["cluster", "--agents", "200", "--servers", "2", "--quick", "--interval", "1", "--lease", "6",
                        "--idle-seconds", "1", "--job-runs", "1", "--small-job", "10", "--no-write",
                        "--postgres", url.text(showingPassword: true), "--bin", bin]
            let run = try ProcessRun(Command(TestCluster.binary("pushy-bench"), args), name: "pushy-bench cluster")
            let out = await run.wait(within: .seconds(150))
            let text = out.stdoutText
            #expect(out.status == 0, "\(text)\n\(out.stderrText)")
            #expect(text.contains("all 200 available"), "\(text)")
            #expect(text.contains("all-node job 1:") && text.contains("10-node job 1:"), "\(text)")
            #expect(text.contains("failover: all "), "\(text)")
            #expect(text.contains("all-node job after the failover:"), "\(text)")
            #expect(!text.contains("Checks that failed"), "\(text)")
        }
    }
}
