#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import Testing
@testable import PushyZMQ

@Suite(.timeLimit(.minutes(3))) struct CurveTests {
    @Test func allowedClientExchangesMessages() async throws {
        let context = try ZMQContext()
        let serverKeys = try CurveKeyPair.generate()
        let clientKeys = try CurveKeyPair.generate()
        let allowed = try #require(Z85.decode(clientKeys.publicKey))
        let server = try makeServer(context, curveSecretKey: serverKeys.secretKey,
                                    zapAuthorizer: { $0 == allowed })
        defer { server.shutdown() }
        let agent = try makeAgent(context, to: server, curveServerKey: serverKeys.publicKey, keys: clientKeys)
        defer { agent.close() }
        let serverInbox = Inbox(flattening: server.inbound)
        let agentInbox = Inbox(agent.inbound)

        agent.send([bytes("header"), bytes("body")])
        let request = try #require(await serverInbox.next())
        #expect(request.frames == [bytes("header"), bytes("body")])
        server.send(to: request.identity, frames: [bytes("header"), bytes("reply")])
        #expect(await agentInbox.next(where: { $0.commandFrames != nil }) == .command([bytes("header"), bytes("reply")]))
    }

    @Test func refusedClientGetsNothingThrough() async throws {
        let context = try ZMQContext()
        let serverKeys = try CurveKeyPair.generate()
        let clientKeys = try CurveKeyPair.generate()
        let (asked, askedContinuation) = AsyncStream.makeStream(of: [UInt8].self)
        let server = try makeServer(context, curveSecretKey: serverKeys.secretKey, zapAuthorizer: { key in
            askedContinuation.yield(key)
            return false
        })
        defer { server.shutdown() }
        let agent = try makeAgent(context, to: server, curveServerKey: serverKeys.publicKey, keys: clientKeys)
        defer { agent.close() }
        let serverInbox = Inbox(flattening: server.inbound)

        agent.send([bytes("header"), bytes("body")])
        // The handshake really reached the ZAP handler with this client's key...
        #expect(await Inbox(asked).next() == Z85.decode(clientKeys.publicKey))
        // ...and was refused, so nothing arrives (negative check, short bounded wait).
        #expect(await serverInbox.next(within: .seconds(1)) == nil)
        #expect(server.counters.received == 0)
    }

    @Test func plaintextClientCannotReachCurveServer() async throws {
        let context = try ZMQContext()
        let serverKeys = try CurveKeyPair.generate()
        let server = try makeServer(context, curveSecretKey: serverKeys.secretKey)
        defer { server.shutdown() }
        let agent = try makeAgent(context, to: server)
        defer { agent.close() }
        let serverInbox = Inbox(flattening: server.inbound)
        agent.send([bytes("plain")])
        #expect(await serverInbox.next(within: .seconds(1)) == nil)
    }

    @Test func optionsAreValidated() throws {
        let context = try ZMQContext()
        let keys = try CurveKeyPair.generate()
        #expect(throws: ZMQError.self) {
            _ = try makeServer(context, zapAuthorizer: { _ in true })  // ZAP without CURVE
        }
        #expect(throws: ZMQError.self) {
            _ = try makeServer(context, curveSecretKey: "not a key")
        }
        // One ZAP handler per context.
        let first = try makeServer(context, curveSecretKey: keys.secretKey, zapAuthorizer: { _ in true })
        defer { first.shutdown() }
        let error = #expect(throws: ZMQError.self) {
            _ = try makeServer(context, curveSecretKey: keys.secretKey, zapAuthorizer: { _ in true })
        }
        #expect(error?.code == EADDRINUSE)
    }
}
