#if canImport(Glibc)
import Glibc
#endif
import Foundation
import PushyAPIClient
import PushyProtocol
import PushySwarm

/// The data directory every server of a cluster bench shares (keys, TLS certificate, the
/// `postgres_url` in server.json), made by one `pushy-server init`; each server gets its own
/// ports and log on its command line.
struct ClusterDataDirectory {
    let path: String
    let binDir: String

    /// `pushy-server init --postgres URL` (the database's schema and the admin user, once).
    static func make(binDir: String, postgresURL: String, interval: Double, lease: Double) throws -> ClusterDataDirectory {
        let path = NSTemporaryDirectory() + "pushy-bench-cluster-" + UUID().uuidString
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binDir + "/pushy-server")
        p.arguments = ["init", "--data-dir", path, "--postgres", postgresURL, "--heartbeat-interval", "\(interval)",
                       "--cluster-lease", "\(lease)", "--metrics-listen", "127.0.0.1:0", "--no-user-config"]
        p.environment = ProcessInfo.processInfo.environment.merging(["HOME": NSTemporaryDirectory()]) { $1 }
        let err = Pipe()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = err
        try p.run()
        // A deadline, so a hang (the database not answering) says where the bench stopped.
        let deadline = Date().addingTimeInterval(60)
        while p.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if p.isRunning {
            p.terminate()
            p.waitUntilExit()
            let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw BenchFailure("pushy-server init --postgres did not finish within 60 s: \(errors)")
        }
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard p.terminationStatus == 0 else { throw BenchFailure("pushy-server init failed (\(p.terminationStatus)): \(errors)") }
        return ClusterDataDirectory(path: path, binDir: binDir)
    }

    var certificatePath: String { path + "/tls.crt" }
    var adminKeyPath: String { path + "/admin.pem" }

    func admin(apiPort: Int) throws -> PushyRESTClient {
        let key = try RSAPrivateKey(pemRepresentation: try String(contentsOfFile: adminKeyPath, encoding: .utf8))
        return try PushyRESTClient(orgURL: orgURL(apiPort: apiPort), userId: "admin", key: key,
                                   tls: ClientTLS(trustedCertificatePath: certificatePath), timeout: .seconds(120))
    }

    func orgURL(apiPort: Int) -> String { "https://127.0.0.1:\(apiPort)/organizations/pushy" }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// One `pushy-server run` of a cluster bench, on free ports, logging to `server-N.log`.
final class ClusterServer: @unchecked Sendable {
    let index: Int
    let data: ClusterDataDirectory
    let apiPort = ProcessProbe.freePort()
    let heartbeatPort = ProcessProbe.freePort()
    let commandPort = ProcessProbe.freePort()
    let admin: PushyRESTClient
    private(set) var process: Process?
    private var cleanupId: Int?
    /// RSS before any agent connected.
    var rssBaseline: Int?

    init(index: Int, data: ClusterDataDirectory) throws {
        self.index = index
        self.data = data
        admin = try data.admin(apiPort: apiPort)
    }

    var orgURL: String { data.orgURL(apiPort: apiPort) }
    var pid: Int32 { process?.processIdentifier ?? 0 }
    var logPath: String { data.path + "/server-\(index).log" }
    var isRunning: Bool { process?.isRunning ?? false }

    /// Starts it and waits (≤ 60 s) until its REST API answers.
    func start(cleanup: BenchCleanup) async throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: data.binDir + "/pushy-server")
        p.arguments = ["run", "--data-dir", data.path, "--api-port", "\(apiPort)", "--heartbeat-port", "\(heartbeatPort)",
                       "--command-port", "\(commandPort)", "--log-level", "warning"]
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        p.standardOutput = log
        p.standardError = log
        p.standardInput = FileHandle.nullDevice
        try p.run()
        try? log.close()
        process = p
        cleanupId = cleanup.add("server \(index)") { stopProcess(p, grace: 20) }
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            guard p.isRunning else { throw BenchFailure("server \(index) exited (\(p.terminationStatus)); see \(logPath)") }
            if (try? await admin.status()) != nil { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BenchFailure("server \(index) did not answer within 60 s (see \(logPath))")
    }

    /// SIGKILL: the crash case (no deregistration, the lease runs out).
    func kill9(cleanup: BenchCleanup) {
        guard let p = process, p.isRunning else { return }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        if let id = cleanupId { cleanup.remove(id) }
    }

    func stop(cleanup: BenchCleanup) {
        if let p = process { stopProcess(p, grace: 20) }
        if let id = cleanupId { cleanup.remove(id) }
    }
}

