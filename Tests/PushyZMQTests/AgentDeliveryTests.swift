import Testing
@testable import PushyZMQ

/// The agent's DEALER holds 3 messages (spec 4.1). A job's last messages (final output chunks,
/// then `succeeded`) leave in one burst; libzmq refuses the ones past the high-water mark with
/// `EAGAIN`, and the transport used to count and drop them: the job never ended (issue 11).
/// With nothing bound at the other end yet the refusal is deterministic: exactly 3 fit. (In-process
/// endpoints: a TCP port released for the server to bind later could be taken by a parallel test.)
@Suite(.timeLimit(.minutes(1))) struct AgentDeliveryTests {
    /// A fresh pair of endpoints nothing is bound to yet.
    struct Endpoints {
        let name = "agent-delivery-\(UInt64.random(in: 0 ... .max))"
        var router: String { "inproc://\(name)-router" }
        var pub: String { "inproc://\(name)-pub" }
    }

    func agent(_ context: ZMQContext, _ e: Endpoints) throws -> ZMQAgentTransport {
        try ZMQAgentTransport(context: context, options: .init(subEndpoint: e.pub, dealerEndpoint: e.router))
    }

    /// The server coming up at last, where the agent has been trying to connect.
    func server(_ context: ZMQContext, _ e: Endpoints) throws -> ZMQServerTransport {
        try ZMQServerTransport(context: context, options: .init(routerEndpoint: e.router, pubEndpoint: e.pub))
    }


    @Test func guaranteedMessagesPastTheHighWaterMarkWaitAndArriveInOrder() async throws {
        let context = try ZMQContext()
        let endpoints = Endpoints()
        let agent = try agent(context, endpoints)
        defer { agent.close() }
        // Ten job messages back to back: the socket takes 3, the other 7 must wait, not vanish.
        for i in 0..<10 { #expect(agent.send([bytes("job-\(i)")])) }
        try await waitFor("the socket to refuse the 4th message") { agent.counters.deferred == 1 }
        #expect(agent.handedOver == 3)
        #expect(agent.counters.sendFailures == 0)
        try await waitFor("the other 7 to wait") { agent.backlog == 7 }

        // The server comes up: every message arrives, once, in order.
        let server = try server(context, endpoints)
        defer { server.shutdown() }
        let inbox = Inbox(flattening: server.inbound)
        var got: [[[UInt8]]] = []
        for _ in 0..<10 {
            guard let m = await inbox.next(within: .seconds(30)) else { break }
            got.append(m.frames)
        }
        #expect(got == (0..<10).map { [bytes("job-\($0)")] })
        #expect(agent.handedOver == 10)
        #expect(agent.counters.sendFailures == 0)
        let extra = await inbox.next(within: .milliseconds(100))
        #expect(extra?.frames == nil, "a message arrived twice")
    }

    @Test func bestEffortMessagesRefusedAreDroppedAndCountedNotQueued() async throws {
        let context = try ZMQContext()
        let endpoints = Endpoints()
        let agent = try agent(context, endpoints)
        defer { agent.close() }
        for i in 0..<5 { #expect(agent.send([bytes("beat-\(i)")], delivery: .bestEffort)) }
        try await waitFor("two heartbeats to be refused") { agent.counters.sendFailures == 2 }
        #expect(agent.counters.sent == 3)
        #expect(agent.backlog == 0)
        #expect(agent.handedOver == 0, "heartbeats are not guaranteed messages")
    }

    @Test func closeLeavesUnsentGuaranteedMessagesCountable() async throws {
        let context = try ZMQContext()
        let endpoints = Endpoints()
        let agent = try agent(context, endpoints)
        for i in 0..<6 { agent.send([bytes("job-\(i)")]) }
        try await waitFor("the 4th message to be refused") { agent.counters.deferred == 1 }
        agent.close()
        // The caller sent 6 and sees 3 handed over: messages 4-6 are the ones to send again.
        #expect(agent.handedOver == 3)
        #expect(!agent.send([bytes("late")]), "a closed transport takes nothing")
    }

    @Test func aRefusedMessageHoldsBackBestEffortOnesBehindItSoOrderHolds() async throws {
        let context = try ZMQContext()
        let endpoints = Endpoints()
        let agent = try agent(context, endpoints)
        defer { agent.close() }
        for i in 0..<4 { agent.send([bytes("job-\(i)")]) }
        agent.send([bytes("beat")], delivery: .bestEffort)
        agent.send([bytes("job-4")])
        try await waitFor("the 4th message to be refused") { agent.counters.deferred == 1 }
        // The I/O thread may take the last two in a later turn: wait for all three to be queued.
        try await waitFor("job-3, the heartbeat and job-4 to wait") { agent.backlog == 3 }

        let server = try server(context, endpoints)
        defer { server.shutdown() }
        let inbox = Inbox(flattening: server.inbound)
        var got: [String] = []
        while got.count < 6, let m = await inbox.next(within: .seconds(30)) {
            got.append(String(decoding: m.frames[0], as: UTF8.self))
        }
        // The heartbeat waited behind job-3; whether the socket then took it or refused it,
        // nothing overtook a job message.
        let jobs = got.filter { $0.hasPrefix("job-") }
        #expect(jobs == (0..<5).map { "job-\($0)" })
        #expect(got.firstIndex(of: "beat").map { $0 > got.firstIndex(of: "job-3")! } ?? true)
    }

    /// Heartbeats behind a refused job message: only the newest waits (a burst of stale ones
    /// would say nothing), the others are dropped and counted.
    @Test func onlyTheNewestHeartbeatWaitsBehindARefusedJobMessage() async throws {
        let context = try ZMQContext()
        let agent = try agent(context, Endpoints())
        defer { agent.close() }
        for i in 0..<4 { agent.send([bytes("job-\(i)")]) }
        try await waitFor("the 4th message to be refused") { agent.counters.deferred == 1 }
        for i in 0..<3 {
            agent.send([bytes("beat-\(i)")], delivery: .bestEffort)
            try await waitFor("heartbeat \(i) to be queued") { agent.backlog == 2 && agent.counters.sendFailures == i }
        }
        #expect(agent.counters.sendFailures == 2)
        #expect(agent.backlog == 2, "job-3 and the newest heartbeat")
    }
}
