import ArgumentParser
import Foundation
import PushyAPIClient
import PushyProtocol
import PushySwarm
import PushyZMQ

/// `pushy-bench` (= `pushy-bench scale`, the scale benchmark) and `pushy-bench soak`.
@main
struct PushyBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pushy-bench",
        abstract: "Benchmark or soak a pushy-server with thousands of virtual agents (loopback only).",
        subcommands: [PushyBenchCommand.self, SoakCommand.self, AgentsCommand.self, ClusterCommand.self, HeartbeatCommand.self],
        defaultSubcommand: PushyBenchCommand.self)
}

/// Starts a release server and swarms of virtual agents on loopback, measures issue 5's
/// figures for each size, prints one table per size and writes them to docs/performance.md.
struct PushyBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scale",
        abstract: "Benchmark a pushy-server with thousands of virtual agents (loopback only).")

    @Option(help: "Comma-separated swarm sizes; 'max' = the most the server's file limit allows.")
    var sizes = "1000,5000,max"
    @Option(help: "Directory holding pushy-server and pushy-swarm (a release build).") var bin = ".build/release"
    @Option(help: "Markdown file to update (between the bench markers).") var output = "docs/performance.md"
    @Option(help: "Heartbeat interval, seconds (the issue's targets assume the default 10).") var interval = 10.0
    @Option(help: "Seconds of idle heartbeating over which server CPU is averaged.") var idleSeconds = 30.0
    @Option(help: "Runs of each all-node job measurement.") var jobRuns = 5
    @Option(help: "Runs of the single-node job measurements (its figure is a sub-millisecond difference: more samples).")
    var singleRuns = 20
    @Option(help: "Most agents per swarm process.") var perProcess = 4000
    @Option(help: "Spread agents' connections over 127.0.0.1...127.0.0.N.") var addressSpread = 4
    @Flag(help: "Skip the dead-node and restart measurements.") var quick = false
    @Flag(help: "Print the tables only; leave the Markdown file alone.") var noWrite = false
    @Flag(help: "Skip the floor (pushy-floor, issue 16) after each size.") var noFloor = false
    @Flag(help: "Run only the floor at each size (no Pushy server or swarm): checks the floor itself.") var floorOnly = false
    @Option(help: "Longest wait, seconds, for the server's RSS to stop growing after the jobs.") var settleMaxSeconds = 240.0
    @Flag(help: "Exit non-zero when a size stopped early (a failed floor always does).") var strict = false

    func validate() throws {
        guard !(noFloor && floorOnly) else { throw ValidationError("--no-floor and --floor-only exclude each other") }
        guard jobRuns >= 1, singleRuns >= 1 else { throw ValidationError("--job-runs and --single-runs must be at least 1") }
    }

    func run() async throws {
        let limit = ProcessProbe.fileLimit()
        // The server needs about 2 descriptors per agent (PUB + ROUTER connection) plus a reserve.
        let serverMax = (limit - 400) / 2
        let largest = min(9500, serverMax)
        var skipped: [String] = []
        var wanted: [Int] = []
        for word in sizes.split(separator: ",") {
            let w = word.trimmingCharacters(in: .whitespaces)
            guard let n = w == "max" ? largest : Int(w), n > 0 else { throw ValidationError("bad size '\(w)'") }
            if n > serverMax {
                skipped.append("\(n): the server would need about \(2 * n + 400) descriptors, its limit is \(limit)")
            } else {
                wanted.append(n)
            }
        }
        let perProcess = min(self.perProcess, Swarm.maximumAgents(fileLimit: limit))
        let commit = Self.shell("git rev-parse --short HEAD") ?? "?"
        let engine = floorOnly ? nil : try await EngineMemory.bytesPerNode(nodes: largest)
        let engineBytes = engine?.bytes ?? 0
        let frames = try FloorTraffic.pushyFrames()
        let header = """
            Run \(ISO8601DateFormatter().string(from: Date())) · commit `\(commit)` · \(ProcessProbe.machine())
            · heartbeat interval \(interval) s · swarm processes of ≤ \(perProcess) agents · connections spread over \
            127.0.0.1–127.0.0.\(addressSpread) · CURVE on · no-op command (0 ms), no failures
            \(floorOnly ? "· the floor only (--floor-only): no Pushy figures" : "· Pushy's own state per node, without libzmq (an engine in the bench process given \(largest) sessions): \(String(format: "%.1f", engineBytes / 1024)) KB; its CPU per idle heartbeat: check \(String(format: "%.2f", engine?.heartbeat.checkMicroseconds ?? 0)) µs, engine \(String(format: "%.2f", engine?.heartbeat.handleMicroseconds ?? 0)) µs")
            \(noFloor ? "" : "· the floor (issue 16, `pushy-floor`, docs/performance.md \"The floor\"), after Pushy at each size: the same libzmq, connections, CURVE, interval and Pushy's frame sizes in bytes, header+body: \(frames)")
            """
        say(header)
        for s in skipped { say("skipped size \(s)") }
        var results: [SizeResult] = []
        var failures: [String] = []
        for n in wanted {
            say("== \(n) agents")
            var r = SizeResult(size: n, interval: interval)
            do {
                if !floorOnly { try await measure(&r, perProcess: perProcess) }
            } catch {
                r.notes.append("stopped early: \(error)")
                say("   stopped early: \(error)")
                if strict { failures.append("\(n) agents: stopped early: \(error)") }
            }
            if !noFloor {
                let bench = FloorBench(binDir: bin, frames: frames, interval: interval, idleSeconds: idleSeconds, jobRuns: jobRuns, singleRuns: singleRuns,
                                       addressSpread: addressSpread, shares: SwarmFleet.shares(count: n, perProcess: perProcess))
                do {
                    r.floor = try await bench.measure(size: n)
                } catch {
                    r.floorFailure = "\(error)"
                    failures.append("\(n) agents: the floor failed: \(error)")
                    say("   FLOOR FAILED: \(error)")
                }
            }
            say(floorOnly ? r.floorMarkdown ?? "" : r.markdown)
            results.append(r)
        }
        if !noWrite {
            var section = header + "\n"
            if !skipped.isEmpty { section += "\nSkipped sizes:\n" + skipped.map { "- \($0)\n" }.joined() }
            for r in results { section += "\n" + (floorOnly ? r.floorMarkdown ?? "" : r.markdown) }
            try Self.update(output, section: section)
            say("wrote \(output)")
        }
        guard failures.isEmpty else {
            for f in failures { say("FAILED: \(f)") }
            throw ExitCode(1)
        }
    }

    // MARK: One size

    func measure(_ r: inout SizeResult, perProcess: Int) async throws {
        let server = try ServerProcess(binDir: bin, interval: interval)
        defer { server.stop(); server.removeData() }
        try await server.start()
        let fleet = SwarmFleet(binDir: bin, server: server, count: r.size, perProcess: perProcess,
                               addressSpread: addressSpread)
        r.processes = fleet.shares.count
        let names = (0..<r.size).map { Swarm.nodeName(prefix: "swarm", index: $0) }

        let t = ContinuousClock.now
        try await fleet.register(timeout: 600)
        r.registerSeconds = Self.elapsed(since: t)
        try await Task.sleep(for: .seconds(1))
        r.rssBaseline = ProcessProbe.rss(pid: server.pid)
        say("   registered in \(SizeResult.seconds(r.registerSeconds))")

        do {
            try await measureRunning(&r, server: server, fleet: fleet, names: names)
        } catch {
            await fleet.stop()
            throw error
        }
        await fleet.stop()
    }

    /// Samples the server's RSS every 10 s until it grew less than 0.5 % over 30 s (or 4 minutes
    /// passed): the memory a long-running server holds, not just a freshly connected one.
    func measureSettledMemory(_ r: inout SizeResult, server: ServerProcess, since start: ContinuousClock.Instant) async throws {
        if let z = (try? await server.admin.status())?["libzmq"], let version = z["version"]?.stringValue {
            r.libzmq = version + (z["built_in"]?.boolValue == true ? " built in" : " shared")
        }
        var samples: [Int] = []
        let deadline = ContinuousClock.now + .milliseconds(Int(settleMaxSeconds * 1000))
        repeat {
            guard let now = ProcessProbe.rss(pid: server.pid) else { break }
            samples.append(now)
            if samples.count >= 4, Double(now - samples[samples.count - 4]) < 0.005 * Double(now) {
                r.settled = true
                break
            }
            if ContinuousClock.now >= deadline { break }
            try await Task.sleep(for: .seconds(10))
        } while ContinuousClock.now < deadline
        r.rssSettled = samples.last
        r.settleSeconds = Self.elapsed(since: start)
        say("   settled RSS \(SizeResult.megabytes(r.rssSettled)) after \(SizeResult.seconds(r.settleSeconds))\(r.settled ? "" : " (still growing)") (libzmq \(r.libzmq ?? "?"))")
    }

    /// The measurements with the swarm running.
    func measureRunning(_ r: inout SizeResult, server: ServerProcess, fleet: SwarmFleet, names: [String]) async throws {
        let admin = server.admin!
        var t = ContinuousClock.now
        let connectCPU = ProcessProbe.cpuSeconds(pid: server.pid) ?? 0, connectSwarmCPU = fleet.cpuSeconds
        try fleet.start()
        let all = Set(names)
        r.available = try await waitAvailable(admin, all, timeout: 120 + Double(r.size) / 50, poll: .milliseconds(500))
        r.availableSeconds = r.available == r.size ? Self.elapsed(since: t) : nil
        let allAvailable = ContinuousClock.now
        let connectWall = Self.elapsed(since: t)
        r.connectCPU = (((ProcessProbe.cpuSeconds(pid: server.pid) ?? 0) - connectCPU) / connectWall * 100,
                        (fleet.cpuSeconds - connectSwarmCPU) / connectWall * 100)
        say("   \(r.available) available after \(SizeResult.seconds(Self.elapsed(since: t)))")
        guard r.available == r.size else { throw BenchFailure("only \(r.available) of \(r.size) agents became available") }

        // Idle: let the connect burst settle, then average CPU over whole heartbeat intervals.
        try await Task.sleep(for: .seconds(interval))
        let cpu0 = ProcessProbe.cpuSeconds(pid: server.pid) ?? 0, swarm0 = fleet.cpuSeconds
        let w = ContinuousClock.now
        try await Task.sleep(for: .seconds(idleSeconds))
        let wall = Self.elapsed(since: w)
        r.idleCPUPercent = ((ProcessProbe.cpuSeconds(pid: server.pid) ?? 0) - cpu0) / wall * 100
        r.swarmIdleCPUPercent = (fleet.cpuSeconds - swarm0) / wall * 100
        r.rss = ProcessProbe.rss(pid: server.pid)
        r.swarmRSS = fleet.rssTotal
        r.serverFiles = ProcessProbe.openFiles(pid: server.pid)
        say("   idle CPU \(String(format: "%.2f", r.idleCPUPercent ?? -1)) %, RSS \(SizeResult.megabytes(r.rss))")

        // Jobs, with the CPU the server and the swarm spent on each (where the time goes).
        // The org feed is open from here on: single-node jobs are timed to their job_complete on it.
        let watch = CompletionWatch(admin)
        defer { watch.stop() }
        for _ in 0..<jobRuns {
            let cpu = ProcessProbe.cpuSeconds(pid: server.pid) ?? 0, swarmCPU = fleet.cpuSeconds
            let (seconds, post, status, _, _) = try await timeJob(admin, nodes: names, poll: .milliseconds(20))
            r.bigJob.append(seconds)
            r.bigJobPost.append(post)
            r.bigJobServerCPU.append((ProcessProbe.cpuSeconds(pid: server.pid) ?? 0) - cpu)
            r.bigJobSwarmCPU.append(fleet.cpuSeconds - swarmCPU)
            r.bigJobStatuses.append(status)
            try await Task.sleep(for: .milliseconds(500))
        }
        for i in 0..<singleRuns {
            let node = names[(i * 7919) % names.count]
            // Timed on the feed alone (no long poll competing for the cores while it runs) ...
            let (fed, post) = try await timeJobOnFeed(admin, node: node, watch: watch)
            r.singleJob.append(fed)
            r.singleJobPost.append(post)
            r.singleJobAfterPost.append(fed - post)
            try await Task.sleep(for: .milliseconds(200))
            // ... then another job on the same node timed by the long poll, for comparison.
            let (seconds, _, _, id, _) = try await timeJob(admin, nodes: [node], poll: .milliseconds(1))
            r.singleJobPolled.append(seconds)
            // The REST read that saw the job end, alone: the same request of the finished job.
            let t = ContinuousClock.now
            _ = try await admin.job(id, nodes: false, wait: 20)
            r.singleJobRead.append(Self.elapsed(since: t))
            try await Task.sleep(for: .milliseconds(200))
        }
        say("   jobs: all \(SizeResult.millis(SizeResult.median(r.bigJob))), single \(SizeResult.millis(SizeResult.median(r.singleJob)))"
            + " (after its 201: p50 \(SizeResult.fineMillis(SizeResult.median(r.singleJobAfterPost))))")
        try await measureSettledMemory(&r, server: server, since: allAvailable)
        if quick { return }

        // Dead nodes: 1 % go silent (sockets stay open, like a hung host).
        let mutedIndexes = Array(stride(from: 50, to: r.size, by: 100))
        let muted = Set(mutedIndexes.map { names[$0] })
        r.muted = muted.count
        fleet.mute(mutedIndexes)
        t = ContinuousClock.now
        var offlineAt: [String: Double] = [:]
        let deadline = Date().addingTimeInterval(180)
        while offlineAt.count < muted.count, Date() < deadline {
            try await Task.sleep(for: .seconds(1))
            let states = try await admin.nodeStates()
            let now = Self.elapsed(since: t)
            // The server lists only nodes it has a session for: absent means offline.
            let online = Set(states.filter { $0.status == .online }.map(\.nodeName))
            for name in muted where !online.contains(name) && offlineAt[name] == nil { offlineAt[name] = now }
            r.falseOffline = max(r.falseOffline, all.subtracting(muted).subtracting(online).count)
        }
        r.deadDetected = offlineAt.count
        r.deadFirst = offlineAt.values.min()
        r.deadLast = offlineAt.count == muted.count ? offlineAt.values.max() : nil
        say("   dead nodes: \(r.deadDetected)/\(r.muted) offline, last after \(SizeResult.seconds(r.deadLast)), false \(r.falseOffline)")

        // Crash and restart: every live agent must come back by itself.
        let live = all.subtracting(muted)
        t = ContinuousClock.now
        let restartSwarmCPU = fleet.cpuSeconds
        server.kill9()
        try await server.start()
        var lastCPU = ProcessProbe.cpuSeconds(pid: server.pid) ?? 0
        var lastTime = ContinuousClock.now
        var peak = 0.0
        let restartDeadline = Date().addingTimeInterval(240)
        while Date() < restartDeadline {
            try await Task.sleep(for: .seconds(1))
            let cpu = ProcessProbe.cpuSeconds(pid: server.pid) ?? lastCPU
            peak = max(peak, (cpu - lastCPU) / Self.elapsed(since: lastTime) * 100)
            lastCPU = cpu
            lastTime = ContinuousClock.now
            let asked = ContinuousClock.now
            let states = (try? await admin.nodeStates()) ?? []
            r.restartSlowestREST = max(r.restartSlowestREST ?? 0, Self.elapsed(since: asked))
            r.restartAvailable = states.filter { $0.availability == .available && live.contains($0.nodeName) }.count
            if r.restartAvailable == live.count {
                r.restartSeconds = Self.elapsed(since: t)
                break
            }
        }
        r.restartPeakCPU = peak
        r.restartSwarmCPU = (fleet.cpuSeconds - restartSwarmCPU) / Self.elapsed(since: t) * 100
        say("   restart: \(r.restartAvailable)/\(live.count) available after \(SizeResult.seconds(r.restartSeconds)), peak CPU \(Int(peak)) %")
    }

    /// Polls node_states until every name in `names` is available or `timeout` passes.
    func waitAvailable(_ admin: PushyRESTClient, _ names: Set<String>, timeout: Double, poll: Duration) async throws -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        var available = 0
        while Date() < deadline {
            let states = (try? await admin.nodeStates()) ?? []
            available = states.filter { $0.availability == .available && names.contains($0.nodeName) }.count
            if available == names.count { break }
            try await Task.sleep(for: poll)
        }
        return available
    }

    /// POST a no-op job and poll it until it ends (≤ 120 s); seconds measured at the client,
    /// request signing included.
    /// Returns (POST → complete, POST → 201, final status, job id, POST → its job_complete on
    /// `watch`'s feed when given).
    /// A single-node job timed POST → its `job_complete` on `watch`'s feed, with no other request
    /// in flight. Returns (POST → complete, POST → 201); fails the bench when the feed does not
    /// report it (a figure is never quietly taken another way).
    func timeJobOnFeed(_ admin: PushyRESTClient, node: String, watch: CompletionWatch) async throws -> (Double, Double) {
        let t = ContinuousClock.now
        let id = try await admin.startJob(JobRequest(command: "noop", nodes: [node]))
        let post = Self.elapsed(since: t)
        guard let at = await watch.completed(id, timeout: .seconds(20)) else {
            throw BenchFailure("the org feed did not report job \(id)'s completion within 20 s"
                               + (watch.failure.map { " (the feed failed: \($0))" } ?? ""))
        }
        let v = try await admin.job(id, nodes: false)
        if v.status != .complete { print("   single-node job \(id) ended \(v.status.rawValue): \(v.statusReason ?? "no reason")") }
        let d = t.duration(to: at)
        return (Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18, post)
    }

    func timeJob(_ admin: PushyRESTClient, nodes: [String], poll: Duration,
                 watch: CompletionWatch? = nil) async throws -> (Double, Double, String, String, Double?) {
        let t = ContinuousClock.now
        let id = try await admin.startJob(JobRequest(command: "noop", nodes: nodes))
        let post = Self.elapsed(since: t)
        // The feed's job_complete and the long poll, side by side (the poll starts after the 201).
        async let seen: ContinuousClock.Instant? = watch?.completed(id, timeout: .seconds(20))
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            // A long poll without the node groups: the server answers when the job has ended
            // (no polling load on the shared cores); the full job is read afterwards, untimed.
            var v = try await admin.job(id, nodes: false, wait: 20)
            if v.status.isTerminal {
                let elapsed = Self.elapsed(since: t)
                v = try await admin.job(id)
                if v.status != .complete {
                    let groups = (v.nodes ?? []).map { "\($0.0.rawValue) \($0.1.count)" }.joined(separator: ", ")
                    let reasons = Dictionary((v.nodeReasons ?? []).map { ($0.1, 1) }, uniquingKeysWith: +)
                    print("   job \(id) ended \(v.status.rawValue): \(v.statusReason ?? "no reason"); nodes: \(groups); reasons: \(reasons)")
                }
                let fed = await seen.map { at -> Double in
                    let d = t.duration(to: at)
                    return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
                }
                return (elapsed, post, v.status.rawValue, id, fed)
            }
            try await Task.sleep(for: poll)
        }
        throw BenchFailure("job \(id) over \(nodes.count) nodes did not finish within 120 s")
    }

    static func elapsed(since t: ContinuousClock.Instant) -> Double {
        let d = t.duration(to: .now)
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    static func shell(_ command: String) -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return nil }
        p.waitUntilExit()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return p.terminationStatus == 0 ? text.trimmingCharacters(in: .whitespacesAndNewlines) : nil
    }

    static let begin = "<!-- bench:begin -->", end = "<!-- bench:end -->"

    /// Replaces the text between the bench markers (or appends a marked section).
    static func update(_ path: String, section: String, begin: String = begin, end: String = end) throws {
        var text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "# Performance\n\n"
        let block = "\(begin)\n\(section)\n\(end)"
        if let a = text.range(of: begin), let b = text.range(of: end), a.lowerBound < b.lowerBound {
            text.replaceSubrange(a.lowerBound..<b.upperBound, with: block)
        } else {
            text += "\n" + block + "\n"
        }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }
}

/// Writes a line to stdout unbuffered, so progress reaches a log file as it happens.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
