import Foundation
import PushyAPIClient
import PushyProtocol
import PushyTestSupport
import Testing

/// One server and real agents on loopback: what needs real processes and a real restart (issue
/// 2's end-to-end list). Quorum, search, whitelist nacks, offline nodes, failures and bad input
/// are checked through the REST API at router level (`JobAPITests` in PushyServerTests); real
/// jobs on real agents run in AgentJobTests, CLITests, CLIJobTests and SecureClusterTests.
@Suite(.serialized, .timeLimit(.minutes(5))) struct EndToEndTests {
    @Test func agentKilledMidRunIsNoticed() async throws {
        let c = try await TestCluster()
        try await c.startAgentProcess("victim")
        try await c.startAgent("survivor")
        try await c.waitAvailable(["victim", "survivor"])
        let id = try await c.admin.startJob(JobRequest(command: "sleep", nodes: ["victim", "survivor"], runTimeout: 120))
        try await c.eventually("both nodes running") { try await c.admin.job(id).count(.running) == 2 }
        kill(c.processes["victim"]!.processIdentifier, SIGKILL)
        try await c.eventually("victim marked crashed") {
            try await c.admin.job(id).nodes?.first(where: { $0.0 == .crashed })?.1 == ["victim"]
        }
        let state = try await c.admin.nodeState("victim")
        #expect(state.status == .offline)
        _ = try await c.admin.abortJob(id)
        await c.shutdown()
    }

    @Test func serverRestartMarksUnfinishedJobCrashed() async throws {
        let c = try await TestCluster()
        try await c.startAgent("r1")
        try await c.waitAvailable(["r1"])
        let id = try await c.admin.startJob(JobRequest(command: "sleep", nodes: ["r1"], runTimeout: 120))
        try await c.eventually("job running") { try await c.admin.job(id).status == .running }
        await c.stopServer()
        try await c.startServer()
        let job = try await c.admin.job(id)
        #expect(job.status == .crashed)
        #expect(job.count(.crashed) == 1)
        #expect(job.statusReason?.contains("restarted") == true)
        await c.shutdown()
    }

    /// The REST client names the URL it could not reach (no server needed). The job and search
    /// validation errors are checked at router level (`JobAPITests`, `BadRequestTests`).
    @Test func anUnreachableServerIsNamedInTheError() async throws {
        let unreachable = try PushyRESTClient(orgURL: "http://127.0.0.1:1/organizations/pushy", userId: "admin",
                                              key: try KeysByName.unused())
        do {
            _ = try await unreachable.nodeStates()
            Issue.record("expected unreachable")
        } catch {
            #expect(error.description.contains("http://127.0.0.1:1/organizations/pushy"))
        }
    }
}
