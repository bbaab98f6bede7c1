import Foundation
import Logging
import PushyAPIClient
import PushyAgent
import PushyCore
import PushyProtocol
import PushyServer
import PushyTestSupport
import Testing

/// A real server on loopback with ephemeral ports and a temporary data directory, plus helpers
/// to register nodes and start agents (in-process or as real `pushy-client` processes).
final class TestCluster: @unchecked Sendable {
    let dataDir: String
    var config: ServerConfiguration
    var server: PushyServerApp!
    var serverTask: Task<Void, any Error>?
    var apiPort = 0
    var admin: PushyRESTClient!
    var agents: [String: Task<Void, Never>] = [:]
    var processes: [String: ProcessRun] = [:]
    var keys: [String: (RSAPrivateKey, String)] = [:]

    static let heartbeat = 0.5

    init(votingTimeout: Double = 10, configure: (inout ServerConfiguration) -> Void = { _ in }) async throws {
        dataDir = NSTemporaryDirectory() + "pushy-test-" + UUID().uuidString
        var c = ServerConfiguration(dataDir: dataDir)
        c.listenAddress = "127.0.0.1"
        c.advertisedHost = "127.0.0.1"
        c.apiPort = 0
        c.heartbeatPort = 0
        c.commandPort = 0
        c.metricsListen = "127.0.0.1:0"
        c.heartbeatInterval = Self.heartbeat
        // Beats every 0.5 s keep tests quick, but tests run in parallel on two cores and share
        // two cooperative threads: with the default filter a node silent for ≈ 1.3 s was judged
        // dead, which a loaded machine can cause. This filter waits ≈ 7 s of silence.
        c.decayWindow = 10
        c.downThreshold = 0.25
        // Likewise on the agents' side: with 3 missed server beats (1.5 s) every agent of a test
        // reconnected at once when the server's broadcast was late, and a job started then found
        // them all in rehab. 12 beats is 6 s.
        c.offlineThreshold = 12
        c.votingTimeout = votingTimeout
        c.rehabInterval = 0.25
        configure(&c)
        config = c
        try ClusterKeys.seed(dataDir: c.dataDir, serverKeyPath: c.serverKeyPath)
        _ = try await DataDirectory.initialize(config: c)
        try await startServer()
    }

    var orgURL: String { "https://127.0.0.1:\(apiPort)/organizations/pushy" }
    /// Clients trust the self-signed certificate `init` made, as operators do.
    var certificatePath: String { dataDir + "/tls.crt" }
    var tls: ClientTLS { ClientTLS(trustedCertificatePath: certificatePath) }

    func startServer() async throws {
        var logger = Logger(label: "test-server")
        logger.logLevel = .warning
        let app = try await PushyServerApp.build(config: config, logger: logger)
        server = app
        serverTask = Task { try await app.run() }
        apiPort = await app.waitUntilListening()
        let key = try RSAPrivateKey(pemRepresentation: try String(contentsOfFile: dataDir + "/admin.pem", encoding: .utf8))
        admin = try PushyRESTClient(orgURL: orgURL, userId: "admin", key: key, tls: tls)
    }

    func stopServer() async {
        serverTask?.cancel()
        if let serverTask { await waitForTask(serverTask, "the test server") }
        serverTask = nil
    }

    /// Registers a client (node identity) with its own key (shared with same-named nodes of other
    /// clusters: `ClusterKeys`); returns the key path.
    @discardableResult
    func createNode(_ name: String) async throws -> String {
        let key = try ClusterKeys.named(name)
        let path = dataDir + "/\(name).pem"
        FileManager.default.createFile(atPath: path, contents: Data(key.pemRepresentation.utf8), attributes: [.posixPermissions: 0o600])
        try await admin.createClient(name: name, publicKeyPEM: key.publicKey.pemRepresentation)
        keys[name] = (key, path)
        return path
    }

    static let whitelist = [
        "ok=/bin/true", "fail=/bin/sh -c 'exit 3'", "sleep=/bin/sleep 30", "echo=echo hello",
    ]

