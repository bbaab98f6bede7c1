import Foundation
import PushyAPIClient
import PushyProtocol

/// A failure that ends a size's measurements.
struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// A release `pushy-server` on a temporary data directory with free ports.
final class ServerProcess {
    let binDir: String
    let dataDir: String
    let apiPort: Int
    var process: Process?
    private(set) var admin: PushyRESTClient!

    /// `initArguments` are added to `pushy-server init` (e.g. `--voting-timeout 10`).
    init(binDir: String, interval: Double, initArguments: [String] = []) throws {
        self.binDir = binDir
        dataDir = NSTemporaryDirectory() + "pushy-bench-" + UUID().uuidString
        apiPort = ProcessProbe.freePort()
        let init_ = Process()
        init_.executableURL = URL(fileURLWithPath: binDir + "/pushy-server")
        init_.arguments = ["init", "--data-dir", dataDir, "--api-port", "\(apiPort)",
                           "--heartbeat-port", "\(ProcessProbe.freePort())", "--command-port", "\(ProcessProbe.freePort())",
                           "--metrics-listen", "127.0.0.1:0",
                           "--heartbeat-interval", "\(interval)", "--no-user-config"] + initArguments
        init_.environment = ProcessInfo.processInfo.environment.merging(["HOME": NSTemporaryDirectory()]) { $1 }
        init_.standardOutput = FileHandle.nullDevice
        try init_.run()
        init_.waitUntilExit()
        guard init_.terminationStatus == 0 else { throw BenchFailure("pushy-server init failed (\(init_.terminationStatus))") }
        let key = try RSAPrivateKey(pemRepresentation: try String(contentsOfFile: adminKeyPath, encoding: .utf8))
        admin = try PushyRESTClient(orgURL: orgURL, userId: "admin", key: key,
                                    tls: ClientTLS(trustedCertificatePath: certificatePath), timeout: .seconds(60))
    }

    var orgURL: String { "https://127.0.0.1:\(apiPort)/organizations/pushy" }
    var certificatePath: String { dataDir + "/tls.crt" }
    var adminKeyPath: String { dataDir + "/admin.pem" }
    var pid: Int32 { process?.processIdentifier ?? 0 }
    /// `pushy-server run --log-level` (the soak can ask for `info`: node offline lines with times).
    var logLevel = "warning"

