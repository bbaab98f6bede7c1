import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import PushyAPIClient
import PushyProtocol

/// `pushy-bench agents`: the footprint of real `pushy-client` processes (issue 16 point 5), not
/// the swarm's virtual agents. N agents join a server, run one job, then idle; each one's RSS,
/// PSS (its fair share of pages shared with the other agents: what N of them really cost) and
/// idle CPU are read from /proc.
struct AgentsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agents",
        abstract: "Memory and idle CPU of N real pushy-client processes.",
        discussion: """
            Examples:
              pushy-bench agents --count 20
              pushy-bench agents --count 20 --client-bin .build-static/release   # another build of the agent
            """)

    @Option(help: "Agent processes.") var count = 20
    @Option(help: "Directory holding pushy-server (a release build).") var bin = ".build/release"
    @Option(help: "Directory holding the pushy-client to measure (default: --bin).") var clientBin: String?
    @Option(help: "Seconds of idle heartbeating over which the agents' CPU is averaged.") var idleSeconds = 30.0
    @Option(help: "Heartbeat interval, seconds.") var interval = 10.0

    func validate() throws {
        guard (1...500).contains(count) else { throw ValidationError("--count must be from 1 to 500") }
        guard idleSeconds >= 5 else { throw ValidationError("--idle-seconds must be at least 5") }
    }

    func run() async throws {
        let clientDir = clientBin ?? bin
        let client = clientDir + "/pushy-client"
        guard FileManager.default.isExecutableFile(atPath: client) else {
            throw BenchFailure("\(client) is missing: build it first (swift build -c release)")
        }
        print("agents: \(count) pushy-client processes (\(client), \(Self.linkage(client))), "
              + "heartbeat \(interval) s · \(ProcessProbe.machine())")
        let server = try ServerProcess(binDir: bin, interval: interval)
        try await server.start()
        var agents: [Process] = []
        defer {
            // SIGTERM, then SIGKILL to any still running 10 s later; no wait without a deadline.
            for p in agents where p.isRunning { p.terminate() }
            let deadline = Date().addingTimeInterval(10)
            while agents.contains(where: \.isRunning), Date() < deadline { usleep(50_000) }
            for p in agents where p.isRunning { kill(p.processIdentifier, SIGKILL) }
            server.stop()
            try? FileManager.default.removeItem(atPath: server.dataDir)
        }
        let names = (0..<count).map { String(format: "agent-%03d", $0) }
        for name in names {
            let key = try RSAPrivateKey.generate()
            let keyPath = server.dataDir + "/\(name).pem"
            FileManager.default.createFile(atPath: keyPath, contents: Data(key.pemRepresentation.utf8),
                                           attributes: [.posixPermissions: 0o600])
            try await server.admin.createClient(name: name, publicKeyPEM: key.publicKey.pemRepresentation)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: client)
            p.arguments = ["--server-url", server.orgURL, "--node", name, "--key", keyPath,
                           "--trusted-cert", server.certificatePath, "--log-level", "warning",
                           "--file-dir", server.dataDir + "/files-\(name)", "--whitelist", "ok=/bin/true"]
            let log = server.dataDir + "/\(name).log"
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            p.standardOutput = handle
            p.standardError = handle
            p.standardInput = FileHandle.nullDevice
            try p.run()
            agents.append(p)
        }
        let joined = ContinuousClock.now
        let deadline = Date().addingTimeInterval(120)
        while true {
            let available = (try? await server.admin.nodeStates())?.filter { $0.availability == .available }.count ?? 0
            if available == count { break }
            guard Date() < deadline else { throw BenchFailure("only \(available) of \(count) agents available after 120 s (logs in \(server.dataDir))") }
            try await Task.sleep(for: .milliseconds(200))
        }
        print("  all \(count) available \(Self.seconds(ContinuousClock.now - joined)) after starting them")
        let id = try await server.admin.startJob(JobRequest(command: "ok", nodes: names))
        let job = try await server.admin.job(id, wait: 60)
        let succeeded = job.nodes?.first { $0.0 == .succeeded }?.1.count ?? 0
        guard job.status == .complete, succeeded == count else {
            throw BenchFailure("the job over all agents ended \(job.status.rawValue) with \(succeeded) of \(count) succeeded")
        }
        print("  one job over all of them: complete, \(succeeded) succeeded")

        // Idle: CPU over `idleSeconds`, memory at the end.
        let pids = agents.map(\.processIdentifier)
        let cpuBefore = pids.map { ProcessProbe.cpuSeconds(pid: $0) ?? 0 }
        try await Task.sleep(for: .seconds(idleSeconds))
        let cpuAfter = pids.map { ProcessProbe.cpuSeconds(pid: $0) ?? 0 }
        let idle = zip(cpuAfter, cpuBefore).map { ($0 - $1) / idleSeconds * 100 }
        let memory = pids.compactMap(Self.rollup)
        guard memory.count == count else { throw BenchFailure("\(count - memory.count) agent(s) exited (logs in \(server.dataDir))") }
        let rss = memory.map(\.rss).sorted(), pss = memory.map(\.pss)
        let mib = { (b: Int) in String(format: "%.1f MiB", Double(b) / 1_048_576) }
        print("""

            | measure (\(count) agents, \(Self.linkage(client))) | figure |
            |---|---|
            | RSS per agent, median / max | \(mib(rss[rss.count / 2])) / \(mib(rss.last!)) |
            |   of which anonymous (heap, stacks), median | \(mib(memory.map(\.anon).sorted()[count / 2])) |
            | PSS per agent (shared pages split between the agents), mean | \(mib(pss.reduce(0, +) / count)) |
            | all \(count) agents together (sum of PSS) | \(mib(pss.reduce(0, +))) |
            | idle CPU per agent, mean / max (% of one core, \(Int(idleSeconds)) s, heartbeat \(interval) s) | \(String(format: "%.3f %% / %.3f %%", idle.reduce(0, +) / Double(count), idle.max() ?? 0)) |
            """)
    }

    /// `Rss`, `Pss` and `Pss_Anon` of /proc/PID/smaps_rollup, in bytes.
    static func rollup(_ pid: Int32) -> (rss: Int, pss: Int, anon: Int)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8) else { return nil }
        var found: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let name = parts.first, let kb = parts.dropFirst().first.flatMap({ Int($0) }) else { continue }
            found[String(name.dropLast())] = kb * 1024
        }
        guard let rss = found["Rss"], let pss = found["Pss"] else { return nil }
        return (rss, pss, found["Pss_Anon"] ?? 0)
    }

    /// Whether the binary loads the Swift runtime as shared libraries or carries it.
    static func linkage(_ path: String) -> String {
        guard let data = FileManager.default.contents(atPath: path) else { return "?" }
        return data.range(of: Data("libswiftCore.so".utf8)) == nil ? "Swift runtime linked in" : "Swift runtime shared"
    }

    static func seconds(_ d: Duration) -> String {
        String(format: "%.1f s", Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
    }
}
