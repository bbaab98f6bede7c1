import Foundation
import PushyZMQ

/// What the floor (`pushy-floor`, issue 16) measured at one size: the same figures as Pushy's,
/// taken the same way (CPU and RSS from /proc), with the floor's own checks passed.
struct FloorResult {
    var libzmq: String?
    var connectSeconds: Double?
    /// First commit sent → last result received, as the floor server timed it.
    var bigJob: [Double] = []
    var bigJobServerCPU: [Double] = []
    var bigJobSwarmCPU: [Double] = []
    var singleJob: [Double] = []
    var idleServerCPUPercent: Double?
    var idleSwarmCPUPercent: Double?
    var rssBaseline: Int?
    var rss: Int?
    var swarmRSS: Int?
    /// The server's counts and all agents' counts, once they agreed.
    var server = FloorCounts()
    var agents = FloorCounts()
    var jobs = 0
}

/// Runs the floor at one size: a `pushy-floor server` and `pushy-floor swarm` processes split as
/// Pushy's swarm is, CURVE on, connections spread over the same addresses; then the jobs, the
/// single-node jobs and the idle heartbeats Pushy ran, and the final tally. Throws on any failed
/// check: a missing answer, a duplicate, a count one side disagrees with.
struct FloorBench {
    let binDir: String
    let frames: FloorFrames
    let interval: Double
    let idleSeconds: Double
    let jobRuns: Int
    let singleRuns: Int
    let addressSpread: Int
    let shares: [(first: Int, count: Int)]

    func measure(size n: Int) async throws -> FloorResult {
        var f = FloorResult()
        let dir = NSTemporaryDirectory() + "pushy-floor-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let executable = binDir + "/pushy-floor"
        let traffic = ["--interval", "\(interval)", "--frames", frames.description]
        let server = try LineProcess(name: "pushy-floor server", executable: executable,
                                     arguments: ["server", "--agents", "\(n)"] + traffic, logPath: dir + "/server.log")
        var swarms: [LineProcess] = []
        do {
            try await run(&f, n: n, server: server, swarms: &swarms, dir: dir, executable: executable, traffic: traffic)
        } catch {
            for s in swarms { await s.stop() }
            await server.stop()
            throw error
        }
        for s in swarms { await s.stop() }
        await server.stop()
        try? FileManager.default.removeItem(atPath: dir)
        return f
    }

