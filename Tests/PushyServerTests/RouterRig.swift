import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PushyProtocol
@testable import PushyServer
import PushyStore
import PushyTestSupport
import PushyZMQ
import Synchronization
import Testing

/// The server's REST API at router level: the real `PushyAPI.router()` over an in-memory store
/// and a `CommandEngine` whose transport is the recording one (`EngineRig`), with in-memory
/// agents (`AgentStandIns`) answering it. Requests go through HummingbirdTesting's router
/// client, signed as real clients sign them: no sockets, no disk, no processes.
///
/// The store is seeded as `pushy-server init` seeds it (org `pushy`, superuser `admin` in
/// `admins`) and the engine configured as `TestCluster` configures it, except that its clock
/// moves only when a test says so (`advance`). `run` stops the agents and the store writer
/// on every path.
final class RouterRig: Sendable {
    static let org = "pushy"
    let parts: EngineRig
    let agents: AgentStandIns
    let api: PushyAPI
    /// Private keys of the principals created here, by name (names are unique across orgs here).
    private let keys: Mutex<[String: RSAPrivateKey]>
    private let client = Mutex<(any TestClientProtocol)?>(nil)

    var engine: CommandEngine { parts.engine }
    var store: InMemoryStore { parts.store }
    var clock: TestClock { parts.clock }
    var transport: RecordingTransport { parts.transport }
    /// The superuser `pushy-server init` creates.
    var admin: Caller { caller("admin") }

    /// Builds a rig, runs `body` against its router, and stops it whatever happens.
    static func run<T: Sendable>(configure: (inout ServerConfiguration) -> Void = { _ in },
                                 _ body: @Sendable (RouterRig) async throws -> T) async throws -> T {
        let adminKey = TestKeys.admin
        let parts = try await EngineRig(org: org, connect: false, seed: { store in
            try await DataDirectory.seed(store, org: org, adminName: "admin") { adminKey }
        }, configure: { c in
            // As TestCluster (timers that matter here: the clock only moves by hand).
            c.listenAddress = "127.0.0.1"
            c.advertisedHost = "127.0.0.1"
            c.votingTimeout = 10
            c.rehabInterval = 0.25
            configure(&c)
        })
        let rig: RouterRig
        do { rig = try RouterRig(parts: parts, adminKey: adminKey) } catch {
            await parts.stop()
            throw error
        }
        do {
            let value = try await rig.application().test(.router) { client in
                rig.client.withLock { $0 = client }
                return try await body(rig)
            }
            await rig.stop()
            return value
        } catch {
            await rig.stop()
            throw error
        }
    }

    private init(parts: EngineRig, adminKey: RSAPrivateKey) throws {
        // Everything that can fail comes before the agents' task starts.
        let curvePublicKey = try CurveKeyPair.generate().publicKey
        self.parts = parts
        keys = Mutex(["admin": adminKey])
        let agents = AgentStandIns(engine: parts.engine, org: Self.org, clock: parts.clock)
        self.agents = agents
        api = PushyAPI(
            config: parts.config, store: parts.store, engine: parts.engine,
            serverPublicKeyPEM: parts.serverKey.publicKey.pemRepresentation,
            ports: ServerPorts(api: 0, heartbeat: 0, command: 0), curvePublicKey: curvePublicKey,
            curveAllowList: CurveAllowList(), connectionBudget: ConnectionBudget(budget: 10_000),
            plans: PlanRunner(store: parts.store, engine: parts.engine, logger: Logger(label: "test-plans", factory: { _ in SwiftLogNoOpLogHandler() })))
        parts.transport.forward { identity, frames in agents.deliver(identity, frames) }
    }

    /// The application `PushyServerApp.makeHTTPApplication` builds, on the same router.
    func application() -> some ApplicationProtocol {
        var logger = Logger(label: "test-router")
        logger.logLevel = .critical
        return Application(router: api.router(), configuration: .init(serverName: "pushy"), logger: logger)
    }

    private func stop() async {
        await agents.stop()
        await parts.stop()
    }

    // MARK: Principals and agents

    func key(_ name: String) -> RSAPrivateKey? { keys.withLock { $0[name] } }
    func remember(_ name: String, _ key: RSAPrivateKey) { keys.withLock { $0[name] = key } }

    /// Signs as `name` (with its key, or the spare key when it has none here).
    func caller(_ name: String, org: String = RouterRig.org) -> Caller {
        Caller(rig: self, signer: Signer(userId: name, key: key(name) ?? TestKeys.spare), org: org)
    }

    /// Registers a client (node identity) with its name's test key, as `TestCluster.createNode`.
    func createNode(_ name: String) async throws {
        let key = try TestKeys.named(name)
        try await admin.ok("POST", "clients", json: ["name": .string(name), "public_key": .string(key.publicKey.pemRepresentation)])
        remember(name, key)
    }