/// The `pushy-swarm` processes of a cluster bench: for each server, processes whose agents
/// list that server first and every other after it (`--server-url` list; each agent rotates
/// the others by its index, so a dead server's agents spread over the rest).
final class ClusterSwarm: @unchecked Sendable {
    struct Member {
        var server: Int
        var first: Int
        var count: Int
        var urls: [String]
        var process: Process?
        var stdin: Pipe?
    }

    let binDir: String
    let data: ClusterDataDirectory
    let addressSpread: Int
    let fetchConcurrency: Int
    /// Config requests at a time per swarm process for agents moving off a killed server.
    var moveConcurrency = 32
    /// Seconds over which each swarm process spreads its agents' first connects (0: at once).
    var splaySeconds = 0.0
    let prefix = "cluster"
    private(set) var members: [Member] = []
    private var cleanupIds: [Int] = []

    /// `agents` spread evenly over `servers`, each server's share cut into processes of at most `perProcess`.
    init(binDir: String, data: ClusterDataDirectory, servers: [ClusterServer], agents: Int, perProcess: Int, addressSpread: Int,
         fetchConcurrency: Int) {
        self.binDir = binDir
        self.data = data
        self.addressSpread = addressSpread
        self.fetchConcurrency = fetchConcurrency
        let k = servers.count
        var first = 0
        for s in 0..<k {
            let share = agents / k + (s < agents % k ? 1 : 0)
            let urls = (0..<k).map { servers[(s + $0) % k].orgURL }
            for piece in SwarmFleet.shares(count: share, perProcess: perProcess) where piece.count > 0 {
                members.append(Member(server: s, first: first + piece.first, count: piece.count, urls: urls))
            }
            first += share
        }
    }

    /// The names of agents `0..<n` (`cluster-NNNNNN`).
    func names(_ n: Int) -> [String] { (0..<n).map { Swarm.nodeName(prefix: prefix, index: $0) } }

    func arguments(_ m: Member) -> [String] {
        ["--server-url", m.urls.joined(separator: ","), "--user", "admin", "--key", data.adminKeyPath,
         "--trusted-cert", data.certificatePath, "--count", "\(m.count)", "--first-index", "\(m.first)",
         "--prefix", prefix, "--duration-ms", "0", "--fail-ratio", "0", "--address-spread", "\(addressSpread)",
         "--fetch-concurrency", "\(fetchConcurrency)", "--move-concurrency", "\(moveConcurrency)", "--splay-seconds", "\(splaySeconds)", "--shard-size", "\(Self.shardSize)", "--key-pool", "\(Self.keyPool)",
         "--stats-interval", "30"]
    }

    /// Swarm processes run at this niceness: they stand for agents on other machines, so they
    /// must not take the servers' share of the cores (the scheduler shares per thread, and a
    /// swarm process has a thread per 400 agents). Their CPU is still measured and reported.
    static let niceness = 10
    /// Agents per swarm I/O thread: fewer threads on the shared cores than the default 400.
    static let shardSize = 1000
    /// The RSA keys the agents' clients share (agent i has key i mod 8, as pushy-swarm assigns).
    static let keyPool = 8