    func run(_ f: inout FloorResult, n: Int, server: LineProcess, swarms: inout [LineProcess], dir: String,
             executable: String, traffic: [String]) async throws {
        let ready = try await server.next("ready", timeout: 30)
        let fields = Dictionary(ready.split(separator: " ").dropFirst().compactMap { word -> (String, String)? in
            let pair = word.split(separator: "=", maxSplits: 1)
            return pair.count == 2 ? (String(pair[0]), String(pair[1])) : nil
        }, uniquingKeysWith: { a, _ in a })
        guard let router = fields["router"], let pub = fields["pub"], let key = fields["key"] else {
            throw BenchFailure("pushy-floor server said '\(ready)'")
        }
        f.libzmq = fields["libzmq"]
        f.rssBaseline = ProcessProbe.rss(pid: server.pid)
        for (i, s) in shares.enumerated() {
            swarms.append(try LineProcess(
                name: "pushy-floor swarm \(i)", executable: executable,
                arguments: ["swarm", "--count", "\(s.count)", "--first-index", "\(s.first)", "--router-port", router,
                            "--pub-port", pub, "--server-key", key, "--address-spread", "\(addressSpread)"] + traffic,
                logPath: dir + "/swarm-\(i).log"))
        }
        for s in swarms { _ = try await s.next("started", timeout: 120) }
        func swarmCPU() -> Double { swarms.compactMap { ProcessProbe.cpuSeconds(pid: $0.pid) }.reduce(0, +) }
        func serverCPU() -> Double { ProcessProbe.cpuSeconds(pid: server.pid) ?? 0 }
        func serverCounts() async throws -> FloorCounts {
            FloorCounts.parse(try await server.request("counts", expect: "counts").split(separator: " ").dropFirst().map { $0 })
        }

        // Every agent heard from (a heartbeat on its CURVE connection).
        let t = ContinuousClock.now
        let deadline = t + .seconds(120 + n / 50)
        var counts = try await serverCounts()
        while counts.nodes < n {
            guard ContinuousClock.now < deadline else {
                throw BenchFailure("floor: only \(counts.nodes) of \(n) agents were heard from within \(120 + n / 50) s")
            }
            try await Task.sleep(for: .milliseconds(100))
            counts = try await serverCounts()
        }
        f.connectSeconds = PushyBenchCommand.elapsed(since: t)
        let broadcastsAtConnected = counts.broadcasts
        say("   floor: \(n) agents connected in \(SizeResult.seconds(f.connectSeconds)) (libzmq \(f.libzmq ?? "?"))")

        func job(_ first: Int, _ count: Int, runAtCommit: Bool = false) async throws -> Double {
            let timeout = 60 + count / 100
            let answer = try await server.request("job \(first) \(count) \(timeout)\(runAtCommit ? " commit_run" : "")", expect: "job",
                                                  timeout: Double(timeout + 30))
            f.jobs += 1
            guard answer.hasPrefix("job ok"), let s = answer.split(separator: " ").last?.split(separator: "=").last,
                  let seconds = Double(s) else {
                throw BenchFailure("floor \(answer) (log: \(server.logPath))")
            }
            return seconds
        }
        for _ in 0..<jobRuns {
            let cpu = serverCPU(), swarm = swarmCPU()
            f.bigJob.append(try await job(0, n))
            f.bigJobServerCPU.append(serverCPU() - cpu)
            f.bigJobSwarmCPU.append(swarmCPU() - swarm)
            try await Task.sleep(for: .milliseconds(500))
        }
        for i in 0..<singleRuns {
            // As Pushy runs it: quorum 1, so the swarm's agents (which ask for commit_run) run at the commit.
            f.singleJob.append(try await job((i * 7919) % n, 1, runAtCommit: true))
            try await Task.sleep(for: .milliseconds(200))
        }
        say("   floor jobs: all \(SizeResult.millis(SizeResult.median(f.bigJob))), single \(SizeResult.fineMillis(SizeResult.median(f.singleJob)))")

        // Idle, as Pushy's: an interval to settle, then CPU averaged over the same span.
        try await Task.sleep(for: .seconds(interval))
        let cpu0 = serverCPU(), swarm0 = swarmCPU()
        let w = ContinuousClock.now
        try await Task.sleep(for: .seconds(idleSeconds))
        let wall = PushyBenchCommand.elapsed(since: w)
        f.idleServerCPUPercent = (serverCPU() - cpu0) / wall * 100
        f.idleSwarmCPUPercent = (swarmCPU() - swarm0) / wall * 100
        f.rss = ProcessProbe.rss(pid: server.pid)
        f.swarmRSS = swarms.compactMap { ProcessProbe.rss(pid: $0.pid) }.reduce(0, +)

        // The tally: heartbeats stop, then both sides' counts must agree exactly.
        for s in swarms { _ = try await s.request("quiet", expect: "quiet") }
        let tallyDeadline = ContinuousClock.now + .seconds(15)
        while true {
            let serverSide = try await serverCounts()
            var agents = FloorCounts()
            for s in swarms {
                agents = agents + FloorCounts.parse(try await s.request("counts", expect: "counts").split(separator: " ").dropFirst().map { $0 })
            }
            let published = max(0, serverSide.broadcasts - broadcastsAtConnected - 1)
            var wrong = serverSide.mismatches(agents: agents, publishedSinceConnected: published)
            let expected = jobRuns * n + singleRuns
            if serverSide.results != expected { wrong.append("results: \(serverSide.results) received, \(expected) expected from \(f.jobs) jobs") }
            if wrong.isEmpty {
                f.server = serverSide
                f.agents = agents
                break
            }
            guard ContinuousClock.now < tallyDeadline else {
                throw BenchFailure("floor: the two sides' counts disagree: " + wrong.joined(separator: "; "))
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        say("   floor idle CPU \(String(format: "%.2f", f.idleServerCPUPercent ?? -1)) %, RSS \(SizeResult.megabytes(f.rss)); counts agree (\(f.server))")
    }
}
