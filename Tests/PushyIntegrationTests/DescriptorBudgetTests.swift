import Foundation
import PushyTestSupport
import Logging
import PushyAPIClient
import PushyProtocol
import PushySwarm
import PushyZMQ
import Testing

/// Issue 5: a server with a tiny descriptor budget (`max_agent_connections`) admits exactly the
/// agents that fit, turns the others away (config 503 + Retry-After, ZAP refusals), reports it
/// in `/pushy/_status`, keeps serving the agents it has, and lets a waiting agent in once one leaves.
@Suite(.serialized, .timeLimit(.minutes(5))) struct DescriptorBudgetTests {
    /// `/pushy/_status`'s `connections` object.
    func connections(_ c: TestCluster) async throws -> (open: Int, budget: Int, refusing: Bool, refused: Int) {
        let s = try await c.admin.status()
        let o = try #require(s["connections"])
        return (o["open"]?.intValue ?? -1, o["budget"]?.intValue ?? -1, o["refusing"]?.boolValue ?? false,
                o["refused_total"]?.intValue ?? -1)
    }

    func available(_ c: TestCluster, prefix: String = "") async throws -> Set<String> {
        Set(try await c.admin.nodeStates().filter { $0.nodeName.hasPrefix(prefix) && $0.availability == .available }.map(\.nodeName))
    }

    @Test func agentsPastTheBudgetWaitAndGetInWhenOneLeaves() async throws {
        let c = try await TestCluster { $0.maxAgentConnections = 4 }  // two agents
        do {
            try await c.startAgent("in1")
            try await c.waitAvailable(["in1"])
            try await c.startAgent("in2")
            try await c.waitAvailable(["in2"])
            try await c.eventually("4 of 4 connections, refusing") {
                let s = try await connections(c)
                return s.open == 4 && s.budget == 4 && s.refusing
            }

            // A third node's config request is refused with a clear, actionable 503.
            try await c.createNode("late")
            let late = try PushyRESTClient(orgURL: c.orgURL, userId: "late", key: c.keys["late"]!.0, tls: c.tls)
            let ccpk = try CurveKeyPair.generate().publicKey
            do {
                _ = try await late.config(node: "late", ccpk: ccpk)
                Issue.record("config was served past the connection budget")
            } catch {
                #expect(error.status == 503)
                #expect(error.retryAfter == 10)
                #expect("\(error)".contains("connection budget (4 of 4"))
                #expect("\(error)".contains("LimitNOFILE"))
            }

            // `pushy status` says so in words.
            let text = try await ProcessRun(c.cliProcess(["status"]), name: "pushy status").wait().stdoutText
            #expect(text.contains("connections: 4 open of 4 budgeted (2 per agent) — at budget, refusing new agents"))
            #expect(text.contains("libzmq: \(ZMQLibrary.version) (\(ZMQLibrary.isBuiltIn ? "built in" : "system library")"))
            #expect(text.contains("reliability: 0 node(s) reconciled (a lost result), 0 run(s) resent; 0 store write failure(s), 0 pending"))

            // The real agent keeps retrying; the admitted ones keep working meanwhile.
            try await c.startAgent("late")
            let id = try await c.admin.startJob(JobRequest(command: "ok", nodes: ["in1", "in2"]))
            #expect(try await c.waitFinished(id).status == .complete)
            #expect(try await available(c).isSuperset(of: ["in1", "in2"]))
            #expect(try await connections(c).open == 4)

            // One admitted agent leaves: the waiting one gets its place (Retry-After 10 s + spread).
            await c.stopAgent("in1")
            try await c.waitAvailable(["late"])
            try await c.eventually("4 of 4 connections again", timeout: 30) { try await connections(c).open == 4 }
            let id2 = try await c.admin.startJob(JobRequest(command: "ok", nodes: ["in2", "late"]))
            #expect(try await c.waitFinished(id2).status == .complete)
        } catch {
            await c.shutdown()
            throw error
        }
        await c.shutdown()
    }

    /// Five virtual agents start within 3 s against room for three: whoever is past the
    /// budget is refused (ZAP if its config came before the server filled, 503 after) and
    /// keeps retrying — and exactly three end up available.
    @Test func swarmOvershootSettlesAtTheBudget() async throws {
        let c = try await TestCluster { $0.maxAgentConnections = 6 }
        var logger = Logger(label: "swarm-budget-test")
        logger.logLevel = .critical
        var config = SwarmConfiguration(orgURL: c.orgURL, count: 5, identity: .nodeKeys([try ClusterKeys.named("swarm-key-1")]))
        config.tls = c.tls
        config.prefix = "bs"
        // Spread over 3 s: a burst of simultaneous handshakes can also refuse an admitted
        // agent whose handshake was still running (ConnectionBudgetTests covers the burst).
        config.connectSplaySeconds = 3
        let swarm = try Swarm(config, logger: logger)
        try await c.running(swarm) {
            var last = ""
            do {
                try await c.eventually("3 of 5 swarm agents available at 6 of 6 connections", timeout: 90) {
                    let s = try await connections(c)
                    let up = try await available(c, prefix: "bs-")
                    last = "available \(up.sorted()), connections \(s), swarm \(swarm.stats)"
                    return up.count == 3 && s.open == 6 && s.refusing
                }
            } catch {
                Issue.record("last seen: \(last)")
                throw error
            }
            try await c.eventually("a refused swarm agent was answered 503", timeout: 60) { swarm.stats.unavailable > 0 }
        }
    }
}