    /// Starts an in-process agent (real sockets, real processes for jobs).
    func startAgent(_ name: String, roles: [String] = [], whitelist: [String] = TestCluster.whitelist) async throws {
        if keys[name] == nil { try await createNode(name) }
        var c = AgentConfiguration(
            serverURL: orgURL, nodeName: name, key: keys[name]!.0,
            whitelist: try Whitelist(entries: whitelist.map { try WhitelistEntry.parse(flag: $0) }))
        c.roles = roles
        c.tls = tls
        c.fileDir = dataDir + "/agent-\(name)"
        c.killGracePeriod = 0.5
        var logger = Logger(label: "test-agent-\(name)")
        logger.logLevel = .warning
        let runtime = try PushyAgentRuntime(config: c, logger: logger)
        agents[name] = Task { await runtime.run() }
    }

    func stopAgent(_ name: String) async {
        agents[name]?.cancel()
        if let agent = agents[name] { await waitForTask(agent, "agent \(name)") }
        agents[name] = nil
    }

    /// Path of a product built next to the test bundle.
    static func binary(_ name: String) -> String {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if dir.lastPathComponent.hasSuffix(".xctest") || dir.path.contains(".xctest/") {
            while dir.path.contains(".xctest") { dir.deleteLastPathComponent() }
        }
        return dir.appendingPathComponent(name).path
    }

    /// Starts a real `pushy-client` process.
    func startAgentProcess(_ name: String, roles: [String] = []) async throws {
        var keyPath = keys[name]?.1 ?? ""
        if keyPath.isEmpty { keyPath = try await createNode(name) }
        var args = ["--server-url", orgURL, "--node", name, "--key", keyPath, "--log-level", "warning",
                    "--trusted-cert", certificatePath,
                    "--file-dir", dataDir + "/agent-\(name)"]
        for w in Self.whitelist { args += ["--whitelist", w] }
        for r in roles { args += ["--role", r] }
        processes[name] = try ProcessRun(Command(Self.binary("pushy-client"), args), name: "pushy-client \(name)")
    }

    /// A `pushy` CLI process signed as the admin, trusting this cluster's certificate (not started).
    func cliProcess(_ args: [String]) -> Command {
        var env = ProcessInfo.processInfo.environment
        env["PUSHY_SERVER_URL"] = orgURL
        env["PUSHY_USER"] = "admin"
        env["PUSHY_KEY"] = dataDir + "/admin.pem"
        env["PUSHY_CONFIG"] = nil
        env["PUSHY_TRUSTED_CERT"] = certificatePath
        return Command(Self.binary("pushy"), args, environment: env)
    }

    /// Waits until `condition` holds, polling; fails the test at the deadline, with what `saw`
    /// says was there instead.
    func eventually(_ what: String, timeout: Double = 20, saw: () -> String = { "" },
                    _ condition: () async throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        let last = saw()
        let detail = last.isEmpty ? "" : "; last saw:\n\(last)"
        Issue.record("timed out waiting for \(what)\(detail)")
        throw ClusterError.timeout(what)
    }

    func waitAvailable(_ names: [String]) async throws {
        try await eventually("nodes \(names) available") {
            let states = try await admin.nodeStates()
            return names.allSatisfy { n in states.contains { $0.nodeName == n && $0.availability == .available } }
        }
    }

    func waitFinished(_ id: String, timeout: Double = 30) async throws -> JobView {
        var view: JobView?
        try await eventually("job \(id) to finish", timeout: timeout) {
            let v = try await admin.job(id)
            view = v
            return v.status.isTerminal
        }
        return view!
    }

    func shutdown() async {
        for (_, p) in processes { await p.stop() }
        for name in Array(agents.keys) { await stopAgent(name) }
        await stopServer()
        try? FileManager.default.removeItem(atPath: dataDir)
    }
}

enum ClusterError: Error { case timeout(String) }

/// Runs blocking work (waiting for a process, reading its pipes) on a thread of its own: tests
/// run in parallel on a two-thread cooperative pool, and a blocked pool thread would stall the
/// in-process servers those processes are talking to.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
        Thread.detachNewThread {
            do { c.resume(returning: try body()) } catch { c.resume(throwing: error) }
        }
    }
}
