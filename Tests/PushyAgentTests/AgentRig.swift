import Foundation
import Logging
@testable import PushyAgent
import PushyCore
import PushyProtocol
import PushyTestSupport
import Synchronization
import Testing

/// One agent runtime on a fake server link and a fake process launcher: a test plays the
/// server (signed commit/run/abort on the command channel) and the job's process (exits when
/// told), and sees every message the agent sends.
final class AgentRig: Sendable {
    static let org = "acme"
    /// Fixture keys (`KeysByName`); every rig shares these.
    static let nodeKey = try! KeysByName.unused()
    static let serverKey = try! KeysByName.unused()

    let link: FakeServerLink
    let launcher: FakeLauncher
    let runtime: PushyAgentRuntime
    let task: Task<Void, Never>
    let transport: FakeTransport
    let dir: String
    private let sequence = Mutex(0)

    init(whitelist: [String] = ["ok=/bin/true", "fail=exit 3", "long=sleep 600"], features: [String] = [],
         refuse: Set<String> = [], configure: (inout AgentConfiguration) -> Void = { _ in }) async throws {
        dir = NSTemporaryDirectory() + "pushy-agent-tests-" + UUID().uuidString
        link = FakeServerLink(serverKey: Self.serverKey, nodePublicKey: Self.nodeKey.publicKey, features: features)
        launcher = FakeLauncher(dir: dir + "/jobs", refuse: refuse)
        var config = AgentConfiguration(
            serverURL: "https://pushy.test/organizations/\(Self.org)", nodeName: "web1", key: Self.nodeKey,
            whitelist: try Whitelist(entries: whitelist.map { try WhitelistEntry.parse(flag: $0) }))
        config.fileDir = dir
        config.killGracePeriod = 0
        configure(&config)
        var logger = Logger(label: "agent-test")
        logger.logLevel = .critical
        let runtime = try PushyAgentRuntime(config: config, logger: logger, link: link, processes: launcher)
        self.runtime = runtime
        task = Task { await runtime.run() }
        transport = try await link.transports.first("the agent's first session")
        // Connected: the agent says it is there with a heartbeat.
        _ = try await transport.sent.first("the first heartbeat") { $0.messageType == .heartbeat }
    }

    /// Stops the agent (as SIGTERM does) and removes its files.
    func stop() async {
        task.cancel()
        await waitForTask(task, "the agent's run loop")
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// The server sends one command, HMAC-signed with the session key, with the next sequence number.
    func server(_ type: ServerMessageType, job: String?, command: String? = nil, capture: Bool? = nil,
                runTimeout: Int? = nil, env: JSONValue? = nil, file: String? = nil, sequence fixed: Int? = nil,
                key: [UInt8]? = nil) {
        let seq = fixed ?? sequence.withLock { $0 += 1; return $0 }
        let m = ServerMessage(type: type, sequence: seq, timestamp: Date(), jobId: job, server: "pushy.test",
                              command: command, env: env, file: file, capture: capture, runTimeout: runTimeout)
        transport.deliver(command: MessageSigner.hmacFrames(body: m.bodyBytes, key: key ?? link.sessionKey.bytes))
    }

    /// The first message of `type` about `job` the agent sent, waiting for it.
    @discardableResult
    func sent(_ type: AgentMessageType, job: String?, sourceLocation: SourceLocation = #_sourceLocation) async throws -> AgentMessage {
        try await transport.sent.first("\(type.rawValue) for \(job ?? "no job")", sourceLocation: sourceLocation) {
            $0.messageType == type && $0.jobId == job
        }
    }

    /// Types of the job messages sent so far (heartbeats left out).
    var jobMessages: [String] { transport.sent.items.filter { $0.messageType != .heartbeat }.map(\.type) }

    /// Commits and runs `command` as `job`: the agent acks both and starts the process.
    @discardableResult
    func start(_ job: String, _ command: String = "ok", capture: Bool = false, runTimeout: Int? = nil,
               env: JSONValue? = nil, file: String? = nil) async throws -> FakeLauncher.Spawned {
        server(.commit, job: job, command: command, capture: capture, runTimeout: runTimeout, env: env, file: file)
        try await sent(.ackCommit, job: job)
        server(.run, job: job)
        try await sent(.ackRun, job: job)
        return try await launcher.spawned.first("spawn of \(job)") { $0.jobId == job }
    }
}
