import Foundation
import PushyProtocol
@testable import PushyServer
import Testing

/// Jobs through the REST API at router level, with agent stand-ins running the agent's job
/// runner: quorum, whitelist nacks, offline nodes, failures, the cheap poll and the long poll,
/// and validation errors. (Real agents and processes: EndToEndTests, AgentJobTests, CLI tests.)
///
/// Two minutes: each test takes a few seconds alone, ≈ 30 s beside every other suite in a full
/// `swift test` on a loaded two-core machine.
@Suite(.timeLimit(.minutes(2))) struct JobAPITests {
    @Test func quorumMetOnNodesFoundBySearch() async throws {
        try await RouterRig.run { rig in
            for n in ["web1", "web2", "web3"] { try await rig.startAgent(n, roles: ["webapp"]) }
            try await rig.startAgent("db1", roles: ["database"])

            let rows = try await rig.admin.searchNodes("role:webapp")
            let names = rows.compactMap { $0["name"]?.stringValue }.sorted()
            #expect(names == ["web1", "web2", "web3"])

            let id = try await rig.admin.startJob(JobRequest(command: "ok", nodes: names, quorum: .percent(90)))
            // Long poll (Pushy extension): the answer comes when the job has ended.
            let ended = try await rig.admin.job(id, nodes: false, wait: 25)
            #expect(ended.status == .complete)
            #expect(await statusOf { _ = try await rig.admin.ok("GET", "pushy/jobs/\(id)?wait=soon") } == 400)
            let job = try await rig.admin.job(id)
            #expect(job.status == .complete)
            #expect(job.nodes?.first(where: { $0.0 == .succeeded })?.1.sorted() == ["web1", "web2", "web3"])
            #expect(job.nodeCount == 3)
            // The cheap poll (Pushy extension): same job, no per-node groups.
            let summary = try await rig.admin.job(id, nodes: false)
            #expect(summary.status == .complete && summary.id == id && summary.nodes == nil)
            // db1 was not asked.
            #expect(rig.agents.runner("db1")?.jobId == nil)
        }
    }

    @Test func nodeThatIsNotWhitelistedNacksAndQuorumFails() async throws {
        try await RouterRig.run { rig in
            try await rig.startAgent("a1")
            try await rig.startAgent("a2")
            try await rig.startAgent("strict", whitelist: [("other=/bin/true", .exits(0))])
            let id = try await rig.admin.startJob(JobRequest(command: "ok", nodes: ["a1", "a2", "strict"]))
            let job = try await rig.admin.waitFinished(id)
            #expect(job.status == .quorumFailed)
            #expect(job.nodes?.first(where: { $0.0 == .nacked })?.1 == ["strict"])
            #expect(job.nodes?.first(where: { $0.0 == .wasReady })?.1.sorted() == ["a1", "a2"])
            #expect(job.nodeReasons?.first(where: { $0.0 == "strict" })?.1.contains("not whitelisted") == true)
        }
    }

    @Test func offlineNodeIsUnavailableAndOthersStillRun() async throws {
        try await RouterRig.run { rig in
            try await rig.startAgent("up1")
            try await rig.startAgent("up2")
            try await rig.createNode("down1")
            let id = try await rig.admin.startJob(JobRequest(command: "ok", nodes: ["up1", "up2", "down1"], quorum: .count(2)))
            let job = try await rig.admin.waitFinished(id)
            #expect(job.status == .complete)
            #expect(job.nodes?.first(where: { $0.0 == .unavailable })?.1 == ["down1"])
            #expect(job.count(.succeeded) == 2)
            let state = try await rig.admin.nodeState("down1")
            #expect(state.status == .offline)
        }
    }

    @Test func failingCommandIsFailed() async throws {
        try await RouterRig.run { rig in
            try await rig.startAgent("f1")
            try await rig.startAgent("f2")
            let id = try await rig.admin.startJob(JobRequest(command: "fail", nodes: ["f1", "f2"]))
            let job = try await rig.admin.waitFinished(id)
            #expect(job.status == .complete)
            #expect(job.count(.failed) == 2)
        }
    }

    @Test func badInputGetsClearErrors() async throws {
        try await RouterRig.run { rig in
            try await rig.createNode("n1")
            func status(_ json: JSONValue) async throws -> (Int, String) {
                let r = try await rig.admin.send("POST", "pushy/jobs", json: json)
                return (r.status, r.errorMessage ?? "")
            }
            var r = try await status(["command": "ok", "nodes": []])
            #expect(r.0 == 400 && r.1.contains("at least one node"))
            r = try await status(["command": "ok", "nodes": ["nope"]])
            #expect(r.0 == 400 && r.1.contains("unknown node"))
            r = try await status(["command": "ok", "nodes": ["n1"], "bogus": 1])
            #expect(r.0 == 400 && r.1.contains("invalid key"))
            r = try await status(["command": 5, "nodes": ["n1"]])
            #expect(r.0 == 400 && r.1.contains("command"))
            let search = try await rig.admin.send("GET", "search/node?q=role:(web")
            #expect(search.status == 400)
            #expect(search.errorMessage?.contains("position") == true, "\(search.text)")
        }
    }
}
