import Foundation
import PushyAPIClient
import PushyProtocol
import PushyServer
import Testing

/// A real `pushy-server` process on its own data directory and fixed free ports (so a restart
/// finds the same ports), and real `pushy-client` processes, each logging to a file.
final class FaultCluster: @unchecked Sendable {
    /// Logs, node keys and agents' file directories (never on a filesystem a test fills up).
    let workDir: String
    /// The server's data directory: `WORKDIR/data` unless given.
    let dataDir: String
    let host: String
    let config: ServerConfiguration
    let admin: PushyRESTClient
    private(set) var server: ChildProcess?
    private(set) var serverRuns: [ChildProcess] = []
    var agents: [String: ChildProcess] = [:]
    var agentRuns: [ChildProcess] = []
    var keyPaths: [String: String] = [:]
    /// Job processes left behind by agents that were killed; killed at shutdown.
    var orphans: [Int32] = []
    /// Job commands the agents accept.
    static let whitelist = ["ok=/bin/true", "sleep=/bin/sleep 20", "short=/bin/sleep 3", "long=/bin/sleep 120",
                            // Runs until the file named by the job's GATE exists (at most 60 s).
                            #"gate=i=0; while [ ! -e "$GATE" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done"#]

    /// `dataDir`: the server's data directory (default: `data` in a new temporary directory).
    init(dataDir: String? = nil, host: String = "127.0.0.1", heartbeat: Double = 0.5,
         configure: (inout ServerConfiguration) -> Void = { _ in }) async throws {
        workDir = NSTemporaryDirectory() + "pushy-fault-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
        let dir = dataDir ?? workDir + "/data"
        self.dataDir = dir
        self.host = host
        var c = ServerConfiguration(dataDir: dir)
        c.listenAddress = host
        c.advertisedHost = host
        c.apiPort = try freePort(host: host)
        c.heartbeatPort = try freePort(host: host)
        c.commandPort = try freePort(host: host)
        c.metricsListen = "\(host):0"
        c.heartbeatInterval = heartbeat
        c.rehabInterval = 0.25
        c.votingTimeout = 10
        c.waitCompleteTime = 1
        configure(&c)
        config = c
        try ClusterKeys.seed(dataDir: c.dataDir, serverKeyPath: c.serverKeyPath)
        _ = try await DataDirectory.initialize(config: c)
        let key = try RSAPrivateKey(pemRepresentation: try String(contentsOfFile: dir + "/admin.pem", encoding: .utf8))
        admin = try PushyRESTClient(orgURL: "https://\(host):\(c.apiPort)/organizations/pushy", userId: "admin", key: key,
                                    tls: ClientTLS(trustedCertificatePath: dir + "/tls.crt"), timeout: .seconds(15))
    }

    var orgURL: String { admin.orgURL }
    var certificatePath: String { dataDir + "/tls.crt" }
    var processes: [ChildProcess] { (server.map { [$0] } ?? []) + Array(agents.values) }

    /// Starts `pushy-server run` and waits (≤ 30 s) until its REST API answers; returns the seconds it took.
    @discardableResult
    func startServer() async throws -> Double {
        let run = serverRuns.count + 1
        let p = try ChildProcess(
            name: "server run \(run)", executable: TestCluster.binary("pushy-server"),
            arguments: ["run", "--data-dir", dataDir, "--log-level", ProcessInfo.processInfo.environment["PUSHY_FAULT_LOG_LEVEL"] ?? "info"], logPath: workDir + "/server-\(run).log")
        server = p
        serverRuns.append(p)
        return try await waitFor("the server's REST API (run \(run))", timeout: 30, logs: [p]) { () -> Probe<Void> in
            guard p.isRunning else { throw FaultError.setup("the server exited: \(p.logTail())") }
            _ = try await admin.status()
            return .done(())
        }.seconds
    }

    func killServer() async throws {
        try await server?.kill9()
        server = nil
    }

    /// SIGTERM; how the server ended and the seconds it took (nil exit: still running at `timeout`).
    func terminateServer(timeout: Double) async -> (exit: ChildProcess.Exit?, seconds: Double) {
        guard let s = server else { return (nil, 0) }
        let start = Date()
        s.signal(SIGTERM)
        let exit = await s.waitExit(timeout: timeout)
        let seconds = Date().timeIntervalSince(start)
        if exit == nil { await s.stop(grace: 1) }
        server = nil
        return (exit, seconds)
    }

    /// Registers a client (node identity) with its own key (`ClusterKeys`); returns the key path.
    @discardableResult
    func createNode(_ name: String) async throws -> String {
        let key = try ClusterKeys.named(name)
        let path = workDir + "/\(name).pem"
        FileManager.default.createFile(atPath: path, contents: Data(key.pemRepresentation.utf8),
                                       attributes: [.posixPermissions: 0o600])
        try await admin.createClient(name: name, publicKeyPEM: key.publicKey.pemRepresentation)
        keyPaths[name] = path
        return path
    }

    /// Starts a real `pushy-client`; inside network namespace `netns` when given (`ip netns exec`).
    @discardableResult
    /// `serverURL`: what the agent is given as `server_url` (default: this cluster's org URL).
    func startAgent(_ name: String, netns: String? = nil, serverURL: String? = nil) async throws -> ChildProcess {
        var keyPath = keyPaths[name] ?? ""
        if keyPath.isEmpty { keyPath = try await createNode(name) }
        var args = ["--server-url", serverURL ?? orgURL, "--node", name, "--key", keyPath, "--log-level", "info",
                    "--trusted-cert", certificatePath, "--file-dir", workDir + "/agent-\(name)"]
        for w in Self.whitelist { args += ["--whitelist", w] }
        var executable = TestCluster.binary("pushy-client")
        if let netns {
            args = ["netns", "exec", netns, executable] + args
            executable = "/usr/sbin/ip"
        }
        let run = agentRuns.filter { $0.name.hasPrefix("agent \(name) ") }.count + 1
        let p = try ChildProcess(name: "agent \(name) run \(run)", executable: executable, arguments: args,
                                 logPath: workDir + "/agent-\(name)-\(run).log")
        agents[name] = p
        agentRuns.append(p)
        return p
    }

    /// SIGKILL of an agent; its job's processes are killed at shutdown.
    func killAgent(_ name: String) async throws {
        guard let p = agents[name] else { return }
        orphans += p.descendants
        try await p.kill9()
    }

    /// Waits until every node in `names` is online and available; returns the seconds it took.
    @discardableResult
    func waitAvailable(_ names: [String], timeout: Double = 30) async throws -> Double {
        try await waitFor("nodes \(names) available", timeout: timeout, logs: processes) { () -> Probe<Void> in
            let states = try await admin.nodeStates()
            let seen = states.filter { names.contains($0.nodeName) }
                .map { "\($0.nodeName): \($0.status.rawValue)/\($0.availability.rawValue)" }
            let ready = names.allSatisfy { n in states.contains { $0.nodeName == n && $0.availability == .available && $0.status == .online } }
            return ready ? .done(()) : .notYet(seen.joined(separator: ", "))
        }.seconds
    }

    /// Waits until the job has ended; returns its view and the seconds it took.
    func waitEnded(_ id: String, timeout: Double = 30) async throws -> (view: JobView, seconds: Double) {
        let r = try await waitFor("job \(id) to end", timeout: timeout, logs: processes) { () -> Probe<JobView> in
            let v = try await admin.job(id)
            return v.status.isTerminal ? .done(v) : .notYet(Self.describe(v))
        }
        return (r.value, r.seconds)
    }

    /// Waits until every node of the job is running.
    func waitRunning(_ id: String, nodes: Int, timeout: Double = 20) async throws {
        _ = try await waitFor("job \(id) running on \(nodes) node(s)", timeout: timeout, logs: processes) { () -> Probe<Void> in
            let v = try await admin.job(id)
            return v.count(.running) == nodes ? .done(()) : .notYet(Self.describe(v))
        }
    }

    /// Runs a job to its end and returns it.
    func runJob(_ command: String, on nodes: [String], timeout: Double = 30) async throws -> JobView {
        let id = try await admin.startJob(JobRequest(command: command, nodes: nodes))
        return try await waitEnded(id, timeout: timeout).view
    }

    static func describe(_ v: JobView) -> String {
        let nodes = (v.nodes ?? []).map { "\($0.0.rawValue)=\($0.1.joined(separator: ","))" }.joined(separator: " ")
        let reasons = (v.nodeReasons ?? []).map { "\($0.0): \($0.1)" }.joined(separator: "; ")
        return "\(v.status.rawValue) [\(nodes)]" + (v.statusReason.map { " (\($0))" } ?? "") + (reasons.isEmpty ? "" : " reasons: \(reasons)")
    }

    /// The reason the job gives for `node`.
    static func reason(_ v: JobView, _ node: String) -> String? { v.nodeReasons?.first { $0.0 == node }?.1 }

    /// The nodes of `v` in `status`.
    static func nodes(_ v: JobView, _ status: NodeJobStatus) -> [String] { v.nodes?.first { $0.0 == status }?.1 ?? [] }

    /// Stops every agent and the server (each with a deadline), kills what their jobs left
    /// behind, and removes the work directory (and the data directory in it).
    func shutdown() async {
        var leftovers = orphans
        for p in agentRuns where p.isRunning { leftovers += p.descendants }
        for p in agentRuns { await p.stop(grace: 5) }
        for p in serverRuns { await p.stop(grace: 10) }
        for pid in leftovers { kill(pid, SIGKILL) }
        // PUSHY_FAULT_KEEP=1 keeps the logs for a look afterwards.
        if ProcessInfo.processInfo.environment["PUSHY_FAULT_KEEP"] != nil {
            print("fault logs kept in \(workDir)")
        } else {
            try? FileManager.default.removeItem(atPath: workDir)
        }
    }
}
