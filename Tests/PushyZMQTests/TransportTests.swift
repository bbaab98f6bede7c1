#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import Testing
@testable import PushyZMQ

@Suite(.timeLimit(.minutes(3))) struct TransportTests {
    @Test func routerDealerRoundTripKeepsEmptyFrames() async throws {
        let context = try ZMQContext()
        let server = try makeServer(context)
        defer { server.shutdown() }
        #expect(server.routerPort > 0 && server.pubPort > 0 && server.routerPort != server.pubPort)
        let agent = try makeAgent(context, to: server)
        defer { agent.close() }
        let serverInbox = Inbox(flattening: server.inbound)
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

    @Test func slowConsumerPausesReadingInsteadOfBuffering() async throws {
        let context = try ZMQContext()
        var options = ZMQServerTransport.Options(routerEndpoint: "tcp://127.0.0.1:0", pubEndpoint: "tcp://127.0.0.1:0")
        options.inboundLimit = 5
        options.receiveBatchLimit = 2
        let server = try ZMQServerTransport(context: context, options: options)
        defer { server.shutdown() }
        // A DEALER that may queue all 50 (an agent's normally holds 3).
        var agentOptions = ZMQAgentTransport.Options(subEndpoint: server.pubEndpoint, dealerEndpoint: server.routerEndpoint)
        agentOptions.sendHighWaterMark = 100
        let agent = try ZMQAgentTransport(context: context, options: agentOptions)
        defer { agent.close() }
        let inbox = Inbox(flattening: server.inbound)
        for i in 0..<50 { #expect(agent.send([bytes("m\(i)")])) }

        var got: [RouterMessage] = []
        for _ in 0..<5 { got.append(try #require(await inbox.next())) }
        // Generous: on a loaded machine 50 messages through a 5-message window took over 10 s.
        let deadline = ContinuousClock.now + .seconds(60)
        while server.counters.backPressurePauses == 0 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        // Nothing is handled yet, so the I/O thread stopped reading one batch past the limit.
        #expect(server.counters.backPressurePauses >= 1)
        #expect(server.counters.received <= 6)

        // Reporting messages handled lets the rest in, in order, nothing dropped.
        var reported = 0
        while got.count < 50 && ContinuousClock.now < deadline {
            let delivered = server.counters.received
            server.consumed(delivered - reported)
            reported = delivered
            if let m = await inbox.next(within: .milliseconds(200)) { got.append(m) }
        }
        #expect(got.map(\.frames) == (0..<50).map { [bytes("m\($0)")] })
        #expect(server.counters.inboundDropped == 0 && agent.counters.sendFailures == 0)
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
        // Bounded but generous: on a loaded machine the subscription took over 10 s to arrive.
        let deadline = ContinuousClock.now + .seconds(60)
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
        let serverInbox = Inbox(flattening: server.inbound)
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
            for await batch in server.inbound {
                for message in batch { server.send(to: message.identity, frames: [bytes("ok")] + message.frames) }
                server.consumed(batch.count)
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
        let inbox = Inbox(flattening: server.inbound)
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
        // Heartbeats are best effort: refused ones are dropped and reported (job messages wait:
        // AgentDeliveryTests).
        for index in 0..<5 { agent.send([bytes("hb \(index)")], delivery: .bestEffort) }
        let failure = await Inbox(failures).next()
        #expect(failure?.code == EAGAIN)
    }
}