    /// Starts an agent stand-in as `pushy-client` starts: it reports its node (with `roles`),
    /// asks for its config (signed with its own key) and connects with the session key it got;
    /// returns once it is available.
    func startAgent(_ name: String, roles: [String] = [],
                    whitelist: [(flag: String, script: AgentStandIns.Script)] = AgentStandIns.whitelist,
                    mute: Bool = false) async throws {
        if key(name) == nil { try await createNode(name) }
        let node = caller(name)
        try await node.ok("PUT", "nodes/\(name)", json: NodeReport(name: name, roles: roles).json)
        let config = try await node.config(name)
        let session = try SessionKey.decrypt(base64: config.encodedSessionKey, with: key(name)!).bytes
        try await agents.connect(name, key: session, whitelist: whitelist, mute: mute)
        try await settle()
        #expect(try await admin.nodeState(name).availability == .available, "\(name) available")
    }

    /// Waits until the agents have answered everything the engine sent (bounded).
    func settle(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        guard await agents.settle() else {
            Issue.record("the agent stand-ins did not settle", sourceLocation: sourceLocation)
            throw DeadlineError(what: "the agent stand-ins", timeout: .seconds(10))
        }
    }

    /// Moves the engine's clock by `seconds`, runs its timers once and lets the agents answer.
    func advance(_ seconds: Double) async throws {
        clock.advance(seconds)
        await engine.tick()
        try await settle()
    }

    // MARK: Requests

    /// Sends a request as given: `headers` in order, `body` as is (nil: no body).
    func send(_ method: String, _ path: String, headers: [(String, String)], body: [UInt8]?,
              timeout: Duration = .seconds(30)) async throws -> Reply {
        guard let client = client.withLock({ $0 }) else { throw RigError("no router client outside RouterRig.run") }
        guard let m = HTTPRequest.Method(method) else { throw RigError("bad method \(method)") }
        var fields = HTTPFields()
        for (name, value) in headers {
            guard let n = HTTPField.Name(name) else { throw RigError("bad header name \(name)") }
            fields.append(HTTPField(name: n, value: value))
        }
        let buffer = body.map { ByteBuffer(bytes: $0) }, headerFields = fields
        let response = try await withDeadline("\(method) \(path.prefix(80))", timeout) {
            try await client.executeRequest(uri: path, method: m, headers: headerFields, body: buffer)
        }
        return Reply(status: Int(response.status.code), headers: response.headers, body: Array(response.body.readableBytesView))
    }

    /// A request as `PushyRESTClient` makes it: `Accept`, the signing headers (v1.3 unless the
    /// signer says otherwise), and a JSON body with its `Content-Type`. `signer` nil: unsigned.
    func signed(_ method: String, _ path: String, json: JSONValue? = nil, as signer: Signer?, accept: String = "application/json",
                headers extra: [(String, String)] = [], timeout: Duration = .seconds(30)) async throws -> Reply {
        let bytes = json.map { Array($0.serialized().utf8) } ?? []
        var headers: [(String, String)] = [("Accept", accept)] + extra
        if let signer {
            let pathOnly = String(path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0])
            headers += try SignedRequestHeaders.sign(method: method, path: pathOnly, body: bytes, userId: signer.userId,
                                                     timestamp: signer.timestamp ?? Date(), key: signer.key)
        }
        if json != nil { headers.append(("Content-Type", "application/json")) }
        return try await send(method, path, headers: headers, body: json == nil ? nil : bytes, timeout: timeout)
    }
}

/// Who signs a request: a name, a key and the signing time (now when nil).
struct Signer: Sendable {
    var userId: String
    var key: RSAPrivateKey
    var timestamp: Date? = nil
}

/// An answer of the router.
struct Reply: Sendable {
    var status: Int
    var headers: HTTPFields
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
    var json: JSONValue? { try? JSONValue.parse(body) }
    func header(_ name: String) -> String? { HTTPField.Name(name).flatMap { headers[$0] } }
    /// The `error` message(s) of a JSON error body: `{"error": "..."}` or `{"error": ["..."]}`.
    var errorMessage: String? {
        guard let e = json?["error"] else { return nil }
        if let s = e.stringValue { return s }
        let all = (e.arrayValue ?? []).compactMap(\.stringValue)
        return all.isEmpty ? nil : all.joined(separator: "; ")
    }
}

/// A non-2xx answer where success was expected (as `PushyClientError.http`).
struct HTTPFailure: Error, CustomStringConvertible {
    var status: Int
    var message: String
    var description: String { "server answered \(status): \(message)" }
}

struct RigError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// The status a call got: 200 when it succeeded, the server's status when it answered non-2xx.
func statusOf(_ body: () async throws -> Void) async -> Int? {
    do {
        try await body()
        return 200
    } catch let e as HTTPFailure {
        return e.status
    } catch {
        return nil
    }
}