    /// Starts `pushy-server run` and waits (≤ 30 s) until its REST API answers.
    func start() async throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binDir + "/pushy-server")
        p.arguments = ["run", "--data-dir", dataDir, "--log-level", logLevel]
        let log = dataDir + "/server.log"
        if !FileManager.default.fileExists(atPath: log) { _ = FileManager.default.createFile(atPath: log, contents: nil) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        handle.seekToEndOfFile()
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        process = p
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if (try? await admin.status()) != nil { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BenchFailure("the server did not answer within 30 s (see \(log))")
    }

    /// SIGKILL, no clean-up: the crash case.
    func kill9() {
        guard let p = process, p.isRunning else { return }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        process = nil
    }

    /// SIGTERM, then SIGKILL if it has not exited within 20 s.
    func stop() {
        guard let p = process, p.isRunning else { return }
        p.terminate()
        let deadline = Date().addingTimeInterval(20)
        while p.isRunning, Date() < deadline { usleep(50_000) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        process = nil
    }

    func removeData() { try? FileManager.default.removeItem(atPath: dataDir) }
}

/// The `pushy-swarm` processes holding one size's agents, each under the file limit.
final class SwarmFleet {
    let binDir: String
    let server: ServerProcess
    let count: Int
    let perProcess: Int
    let addressSpread: Int
    /// Node names are `prefix-NNNNNN`.
    var prefix = "swarm"
    var processes: [(process: Process, stdin: Pipe, first: Int, count: Int)] = []

    init(binDir: String, server: ServerProcess, count: Int, perProcess: Int, addressSpread: Int) {
        self.binDir = binDir
        self.server = server
        self.count = count
        self.perProcess = perProcess
        self.addressSpread = addressSpread
    }

    /// Shares of the agents: as even as possible, none above `perProcess`.
    var shares: [(first: Int, count: Int)] { Self.shares(count: count, perProcess: perProcess) }

    static func shares(count: Int, perProcess: Int) -> [(first: Int, count: Int)] {
        let n = max(1, (count + perProcess - 1) / perProcess)
        var result: [(Int, Int)] = []
        var first = 0
        for i in 0..<n {
            let c = count / n + (i < count % n ? 1 : 0)
            result.append((first, c))
            first += c
        }
        return result
    }

    func arguments(first: Int, count: Int) -> [String] {
        ["--server-url", server.orgURL, "--user", "admin", "--key", server.adminKeyPath, "--count", "\(count)",
         "--trusted-cert", server.certificatePath,
         "--first-index", "\(first)", "--prefix", prefix, "--duration-ms", "0", "--fail-ratio", "0",
         "--address-spread", "\(addressSpread)", "--stats-interval", "10"]
    }

    func process(_ args: [String], log: String) throws -> (Process, Pipe) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binDir + "/pushy-swarm")
        p.arguments = args
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        p.standardOutput = handle
        p.standardError = handle
        let stdin = Pipe()
        p.standardInput = stdin
        try p.run()
        return (p, stdin)
    }

    /// Registers every agent's client (all shares in parallel) and waits (bounded).
    func register(timeout: Double) async throws {
        var running: [Process] = []
        for (i, s) in shares.enumerated() {
            let (p, stdin) = try process(arguments(first: s.first, count: s.count) + ["--register-only"],
                                         log: server.dataDir + "/swarm-register-\(i).log")
            try? stdin.fileHandleForWriting.close()
            running.append(p)
        }
        let deadline = Date().addingTimeInterval(timeout)
        while running.contains(where: \.isRunning) {
            guard Date() < deadline else {
                running.forEach { $0.terminate() }
                throw BenchFailure("registration took more than \(Int(timeout)) s")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        guard running.allSatisfy({ $0.terminationStatus == 0 }) else {
            throw BenchFailure("registration failed (see \(server.dataDir)/swarm-register-*.log)")
        }
    }

    /// Starts the agents (clients already registered).
    func start() throws {
        for (i, s) in shares.enumerated() {
            let (p, stdin) = try process(arguments(first: s.first, count: s.count) + ["--no-register"],
                                         log: server.dataDir + "/swarm-\(i).log")
            processes.append((p, stdin, s.first, s.count))
        }
    }

    /// Silences the agents with these global indexes (they keep their sockets open).
    func mute(_ indexes: [Int]) {
        for entry in processes {
            let mine = indexes.filter { $0 >= entry.first && $0 < entry.first + entry.count }
            guard !mine.isEmpty else { continue }
            entry.stdin.fileHandleForWriting.write(Data(("mute " + mine.map(String.init).joined(separator: " ") + "\n").utf8))
        }
    }

    /// RSS of all the swarm processes together.
    var rssTotal: Int { processes.compactMap { ProcessProbe.rss(pid: $0.process.processIdentifier) }.reduce(0, +) }

    var cpuSeconds: Double { processes.compactMap { ProcessProbe.cpuSeconds(pid: $0.process.processIdentifier) }.reduce(0, +) }

    /// Closes stdin (the swarm's quit signal), then terminates stragglers after 5 s.
    func stop() async {
        for entry in processes { try? entry.stdin.fileHandleForWriting.close() }
        let deadline = Date().addingTimeInterval(5)
        while processes.contains(where: { $0.process.isRunning }), Date() < deadline {
            try? await Task.sleep(for: .milliseconds(100))
        }
        for entry in processes where entry.process.isRunning {
            entry.process.terminate()
            entry.process.waitUntilExit()
        }
        processes = []
    }
}
