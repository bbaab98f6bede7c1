import Foundation
import PushyAPIClient
import PushyProtocol
import Testing

/// One server and real agents on loopback run real commands (issue 2's end-to-end list).
@Suite(.serialized, .timeLimit(.minutes(5))) struct EndToEndTests {
    @Test func quorumMetOnNodesFoundBySearch() async throws {
        let c = try await TestCluster()
        defer { Task { await c.shutdown() } }
        for n in ["web1", "web2", "web3"] { try await c.startAgent(n, roles: ["webapp"]) }
        try await c.startAgent("db1", roles: ["database"])
        try await c.waitAvailable(["web1", "web2", "web3", "db1"])

        let rows = try await c.admin.searchNodes("role:webapp")
        let names = rows.compactMap { $0["name"]?.stringValue }.sorted()
        #expect(names == ["web1", "web2", "web3"])

        let id = try await c.admin.startJob(JobRequest(command: "ok", nodes: names, quorum: .percent(90)))
        // Long poll (Pushy extension): the answer comes when the job has ended.
        let ended = try await c.admin.job(id, nodes: false, wait: 25)
        #expect(ended.status == .complete)
        await #expect(throws: PushyClientError.self) { _ = try await c.admin.send("GET", "pushy/jobs/\(id)?wait=soon") }
        let job = try await c.waitFinished(id)
        #expect(job.status == .complete)
        #expect(job.nodes?.first(where: { $0.0 == .succeeded })?.1.sorted() == ["web1", "web2", "web3"])
        #expect(job.nodeCount == 3)
        // The cheap poll (Pushy extension): same job, no per-node groups.
        let summary = try await c.admin.job(id, nodes: false)
        #expect(summary.status == .complete && summary.id == id && summary.nodes == nil)
        await c.shutdown()
    }

    @Test func nodeThatIsNotWhitelistedNacksAndQuorumFails() async throws {
        let c = try await TestCluster()
        try await c.startAgent("a1")
        try await c.startAgent("a2")
        try await c.startAgent("strict", whitelist: ["other=/bin/true"])
        try await c.waitAvailable(["a1", "a2", "strict"])
        let id = try await c.admin.startJob(JobRequest(command: "ok", nodes: ["a1", "a2", "strict"]))
        let job = try await c.waitFinished(id)
        #expect(job.status == .quorumFailed)
        #expect(job.nodes?.first(where: { $0.0 == .nacked })?.1 == ["strict"])
        #expect(job.nodes?.first(where: { $0.0 == .wasReady })?.1.sorted() == ["a1", "a2"])
        #expect(job.nodeReasons?.first(where: { $0.0 == "strict" })?.1.contains("not whitelisted") == true)
        await c.shutdown()
    }

    @Test func offlineNodeIsUnavailableAndOthersStillRun() async throws {
        let c = try await TestCluster()
        try await c.startAgent("up1")
        try await c.startAgent("up2")
        try await c.createNode("down1")
        try await c.waitAvailable(["up1", "up2"])
        let id = try await c.admin.startJob(JobRequest(command: "ok", nodes: ["up1", "up2", "down1"], quorum: .count(2)))
        let job = try await c.waitFinished(id)
        #expect(job.status == .complete)
        #expect(job.nodes?.first(where: { $0.0 == .unavailable })?.1 == ["down1"])
        #expect(job.count(.succeeded) == 2)
        let state = try await c.admin.nodeState("down1")
        #expect(state.status == .offline)
        await c.shutdown()
    }

    @Test func failingCommandIsFailed() async throws {
        let c = try await TestCluster()
        try await c.startAgent("f1")
        try await c.startAgent("f2")
        try await c.waitAvailable(["f1", "f2"])
        let id = try await c.admin.startJob(JobRequest(command: "fail", nodes: ["f1", "f2"]))
        let job = try await c.waitFinished(id)
        #expect(job.status == .complete)
        #expect(job.count(.failed) == 2)
        await c.shutdown()
    }

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

    @Test func badInputGetsClearErrors() async throws {
        let c = try await TestCluster()
        try await c.createNode("n1")
        func status(_ json: JSONValue) async -> (Int, String) {
            do {
                _ = try await c.admin.send("POST", "pushy/jobs", json: json)
                return (200, "")
            } catch {
                if case .http(let s, let m, _) = error { return (s, m) }
                return (0, "\(error)")
            }
        }
        var r = await status(["command": "ok", "nodes": []])
        #expect(r.0 == 400 && r.1.contains("at least one node"))
        r = await status(["command": "ok", "nodes": ["nope"]])
        #expect(r.0 == 400 && r.1.contains("unknown node"))
        r = await status(["command": "ok", "nodes": ["n1"], "bogus": 1])
        #expect(r.0 == 400 && r.1.contains("invalid key"))
        r = await status(["command": 5, "nodes": ["n1"]])
        #expect(r.0 == 400 && r.1.contains("command"))
        do {
            _ = try await c.admin.searchNodes("role:(web")
            Issue.record("expected a 400")
        } catch {
            #expect(error.status == 400)
            #expect(error.description.contains("position"))
        }
        let unreachable = try PushyRESTClient(orgURL: "http://127.0.0.1:1/organizations/pushy", userId: "admin",
                                              key: try RSAPrivateKey.generate())
        do {
            _ = try await unreachable.nodeStates()
            Issue.record("expected unreachable")
        } catch {
            #expect(error.description.contains("http://127.0.0.1:1/organizations/pushy"))
        }
        await c.shutdown()
    }
}
