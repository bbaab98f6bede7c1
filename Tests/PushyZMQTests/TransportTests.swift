#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import Testing
@testable import PushyZMQ

@Suite struct TransportTests {
    @Test func routerDealerRoundTripKeepsEmptyFrames() async throws {
        let context = try ZMQContext()
        let server = try makeServer(context)
        defer { server.shutdown() }
        #expect(server.routerPort > 0 && server.pubPort > 0 && server.routerPort != server.pubPort)
        let agent = try makeAgent(context, to: server)
        defer { agent.close() }
        let serverInbox = Inbox(server.inbound)
        let agentInbox = Inbox(agent.inbound)

        #expect(agent.send([bytes("Version:2.0"), []]))
        let request = try #require(await serverInbox.next())
        #expect(request.frames == [bytes("Version:2.0"), []])
        #expect(!request.identity.isEmpty)

        server.send(to: request.identity, frames: [[], bytes("{\"type\":\"ack\"}")])
        let reply = try #require(await agentInbox.next(where: { $0.commandFrames != nil }))
        #expect(reply == .command([[], bytes("{\"type\":\"ack\"}")]))
        #expect(server.counters.sent == 1 && server.counters.received == 1)
    }

    @Test func publishReachesSubscriber() async throws {
        let context = try ZMQContext()
        let server = try makeServer(context)
        defer { server.shutdown() }
        let agent = try makeAgent(context, to: server)
        defer { agent.close() }
        let inbox = Inbox(agent.inbound)

        // Slow joiner: the PUB drops messages until the subscription arrives, so keep
        // publishing until one is seen (bounded by a deadline).
        let frames = [bytes("Version:2.0;SigningMethod:rsa2048_sha1"), bytes("{\"type\":\"heartbeat\"}")]
        let deadline = ContinuousClock.now + .seconds(10)
        var received: AgentInbound?
        while received == nil && ContinuousClock.now < deadline {
            server.publish(frames)
            received = await inbox.next(within: .milliseconds(100))
        }
        #expect(received == .broadcast(frames))
    }

    @Test func sendToVanishedPeerIsCountedNotFatal() async throws {
        let context = try ZMQContext()
        let server = try makeServer(context)
        defer { server.shutdown() }
        let agent = try makeAgent(context, to: server)
        defer { agent.close() }
        let serverInbox = Inbox(server.inbound)
        let agentInbox = Inbox(agent.inbound)

        agent.send([bytes("hello")])
        let request = try #require(await serverInbox.next())
        // Queue order is kept, so once the real reply arrives the bogus send was attempted.
        server.sendBatch([(identity: [0, 9, 9, 9, 9], frames: [bytes("lost")]),
                          (identity: request.identity, frames: [bytes("ok")])])
        #expect(await agentInbox.next() == .command([bytes("ok")]))
        #expect(server.counters.sendFailures == 1)
        #expect(server.counters.sent == 1)
    }

    @Test func manyDealersAllGetReplies() async throws {
        let count = 200
        let context = try ZMQContext(maxSockets: 4 * count + 64)
        let server = try makeServer(context)
        defer { server.shutdown() }
        let echo = Task {
            for await message in server.inbound {
                server.send(to: message.identity, frames: [bytes("ok")] + message.frames)
            }
        }
        defer { echo.cancel() }

        let agents = try (0..<count).map { _ in try makeAgent(context, to: server) }
        defer { agents.forEach { $0.close() } }
        let inboxes = agents.map { Inbox($0.inbound) }
        for (index, agent) in agents.enumerated() { agent.send([bytes("hb \(index)")]) }

        let answered = await withTaskGroup(of: Bool.self) { group in
            for (index, inbox) in inboxes.enumerated() {
                group.addTask {
                    await inbox.next(within: .seconds(30)) == .command([bytes("ok"), bytes("hb \(index)")])
                }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(answered == count)
    }

    @Test func shutdownIsIdempotentFinishesStreamAndFreesPort() async throws {
        let context = try ZMQContext()
        let server = try makeServer(context)
        let inbox = Inbox(server.inbound)
        let port = server.routerPort
        server.shutdown()
        server.shutdown()
        #expect(await inbox.next() == nil)
        #expect(inbox.isFinished)
        server.publish([bytes("after shutdown")])  // ignored, must not crash

        // The listening socket is closed, so the port can be bound again.
        let again = try ZMQServerTransport(context: context, options: .init(
            routerEndpoint: "tcp://127.0.0.1:\(port)", pubEndpoint: "tcp://127.0.0.1:0"))
        #expect(again.routerPort == port)
        again.shutdown()

        let agent = try makeAgent(context, to: again)
        let agentInbox = Inbox(agent.inbound)
        agent.close()
        agent.close()
        #expect(await agentInbox.next() == nil)
        #expect(agent.send([bytes("late")]) == false)
    }

    @Test func takenPortIsAClearError() throws {
        let context = try ZMQContext()
        let server = try makeServer(context)
        defer { server.shutdown() }
        let error = #expect(throws: ZMQError.self) {
            _ = try ZMQServerTransport(context: context, options: .init(
                routerEndpoint: server.routerEndpoint, pubEndpoint: "tcp://127.0.0.1:0"))
        }
        #expect(error?.code == EADDRINUSE)
        #expect(error?.message.contains(server.routerEndpoint) == true)
    }

    @Test func agentReportsSendFailureAtHighWaterMark() async throws {
        let context = try ZMQContext()
        let (failures, failureContinuation) = AsyncStream.makeStream(of: ZMQError.self)
        // Nobody ever binds this endpoint, so the DEALER's queue fills after 3 messages.
        let nowhere = "inproc://nobody-\(UInt64.random(in: 0 ... .max))"
        let agent = try ZMQAgentTransport(context: context, options: .init(
            subEndpoint: nowhere, dealerEndpoint: nowhere,
            onSendFailure: { failureContinuation.yield($0) }))
        defer { agent.close() }
        for index in 0..<5 { agent.send([bytes("hb \(index)")]) }
        let failure = await Inbox(failures).next()
        #expect(failure?.code == EAGAIN)
    }
}
