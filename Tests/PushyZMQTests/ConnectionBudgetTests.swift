#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing
@testable import PushyZMQ

/// The transport counts its connections with socket monitors and its ZAP handler refuses
/// handshakes past the budget, for plaintext (NULL) and CURVE clients alike, without touching
/// the connections it already has.
@Suite(.timeLimit(.minutes(3))) struct ConnectionBudgetTests {
    /// Polls until `condition` holds (generous deadline, no timing assertion).
    /// Polls `condition` for up to 60 s (10 s was seen too short for a monitor event under load).
    func eventually(_ condition: () -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(25))
        }
        return condition()
    }

    func server(_ context: ZMQContext, budget: ConnectionBudget, curve: CurveKeyPair? = nil) throws -> ZMQServerTransport {
        var options = ZMQServerTransport.Options(
            routerEndpoint: "tcp://127.0.0.1:0", pubEndpoint: "tcp://127.0.0.1:0",
            curveSecretKey: curve?.secretKey, connectionBudget: budget)
        options.screenSubscribers = true
        return try ZMQServerTransport(context: context, options: options)
    }

    @Test(arguments: [false, true])
    func secondAgentIsRefusedAndFirstKeepsWorking(curve: Bool) async throws {
        let context = try ZMQContext()
        let budget = ConnectionBudget(budget: 2)
        let serverKeys: CurveKeyPair? = curve ? try CurveKeyPair.generate() : nil
        let server = try server(context, budget: budget, curve: serverKeys)
        defer { server.shutdown() }
        let serverInbox = Inbox(flattening: server.inbound)

        let first = try makeAgent(context, to: server, curveServerKey: serverKeys?.publicKey,
                                  keys: curve ? try CurveKeyPair.generate() : nil)
        defer { first.close() }
        #expect(try await eventually { budget.snapshot.open == 2 })
        #expect(budget.snapshot.refusing)
        #expect(!budget.admitsAgent)
        // Counted is not yet admitted: wait until the DEALER's handshake is through (a message
        // arrives), else the second agent's connections, counted first, get it refused too.
        var hello: RouterMessage?
        for _ in 0..<50 where hello == nil {
            _ = first.send([bytes("hello")])
            hello = await serverInbox.next(within: .milliseconds(200))
        }
        #expect(hello?.frames == [bytes("hello")])
        while await serverInbox.next(within: .milliseconds(100)) != nil {}

        // Both of the second agent's connections are accepted, refused by ZAP and closed.
        let second = try makeAgent(context, to: server, curveServerKey: serverKeys?.publicKey,
                                   keys: curve ? try CurveKeyPair.generate() : nil)
        #expect(try await eventually { budget.snapshot.refusedTotal >= 2 && budget.snapshot.open == 2 })
        _ = second.send([bytes("second")])

        // The first agent is untouched: its message arrives, the second's does not.
        #expect(first.send([bytes("first")]))
        let got = try #require(await serverInbox.next())
        #expect(got.frames == [bytes("first")])
        #expect(await serverInbox.next(within: .seconds(1)) == nil)

        // When both leave, the count falls to zero and the server has room again.
        second.close()
        first.close()
        #expect(try await eventually { budget.snapshot.open == 0 })
        #expect(!budget.snapshot.refusing && budget.admitsAgent)
        #expect(budget.snapshot.acceptFailures == 0)
    }

    @Test func bareTCPConnectIsCountedAndReleased() async throws {
        let context = try ZMQContext()
        let budget = ConnectionBudget(budget: 10)
        let server = try server(context, budget: budget)
        defer { server.shutdown() }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(server.routerPort).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(rc == 0)
        // Counted: the total, not `open == 1`, which libzmq ends by itself when the connection
        // sends no greeting for its 30 s handshake interval (a test starved that long under load
        // missed the window).
        #expect(try await eventually { budget.snapshot.acceptedTotal == 1 })
        close(fd)
        #expect(try await eventually { budget.snapshot.open == 0 })
    }
}
