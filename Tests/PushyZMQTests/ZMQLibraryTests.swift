import Foundation
import Testing
@testable import PushyZMQ

/// The libzmq every binary links (scripts/build-libzmq.sh) and what its smaller pipe chunks
/// (4 messages) and buffers (512 bytes in, 1 KB out) must not change.
@Suite(.timeLimit(.minutes(3))) struct ZMQLibraryTests {
    /// `make` builds `.build-zmq/lib/libzmq.a` and the linker must prefer it over the system's.
    @Test func linksTheLeanBuildWhenItExists() {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let lean = root.appendingPathComponent(".build-zmq/lib/libzmq.a").path
        #expect(ZMQLibrary.version.hasPrefix("4."))
        if FileManager.default.fileExists(atPath: lean) {
            #expect(ZMQLibrary.isBuiltIn, "libzmq came from \(ZMQLibrary.sharedLibraryPath ?? "?"), not \(lean)")
            #expect(ZMQLibrary.summary == "\(ZMQLibrary.version) (built in)")
        } else {
            #expect(ZMQLibrary.sharedLibraryPath?.contains("libzmq.so") == true)
        }
    }

    /// Bodies many times the buffers, and far more messages than a 4-message pipe chunk,
    /// arrive whole and in order in both directions over CURVE.
    @Test func largeBodiesAndLongRunsCrossCurveIntact() async throws {
        let context = try ZMQContext()
        let serverKeys = try CurveKeyPair.generate()
        let clientKeys = try CurveKeyPair.generate()
        let server = try makeServer(context, curveSecretKey: serverKeys.secretKey, zapAuthorizer: { _ in true })
        defer { server.shutdown() }
        let agent = try makeAgent(context, to: server, curveServerKey: serverKeys.publicKey, keys: clientKeys)
        defer { agent.close() }
        let serverInbox = Inbox(flattening: server.inbound)
        let agentInbox = Inbox(agent.inbound)

        let sizes = [0, 1, 2047, 2048, 2049, 8192, 65_536, 300_000]
        let bodies = sizes.enumerated().map { i, n in (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) } }
        // The agent's DEALER queues at most 3 messages (spec), so it sends one at a time.
        var identity: [UInt8] = []
        for body in bodies {
            agent.send([bytes("big"), body])
            let m = try #require(await serverInbox.next())
            #expect(m.frames == [bytes("big"), body])
            identity = m.identity
        }
        for i in 0..<200 {
            agent.send([bytes("run"), bytes("\(i)")])
            let m = try #require(await serverInbox.next())
            #expect(m.frames == [bytes("run"), bytes("\(i)")])
        }
        #expect(agent.counters.sendFailures == 0)
        server.consumed(bodies.count + 200)

        // The ROUTER queues per peer: the whole run goes out at once.
        for body in bodies { server.send(to: identity, frames: [bytes("back"), body]) }
        for body in bodies {
            let reply = await agentInbox.next(where: { $0.commandFrames != nil })
            #expect(reply == .command([bytes("back"), body]))
        }
    }

    /// A burst far past the kernel's socket buffers (so writes come back partial and the
    /// engine must wait for POLLOUT; scripts/libzmq/write-first.patch) arrives whole and in
    /// order, and the idle connection then still carries single messages both ways.
    @Test func burstPastTheSocketBuffersArrivesInOrder() async throws {
        let context = try ZMQContext()
        let serverKeys = try CurveKeyPair.generate()
        let server = try makeServer(context, curveSecretKey: serverKeys.secretKey, zapAuthorizer: { _ in true })
        defer { server.shutdown() }
        let agent = try makeAgent(context, to: server, curveServerKey: serverKeys.publicKey, keys: try CurveKeyPair.generate())
        defer { agent.close() }
        let serverInbox = Inbox(flattening: server.inbound)
        let agentInbox = Inbox(agent.inbound)

        agent.send([bytes("hello")])
        let identity = try #require(await serverInbox.next()).identity
        server.consumed(1)
        let chunk = 200_000, count = 150  // 30 MB
        for i in 0..<count {
            var body = [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: chunk)
            body[0] = UInt8(i / 256)
            body[1] = UInt8(i % 256)
            server.send(to: identity, frames: [bytes("burst"), body])
        }
        for i in 0..<count {
            let reply = await agentInbox.next(where: { $0.commandFrames != nil })
            guard case .command(let frames) = reply, frames.count == 2, frames[1].count == chunk else {
                Issue.record("message \(i) missing or wrong: \(String(describing: reply))")
                return
            }
            #expect(Int(frames[1][0]) * 256 + Int(frames[1][1]) == i)
            #expect(frames[1][2] == UInt8(truncatingIfNeeded: i))
        }
        #expect(server.counters.sendFailures == 0)
        for i in 0..<20 {
            server.send(to: identity, frames: [bytes("one"), bytes("\(i)")])
            #expect(await agentInbox.next(where: { $0.commandFrames != nil }) == .command([bytes("one"), bytes("\(i)")]))
            agent.send([bytes("one"), bytes("\(i)")])
            #expect(try #require(await serverInbox.next()).frames == [bytes("one"), bytes("\(i)")])
            server.consumed(1)
        }
    }

    /// A frame over `maxFrameSize` never reaches the server: libzmq drops the peer before
    /// buffering it; another agent, connected all along, is served as before, and so is the
    /// sender's next connection. (The same DEALER's reconnect is not used: whether libzmq puts
    /// a half-written message back in its pipe for the next connection is its own business, and
    /// on a loaded machine it sometimes did, dropping the peer again.)
    @Test func frameOverTheLimitDisconnectsThePeerOnly() async throws {
        let context = try ZMQContext()
        var options = ZMQServerTransport.Options(routerEndpoint: "tcp://127.0.0.1:0", pubEndpoint: "tcp://127.0.0.1:0")
        options.maxFrameSize = 4096
        let server = try ZMQServerTransport(context: context, options: options)
        defer { server.shutdown() }
        let inbox = Inbox(flattening: server.inbound)
        let other = try makeAgent(context, to: server)
        defer { other.close() }
        other.send([bytes("hello")])
        #expect(await inbox.next()?.frames == [bytes("hello")])

        let agent = try makeAgent(context, to: server)
        agent.send([bytes("big"), [UInt8](repeating: 7, count: 100_000)])
        // The other agent goes on while the server refuses the big frame.
        other.send([bytes("small"), bytes("from the other agent")])
        #expect(await inbox.next()?.frames == [bytes("small"), bytes("from the other agent")])
        agent.close()
        // The sender's next connection works.
        let again = try makeAgent(context, to: server)
        defer { again.close() }
        again.send([bytes("small"), bytes("after")])
        #expect(await inbox.next()?.frames == [bytes("small"), bytes("after")])
        #expect(await inbox.next(within: .milliseconds(200)) == nil, "the big frame reached the server")
    }
}
