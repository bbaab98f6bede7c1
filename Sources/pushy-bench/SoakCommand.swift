import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import PushyAPIClient
import PushyProtocol
import PushySwarm

/// `pushy-bench soak`: a churn soak (issue 11 point 5). A server and a swarm of agents that
/// record what they did; for `--minutes`, jobs back to back and overlapping, each with its own
/// mix of successes, failures, nacks, slow commands (some past a short run timeout) and quorum,
/// some aborted over REST, while agents in jobs are muted for a while or restarted. Every job
/// must end within its deadlines and every node's state must agree with what its agent did
/// (`SoakCheck`). Fails (exit 1) on a stuck job or a mismatch.
struct SoakCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak",
        abstract: "Churn soak: thousands of short jobs over a swarm; every job ends, every node state agrees.")

    @Option(help: "Agents in the swarm.") var agents = 2000
    @Option(help: "Minutes of jobs (after the agents are available).") var minutes = 30.0
    @Option(help: "Directory holding pushy-server and pushy-swarm.") var bin = ".build/release"
    @Option(help: "Heartbeat interval, seconds (muted agents are noticed about 2.5 intervals after going silent).")
    var interval = 2.0
    @Option(help: "Server voting timeout, seconds.") var votingTimeout = 10.0
    @Option(help: "Jobs in flight at once.") var concurrency = 6
    @Option(help: "Most nodes in one job.") var maxNodes = 300
    @Option(help: "Seconds of jobs before the first RSS sample (default: a quarter of the run, at most 120).")
    var warmupSeconds: Double?
    @Option(help: "Most agents per swarm process.") var perProcess = 4000
    @Option(help: "Spread agents' connections over 127.0.0.1...127.0.0.N.") var addressSpread = 4
    @Option(help: "Seconds between disruptions (one mute and one restart of agents in jobs).") var chaosSeconds = 2.0
    @Flag(help: "Also fail when the server's RSS grew more than 5 % from the first sample to the last.")
    var strictRss = false
    @Option(help: "The server's log level (info logs every node going offline, with its time).") var serverLogLevel = "warning"
    @Flag(help: "Keep the server's data directory (logs, database) even when the soak passes.") var keep = false

    func validate() throws {
        guard agents >= 10 else { throw ValidationError("--agents must be ≥ 10") }
        guard minutes > 0, interval > 0, votingTimeout > 0, concurrency >= 1, maxNodes >= 1 else {
            throw ValidationError("--minutes, --interval, --voting-timeout, --concurrency and --max-nodes must be positive")
        }
    }

    func run() async throws {
        let started = ContinuousClock.now
        say("soak: \(agents) agents, \(minutes) min, heartbeat \(interval) s, voting timeout \(votingTimeout) s, "
            + "\(concurrency) jobs in flight, bin \(bin) · \(ProcessProbe.machine())")
        let server = try ServerProcess(binDir: bin, interval: interval,
                                       initArguments: ["--voting-timeout", "\(votingTimeout)"])
        server.logLevel = serverLogLevel
        try await server.start()
        let children = SoakChildren()
        children.set([server.pid])
        let guardian = Self.stopOnSignal(children)
        defer { guardian.forEach { $0.cancel() } }
        var passed = false
        defer {
            server.stop()
            if passed && !keep { server.removeData() } else { say("soak: server data and logs kept in \(server.dataDir)") }
        }
        let perProcess = min(self.perProcess, Swarm.maximumAgents(fileLimit: ProcessProbe.fileLimit()))
        let fleet = SwarmFleet(binDir: bin, server: server, count: agents, perProcess: perProcess, addressSpread: addressSpread)
        fleet.prefix = "soak"
        try await fleet.register(timeout: 600)
        say("soak: registered \(agents) clients after \(Self.seconds(since: started))")
        let swarm = try SoakSwarm(binDir: bin, shares: fleet.shares, logDir: server.dataDir) { first, count in
            fleet.arguments(first: first, count: count) + ["--no-register", "--record-jobs", "--splay-seconds", "5",
                                                           "--stats-interval", "30"]
        }
        children.set(swarm.members.map { $0.process.processIdentifier } + [server.pid])
        do {
            passed = try await soak(server: server, swarm: swarm)
        } catch {
            await swarm.stop()
            throw error
        }
        await swarm.stop()
        say("  swarm: latest heartbeat \(swarm.stat("hbLagMaxMs").map { "\($0) ms" } ?? "?") after it was due (at most); "
            + "send failures \(swarm.stat("sendFailures").map(String.init) ?? "?"); final stats in \(server.dataDir)/soak-swarm-*.log")
        guard passed else { throw ExitCode(1) }
    }

    /// On SIGTERM or SIGINT (e.g. `timeout` in `make test`), kill the server and the swarm
    /// processes before exiting, so none outlives the soak.
    static func stopOnSignal(_ children: SoakChildren) -> [any DispatchSourceSignal] {
        [SIGTERM, SIGINT].map { sig in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                let pids = children.get()
                say("soak: signal \(sig): killing the server and the swarm (pids \(pids))")
                for pid in pids where pid > 0 { kill(pid, SIGKILL) }
                Glibc.exit(124)
            }
            source.resume()
            return source
        }
    }

    static func seconds(since t: ContinuousClock.Instant) -> String {
        String(format: "%.1f s", PushyBenchCommand.elapsed(since: t))
    }

    /// The soak proper, with the agents started; true when it passed.
    func soak(server: ServerProcess, swarm: SoakSwarm) async throws -> Bool {
        let admin = server.admin!
        let names = (0..<agents).map { Swarm.nodeName(prefix: "soak", index: $0) }
        let t = ContinuousClock.now
        let available = try await Self.waitAvailable(admin, Set(names), timeout: 120 + Double(agents) / 50)
        guard available == agents else { throw BenchFailure("only \(available) of \(agents) agents became available") }
        say("soak: all \(agents) available after \(Self.seconds(since: t))")
        let statusBefore = (try? await admin.status()) ?? .null

        let state = SoakState(agents: agents)
        let end = ContinuousClock.now + .seconds(minutes * 60)
        let warmup = warmupSeconds ?? min(120, minutes * 60 / 4)
        let runStart = ContinuousClock.now
        let settings = SoakJob.Settings(votingTimeout: votingTimeout, maxNodes: min(maxNodes, agents), names: names)

        let concurrency = self.concurrency, chaosSeconds = self.chaosSeconds, interval = self.interval
        let serverPid = server.pid
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    var jobsDone = 0
                    while ContinuousClock.now < end {
                        guard let job = await SoakJob.make(state: state, settings: settings) else {
                            // Every node is in a job: wait for one to end (bounded by the jobs' deadlines).
                            await state.waitForFreeNodes(until: end)
                            continue
                        }
                        await job.run(admin: admin, swarm: swarm, state: state)
                        jobsDone += 1
                        if jobsDone % 50 == 0, worker == 0 { await state.progress(since: runStart) }
                    }
                }
            }
            // A mute lasts longer than the server can take to notice it: ≈ 2.5 intervals of
            // silence, judged up to 4 intervals late while the server is behind its messages
            // (CommandEngine.livenessHoldBack), and a margin.
            group.addTask { await Self.disrupt(state: state, swarm: swarm, until: end, every: chaosSeconds, muteSeconds: 8 * interval + 2) }
            group.addTask {
                await Self.sampleMemory(state: state, pid: serverPid, warmup: runStart + .seconds(warmup), until: end) {
                    (try? await admin.status())?["memory"]
                }
            }
            try await group.waitForAll()
        }
        // Bring back any agent still muted, so the next run of this swarm starts clean.
        let stillMuted = await state.mutedNow()
        if !stillMuted.isEmpty { swarm.send("unmute", stillMuted) }
        let statusAfter = (try? await admin.status()) ?? .null
        let r = await state.result()
        let reconciliations = Self.counter(statusAfter, ["reconciliations"])
        let resent = Self.counter(statusAfter, ["runs_resent", "runsResent"])
        let droppedBefore = Self.sum(statusBefore["dropped_messages"]), droppedAfter = Self.sum(statusAfter["dropped_messages"])
        let growth = r.rssFirst.flatMap { first in r.rssLast.map { Double($0 - first) / Double(first) * 100 } }
        let rssOK = growth.map { $0 <= 5 } ?? false
        let lines = [
            "soak result: \(agents) agents, \(String(format: "%.1f", PushyBenchCommand.elapsed(since: runStart) / 60)) min of jobs",
            "  jobs run: \(r.jobs) (\(r.nodeRuns) node runs); by status: \(r.jobStatuses)",
            "  node states: \(r.nodeStatuses)",
            "  stuck: \(r.stuck) (must be 0)",
            "  mismatches: \(r.mismatches) (must be 0), of which \(r.falseOffline) nodes the server found dead "
                + "(liveness lost) while their agents, never muted or restarted, were heartbeating",
            "  report failures (swarm did not answer): \(r.reportFailures)",
            "  disruptions: \(r.mutes) mutes, \(swarm.restarted.value) restarts (of \(r.restartsAsked) asked; idle agents are not restarted), \(r.aborts) REST aborts",
            "  reconciliations: \(reconciliations.map(String.init) ?? "n/a (the server's /pushy/_status has no 'reconciliations' yet)")"
                + "; runs resent: \(resent.map(String.init) ?? "n/a")",
            "  dropped messages (server): \(droppedBefore) before the jobs, \(droppedAfter) after \(Self.describe(statusAfter["dropped_messages"]))",
            "  server RSS: \(SizeResult.megabytes(r.rssFirst)) after \(Int(warmup)) s of jobs, \(SizeResult.megabytes(r.rssLast)) at the end, "
                + "max \(SizeResult.megabytes(r.rssMax)) (\(r.rssSamples) samples); growth "
                + (growth.map { String(format: "%+.1f %%", $0) } ?? "—") + (rssOK ? " (flat within 5 %)" : " (NOT within 5 %)"),
        ]
        for l in lines { say(l) }
        let passed = r.jobs > 0 && r.stuck == 0 && r.mismatches == 0 && r.reportFailures == 0 && (!strictRss || rssOK)
        say(passed ? "soak: PASSED" : "soak: FAILED")
        return passed
    }

    /// Every `every` seconds: mute one agent that is in a job (unmuted after `muteSeconds`,
    /// longer than the server needs to notice) and restart another. Stops at `end`.
    static func disrupt(state: SoakState, swarm: SoakSwarm, until end: ContinuousClock.Instant, every: Double, muteSeconds: Double) async {
        while ContinuousClock.now < end {
            try? await Task.sleep(for: .seconds(every))
            let due = await state.unmuteDue()
            if !due.isEmpty { swarm.send("unmute", due) }
            guard ContinuousClock.now < end else { break }
            if let m = await state.pickBusy(toMute: true, for: muteSeconds) { swarm.send("mute", [m]) }
            if let k = await state.pickBusy(toMute: false, for: 0) { swarm.send("restart", [k]) }
        }
        // Mutes still on run their full time (the server must notice them), then end.
        if let last = await state.latestUnmute(), last > .now { try? await Task.sleep(until: last) }
        let rest = await state.unmuteAll()
        if !rest.isEmpty { swarm.send("unmute", rest) }
    }

    /// Samples the server's RSS every 10 s after the warm-up until `end`, and prints the series
    /// once a minute (heap and mapped files apart: a growing heap is a leak, a growing file share
    /// is the database's pages).
    static func sampleMemory(state: SoakState, pid: Int32, warmup: ContinuousClock.Instant, until end: ContinuousClock.Instant,
                             serverMemory: @Sendable () async -> JSONValue?) async {
        let first = min(warmup, end - .seconds(1))
        if first > .now { try? await Task.sleep(until: first) }
        var taken = 0
        while true {
            if let m = ProcessProbe.memory(pid: pid) {
                await state.sampleRSS(m.rss)
                if taken % 6 == 0 {
                    // The server's own view: heap allocated vs freed but held, org feed events kept.
                    let inside = await serverMemory()
                    func mb(_ key: String) -> String { SizeResult.megabytes(inside?[key]?.doubleValue.map { Int($0) }) }
                    say("soak memory: server RSS \(SizeResult.megabytes(m.rss)) (heap and stacks \(SizeResult.megabytes(m.anon)), "
                        + "mapped files \(SizeResult.megabytes(m.file))); heap in use \(mb("heap_in_use_bytes")), "
                        + "freed but held \(mb("heap_free_bytes")); org feed events \(inside?["org_feed_events"]?.doubleValue.map { String(Int($0)) } ?? "—")")
                }
                taken += 1
            }
            let next = ContinuousClock.now + .seconds(10)
            guard next < end else { break }
            try? await Task.sleep(until: next)
        }
        // The last sample at the end of the jobs' time, under the same load as the others.
        if end > .now { try? await Task.sleep(until: end) }
        if let rss = ProcessProbe.rss(pid: pid) { await state.sampleRSS(rss) }
    }

    /// A number under any of `keys` anywhere in `json` (the engine's counters may be nested).
    static func counter(_ json: JSONValue, _ keys: [String]) -> Int? {
        switch json {
        case .object(let members):
            for (k, v) in members {
                if keys.contains(k), let n = v.doubleValue { return Int(n) }
                if let n = counter(v, keys) { return n }
            }
            return nil
        case .array(let items):
            for v in items { if let n = counter(v, keys) { return n } }
            return nil
        default:
            return nil
        }
    }

    static func sum(_ json: JSONValue?) -> Int {
        guard case .object(let members)? = json else { return 0 }
        return members.reduce(0) { $0 + Int($1.1.doubleValue ?? 0) }
    }

    static func describe(_ json: JSONValue?) -> String {
        guard case .object(let members)? = json, !members.isEmpty else { return "" }
        return "(" + members.map { "\($0.0) \(Int($0.1.doubleValue ?? 0))" }.joined(separator: ", ") + ")"
    }

    static func waitAvailable(_ admin: PushyRESTClient, _ names: Set<String>, timeout: Double) async throws -> Int {
        let deadline = ContinuousClock.now + .seconds(timeout)
        var available = 0
        while ContinuousClock.now < deadline {
            let states = (try? await admin.nodeStates()) ?? []
            available = states.filter { $0.availability == .available && names.contains($0.nodeName) }.count
            if available == names.count { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        return available
    }
}