    /// Every agent's client in one SQL statement: registering 100,000 through the REST API (an
    /// administrator's one-off, not what the bench measures) takes minutes of both cores. The
    /// public keys are the swarm's key pool (made here, read by the swarm processes).
    func registerInDatabase(_ db: BenchPostgres, agents: Int) async throws {
        let keys = try SwarmKeyPool.load(count: Self.keyPool, directory: SwarmKeyPool.defaultDirectory(adminKeyPath: data.adminKeyPath))
        let pems = keys.map { "'" + $0.publicKey.pemRepresentation.replacingOccurrences(of: "'", with: "''") + "'" }
        try await db.execute("""
            INSERT INTO principals (org, name, type, public_key, is_admin, created_at)
            SELECT 'pushy', '\(prefix)-' || lpad(i::text, 6, '0'), 'client', (ARRAY[\(pems.joined(separator: ","))])[i % \(keys.count) + 1],
                   false, extract(epoch FROM clock_timestamp())
            FROM generate_series(0, \(agents - 1)) AS i
            ON CONFLICT (org, name) DO UPDATE SET public_key = excluded.public_key
            """)
    }

    func spawn(_ args: [String], log: String) throws -> (Process, Pipe) {
        let p = Process()
        // `nice` execs the swarm in place: the pid is the swarm's, every thread at the niceness.
        p.executableURL = URL(fileURLWithPath: "/usr/bin/nice")
        p.arguments = ["-n", "\(Self.niceness)", binDir + "/pushy-swarm"] + args
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        p.standardOutput = handle
        p.standardError = handle
        let stdin = Pipe()
        p.standardInput = stdin
        try p.run()
        try? handle.close()
        return (p, stdin)
    }

    /// Registers every agent's client, each process through its own server, all at once (bounded).
    func register(timeout: Double, cleanup: BenchCleanup, progress: @escaping (Int, Int) -> Void) async throws {
        var running: [(Process, Int)] = []
        for (i, m) in members.enumerated() {
            let (p, stdin) = try spawn(arguments(m) + ["--register-only"], log: data.path + "/register-\(i).log")
            try? stdin.fileHandleForWriting.close()
            running.append((p, cleanup.add("registration \(i)") { stopProcess(p, grace: 2) }))
        }
        defer { for (p, id) in running { stopProcess(p, grace: 2); cleanup.remove(id) } }
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        var lastReport = ContinuousClock.now
        while running.contains(where: { $0.0.isRunning }) {
            guard ContinuousClock.now < deadline else { throw BenchFailure("registration took more than \(Int(timeout)) s") }
            if lastReport.duration(to: .now) > .seconds(10) {
                lastReport = .now
                progress(running.filter { !$0.0.isRunning }.count, running.count)
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        guard running.allSatisfy({ $0.0.terminationStatus == 0 }) else {
            throw BenchFailure("registration failed (see \(data.path)/register-*.log)")
        }
    }

    /// Starts every agent (clients registered).
    func start(cleanup: BenchCleanup) throws {
        for i in members.indices {
            let (p, stdin) = try spawn(arguments(members[i]) + ["--no-register"], log: data.path + "/swarm-\(i).log")
            members[i].process = p
            members[i].stdin = stdin
            // Closed stdin is the swarm's quit; SIGTERM may be ignored (the bench ignores it to
            // handle it, and an ignored signal stays ignored across exec), so SIGKILL follows soon.
            cleanupIds.append(cleanup.add("swarm \(i)") { try? stdin.fileHandleForWriting.close(); stopProcess(p, grace: 1) })
        }
    }

    var pids: [Int32] { members.compactMap { $0.process?.processIdentifier } }
    var running: Int { members.filter { $0.process?.isRunning == true }.count }
    var rssTotal: Int { pids.compactMap { ProcessProbe.rss(pid: $0) }.reduce(0, +) }
    var cpuSeconds: Double { pids.compactMap { ProcessProbe.cpuSeconds(pid: $0) }.reduce(0, +) }

    /// Closes stdin (the swarm's quit), then terminates stragglers after 5 s.
    func stop(cleanup: BenchCleanup) async {
        for m in members { try? m.stdin?.fileHandleForWriting.close() }
        let deadline = ContinuousClock.now + .seconds(5)
        while members.contains(where: { $0.process?.isRunning == true }), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(100))
        }
        for m in members { if let p = m.process { stopProcess(p, grace: 2) } }
        for id in cleanupIds { cleanup.remove(id) }
        cleanupIds = []
    }
}
