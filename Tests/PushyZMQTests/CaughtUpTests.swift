import Foundation
import Testing
@testable import PushyZMQ

/// `inboundCaughtUpAt`: the last moment every message agents sent was in hand. It follows the
/// clock while the server keeps up and stops while a delivered message is not yet handled, so
/// the engine never judges an agent's silence past what it has read (a CPU-starved server
/// declared heartbeating agents dead).
@Suite(.timeLimit(.minutes(1))) struct CaughtUpTests {
    @Test func followsTheClockOnlyWhileEveryMessageIsHandled() async throws {
        let context = try ZMQContext()
        let server = try makeServer(context)
        defer { server.shutdown() }
        let start = Date().timeIntervalSince1970
        try await waitFor("an idle server to be caught up after the start") { server.inboundCaughtUpAt > start }

        let agent = try makeAgent(context, to: server)
        defer { agent.close() }
        let inbox = Inbox(flattening: server.inbound)
        #expect(agent.send([bytes("one")]))
        #expect(await inbox.next(within: .seconds(30))?.frames == [bytes("one")])
        let firstInHand = Date().timeIntervalSince1970
        // The I/O thread goes on (it reads a second message) but the first is not handled yet.
        #expect(agent.send([bytes("two")]))
        #expect(await inbox.next(within: .seconds(30))?.frames == [bytes("two")])
        #expect(server.inboundCaughtUpAt <= firstInHand, "caught up while a message was unhandled")

        // Both handled: it follows the clock again.
        server.consumed(2)
        let handled = Date().timeIntervalSince1970
        try await waitFor("the server to be caught up once both are handled") { server.inboundCaughtUpAt > handled }
    }
}
