import ArgumentParser
import Foundation
import PushyAPIClient
import PushyProtocol
import PushySwarm

/// `pushy-bench cluster` (issue 17 point 4): several `pushy-server`s on one PostgreSQL with
/// swarms of virtual agents spread over them, up to 100,000 agents on this machine.
struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Benchmark several pushy-servers on one PostgreSQL with up to 100,000 virtual agents (loopback only).",
        discussion: """
            Starts PostgreSQL 15 itself (scripts/pg-test-cluster.sh with durable settings; or --postgres URL of an \
            empty database), runs 'pushy-server init --postgres' once, K 'pushy-server run' processes sharing that \
            data directory on their own ports, and pushy-swarm processes whose agents list every server (their own \
            first). It measures the time until all agents are available, memory per agent per server, idle CPU of \
            the servers, PostgreSQL and the swarm, jobs over all nodes and over 1,000 nodes (wall time, CPU per \
            process group, the database's statements, WAL and bytes on the wire per job from pg_stat_statements, \
            pg_current_wal_lsn and ss), then SIGKILLs one server and times its agents' move to the others. \
            Every process it starts is stopped on every path (also Ctrl-C). It fails when a check fails: an agent \
            not available, a job not complete or a node without its result.
            Examples:
              pushy-bench cluster                                   # 100,000 agents, servers enough for the file limit
              pushy-bench cluster --agents 20000 --servers 3 --no-write
              pushy-bench cluster --quick                           # 2,000 agents on 2 servers, short phases
              pushy-bench cluster --agents 200 --servers 2 --quick --interval 1 --postgres postgres://pushy@127.0.0.1:5432/bench
              make bench-cluster BENCH_CLUSTER_ARGS="--agents 50000"
            """)

    @Option(help: "Agents in all (default 100000; 2000 with --quick).") var agents: Int?
    @Option(help: "Servers (default: enough that each holds at most --per-server agents even after one is killed).") var servers: Int?
    @Option(help: "Most agents a server should hold, failover included (below its file limit's budget of about 9,800).")
    var perServer = 9000
    @Option(help: "PostgreSQL URL of an existing database for the servers (default: start a throwaway PostgreSQL 15 cluster).")
    var postgres: String?
    @Option(help: "The script that starts the throwaway cluster.") var pgScript = "scripts/pg-test-cluster.sh"
    @Option(help: "Each server's PostgreSQL connection pool (pool_max_conns).") var poolPerServer = 10
    @Option(help: "Directory holding pushy-server and pushy-swarm (a release build).") var bin = ".build/release"
    @Option(help: "Markdown file to update (between the bench-cluster markers).") var output = "docs/performance.md"
    @Option(help: "Heartbeat interval, seconds.") var interval = 10.0
    @Option(help: "cluster_lease, seconds (the server's default is 15; 30 here: a server starved of CPU on a shared 2-core machine for 15 s is not dead).")
    var lease = 30.0
    @Option(help: "Seconds of idle heartbeating over which CPU is averaged (default 30; 5 with --quick).") var idleSeconds: Double?
    @Option(help: "Runs of each job measurement (default 5; 2 with --quick).") var jobRuns: Int?
    @Option(help: "Nodes of the small job (at most a tenth of the agents).") var smallJob = 1000
    @Option(help: "Most agents per swarm process (at most what its file limit allows, about 4,968).") var perProcess = 5000
    @Option(help: "Spread agents' connections over 127.0.0.1...127.0.0.N.") var addressSpread = 4
    @Option(help: "Concurrent config requests per swarm process (each process's agents connect this many at a time).")
    var fetchConcurrency = 2
    @Option(help: ArgumentHelp("Concurrent config requests per swarm process for agents moving off the killed server.",
                               discussion: "Real agents move on their own, each within one heartbeat interval's splay; "
                                   + "a high limit here lets the move's time be the servers' rather than the swarm's queue."))
    var moveConcurrency = 32
    @Option(help: "Spread the agents' first connects over this many seconds (0: all at once, as fast as the machine allows).")
    var splaySeconds = 0.0
    @Flag(help: "A small, short run: 2,000 agents by default, 5 s idle, 2 runs per job.") var quick = false
    @Flag(help: "Skip killing a server (the failover figures).") var noFailover = false
    @Flag(help: "Print the table only; leave the Markdown file alone.") var noWrite = false
    @Flag(help: "Keep the data directory (logs) also when every check passed.") var keep = false
    @Flag(help: "Register the agents' clients through the REST API (POST clients, every server at once) instead of one SQL statement.")
    var registerViaAPI = false

    var agentCount: Int { agents ?? (quick ? 2000 : 100_000) }
    var idle: Double { idleSeconds ?? (quick ? 5 : 30) }
    var runs: Int { jobRuns ?? (quick ? 2 : 5) }

    /// Agents one server can hold: its connection budget (file limit minus the larger of 256
    /// and 2 %), 2 connections per agent.
    static var serverCapacity: Int {
        let limit = ProcessProbe.fileLimit()
        return (limit - max(256, limit / 50)) / 2
    }

    /// The default server count: each at most `perServer` agents, and (unless --no-failover)
    /// enough that a killed server's agents fit on the others within 95 % of their budget.
    func serverCount() -> Int {
        if let servers { return servers }
        let n = (agentCount + perServer - 1) / perServer
        guard !noFailover else { return max(1, n) }
        let room = Self.serverCapacity * 95 / 100
        return max(2, n, (agentCount + room - 1) / room + 1)
    }

    func validate() throws {
        guard agentCount >= 2 else { throw ValidationError("--agents must be at least 2") }
        guard perServer >= 1, poolPerServer >= 2, perProcess >= 1, smallJob >= 1 else {
            throw ValidationError("--per-server, --per-process and --small-job must be ≥ 1, --pool-per-server ≥ 2")
        }
        guard interval > 0, lease >= 3, idle >= 0, runs >= 1 else {
            throw ValidationError("--interval must be > 0, --lease ≥ 3, --idle-seconds ≥ 0, --job-runs ≥ 1")
        }
        guard (1...254).contains(addressSpread) else { throw ValidationError("--address-spread must be within 1...254") }
        guard fetchConcurrency >= 1, moveConcurrency >= 1 else {
            throw ValidationError("--fetch-concurrency and --move-concurrency must be ≥ 1")
        }
        let k = serverCount()
        guard k >= 1 else { throw ValidationError("--servers must be ≥ 1") }
        guard k >= 2 || noFailover else { throw ValidationError("killing a server needs --servers ≥ 2 (or --no-failover)") }
        let each = (agentCount + k - 1) / k
        guard each <= Self.serverCapacity else {
            throw ValidationError("\(agentCount) agents on \(k) servers is \(each) per server, above a server's budget of "
                                  + "\(Self.serverCapacity) at the file limit \(ProcessProbe.fileLimit()): give more --servers")
        }
    }

    func run() async throws {
        let cleanup = BenchCleanup()
        let signals = cleanup.stopOnSignals()
        defer { withExtendedLifetime(signals) {} }
        var result = ClusterResult()
        let k = serverCount()
        result.agents = agentCount
        result.servers = k
        result.interval = interval
        result.lease = lease
        let started = ContinuousClock.now
        let commit = PushyBenchCommand.shell("git rev-parse --short HEAD") ?? "?"
        var data: ClusterDataDirectory?
        var database: BenchPostgres?
        do {
            let db = try await BenchPostgres.open(url: postgres, script: pgScript, maxConnections: k * poolPerServer + 40,
                                                  poolPerServer: poolPerServer, cleanup: cleanup)
            database = db
            result.postgres = db.directory == nil
                ? "the database given (\(db.serverURL.location))"
                : "PostgreSQL 15 started by the bench (\(BenchPostgres.options(maxConnections: k * poolPerServer + 40)))"
            say("cluster bench: \(agentCount) agents, \(k) servers, commit \(commit); \(result.postgres)")
            let dir = try ClusterDataDirectory.make(binDir: bin, postgresURL: db.serverURL.text(showingPassword: true),
                                                    interval: interval, lease: lease)
            data = dir
            try await measure(&result, data: dir, database: db, cleanup: cleanup)
        } catch {
            result.failures.append("stopped early: \(error)")
            say("   stopped early: \(error)")
        }
        cleanup.runAll()
        await database?.close()
        let header = """
            Run \(ISO8601DateFormatter().string(from: Date())) · commit `\(commit)` · \(ProcessProbe.machine())
            · `pushy-bench cluster \(CommandLine.arguments.dropFirst(2).joined(separator: " "))` · \(k) servers, \
            swarm processes at nice \(ClusterSwarm.niceness), heartbeat interval \(interval) s, cluster_lease \(lease) s, \(fetchConcurrency) config requests at a time per swarm process (\(moveConcurrency) for moves), \
            first connects spread over \(splaySeconds) s, CURVE on, no-op command · \(result.postgres) · \
            whole run \(SizeResult.seconds(PushyBenchCommand.elapsed(since: started)))
            """
        let section = header + "\n\n" + result.markdown
        say(section)
        if let data {
            if result.failures.isEmpty && !keep { data.remove() } else { say("logs kept in \(data.path)") }
        }
        if !noWrite {
            try PushyBenchCommand.update(output, section: section, begin: "<!-- bench-cluster:begin -->", end: "<!-- bench-cluster:end -->")
            say("wrote \(output)")
        }
        if !result.failures.isEmpty { throw ExitCode(1) }
    }

    // MARK: The run

    func measure(_ r: inout ClusterResult, data: ClusterDataDirectory, database db: BenchPostgres, cleanup: BenchCleanup) async throws {
        let k = r.servers
        var servers: [ClusterServer] = []
        for i in 0..<k {
            let s = try ClusterServer(index: i, data: data)
            try await s.start(cleanup: cleanup)
            servers.append(s)
        }
        // Every server registered: its id, by its command port.
        var ids: [String] = Array(repeating: "", count: k)
        let deadline = ContinuousClock.now + .seconds(30)
        while ids.contains(""), ContinuousClock.now < deadline {
            let live = try await db.servers()
            for (id, address) in live {
                if let i = servers.firstIndex(where: { address.hasSuffix(":\($0.commandPort)") }) { ids[i] = id }
            }
            if ids.contains("") { try await Task.sleep(for: .milliseconds(200)) }
        }
        guard !ids.contains("") else { throw BenchFailure("not every server registered in pushy_servers within 30 s") }
        try await Task.sleep(for: .seconds(1))
        r.rssBaseline = servers.map { ProcessProbe.rss(pid: $0.pid) ?? 0 }
        say("   \(k) servers up: " + servers.map { "\($0.index): \($0.orgURL)" }.joined(separator: ", "))

        let swarm = ClusterSwarm(binDir: bin, data: data, servers: servers, agents: r.agents,
                                 perProcess: min(perProcess, Swarm.maximumAgents(fileLimit: ProcessProbe.fileLimit())),
                                 addressSpread: addressSpread, fetchConcurrency: fetchConcurrency)
        r.swarmProcesses = swarm.members.count
        swarm.splaySeconds = splaySeconds
        swarm.moveConcurrency = moveConcurrency
        var t = ContinuousClock.now
        let registering = t
        if registerViaAPI {
            try await swarm.register(timeout: 300 + Double(r.agents) / 50, cleanup: cleanup) { done, all in
                say("   registering: \(done) of \(all) processes done after \(SizeResult.seconds(PushyBenchCommand.elapsed(since: registering)))")
            }
        } else {
            try await swarm.registerInDatabase(db, agents: r.agents)
        }
        r.registerSeconds = PushyBenchCommand.elapsed(since: t)
        r.registeredVia = registerViaAPI ? "POST clients through every server at once" : "one SQL statement"
        say("   registered \(r.agents) clients (\(r.registeredVia)) in \(SizeResult.seconds(r.registerSeconds))")

        // Connect.
        let names = swarm.names(r.agents)
        let sampler = CPUSampler(servers: servers, swarm: swarm, postgres: db.postmasterPid)
        var cpu = sampler.sample()
        t = ContinuousClock.now
        try swarm.start(cleanup: cleanup)
        let available = try await waitAvailable(db, count: r.agents, swarm: swarm, since: t, timeout: 300 + Double(r.agents) / 40)
        r.availableSeconds = PushyBenchCommand.elapsed(since: t)
        r.connectCPU = sampler.since(cpu, owner: 0)
        guard available >= r.agents else {
            throw BenchFailure("only \(available) of \(r.agents) agents became available within the deadline")
        }
        say("   all \(r.agents) available after \(SizeResult.seconds(r.availableSeconds))")
        let seen = try await restAvailable(servers[0], names)
        if seen != r.agents { r.failures.append("server 0's node_states shows \(seen) of \(r.agents) nodes available") }

        // Idle.
        try await Task.sleep(for: .seconds(min(interval, 10)))
        cpu = sampler.sample()
        let idleStart = try await db.snapshot()
        try await Task.sleep(for: .milliseconds(Int(idle * 1000)))
        r.idleCPU = sampler.since(cpu, owner: 0)
        r.idleDatabase = DatabaseWork(from: idleStart, to: try await db.snapshot())
        r.rssIdle = servers.map { ProcessProbe.rss(pid: $0.pid) ?? 0 }
        r.swarmRSS = swarm.rssTotal
        r.held = try await held(db, ids)
        say("   idle: servers \(r.idleCPU!.percent(r.idleCPU!.owner + r.idleCPU!.others)), PostgreSQL \(r.idleCPU!.percent(r.idleCPU!.postgres)), "
            + "swarm \(r.idleCPU!.percent(r.idleCPU!.swarm)); agents per server \(ClusterResult.counts(r.held)); database \(r.idleDatabase!.rateSummary)")

        // Jobs over every node, then over a few spread over every server.
        let admin = servers[0].admin
        for i in 0..<runs {
            let run = try await timeJob(admin, names, sampler: sampler, db: db, check: &r.failures)
            r.allNode.append(run)
            say("   all-node job \(i + 1): \(SizeResult.millis(run.seconds)) (POST \(SizeResult.millis(run.post))), \(run.status); "
                + "CPU owner \(String(format: "%.2f", run.cpu.owner)) s, others \(String(format: "%.2f", run.cpu.others)) s, "
                + "PostgreSQL \(run.cpu.postgres.map { String(format: "%.2f s", $0) } ?? "n/a"), swarm \(String(format: "%.2f", run.cpu.swarm)) s; "
                + run.database.summary)
            try await Task.sleep(for: .seconds(1))
        }
        let smallCount = min(smallJob, max(1, r.agents / 10))
        let stride = r.agents / smallCount
        for i in 0..<runs {
            let nodes = (0..<smallCount).map { names[($0 * stride + i) % r.agents] }
            let run = try await timeJob(admin, nodes, sampler: sampler, db: db, check: &r.failures)
            r.small.append(run)
            say("   \(smallCount)-node job \(i + 1): \(SizeResult.millis(run.seconds)), \(run.status); \(run.database.summary)")
            try await Task.sleep(for: .milliseconds(500))
        }
        r.rssAfterJobs = servers.map { ProcessProbe.rss(pid: $0.pid) ?? 0 }
        guard !noFailover else { return }

        // Failover: SIGKILL the last server; its agents move to the others.
        let victim = k - 1
        let moving = try await db.nodes(heldBy: ids[victim])
        r.victim = victim
        r.victimAgents = moving.count
        say("   SIGKILL server \(victim) (\(moving.count) agents)")
        t = ContinuousClock.now
        servers[victim].kill9(cleanup: cleanup)
        let failoverDeadline = ContinuousClock.now + .seconds(Int(120 + 12 * interval + 2 * lease))
        var lastSay = ContinuousClock.now
        while ContinuousClock.now < failoverDeadline {
            try await Task.sleep(for: .milliseconds(500))
            let now = PushyBenchCommand.elapsed(since: t)
            if r.leaseSwept == nil, try await !db.hasRow(server: ids[victim]) { r.leaseSwept = now }
            r.failoverMoved = try await db.availableElsewhere(moving, except: ids[victim])
            if r.failoverMoved > 0, r.failoverFirst == nil { r.failoverFirst = now }
            if r.failoverMoved == moving.count {
                r.failoverAll = now
                if r.leaseSwept != nil { break }
            }
            if lastSay.duration(to: .now) > .seconds(10) {
                lastSay = .now
                say("   failover: \(r.failoverMoved) of \(moving.count) moved after \(SizeResult.seconds(now))")
            }
        }
        guard r.failoverAll != nil else {
            r.failures.append("only \(r.failoverMoved) of server \(victim)'s \(moving.count) agents were available on the others after \(SizeResult.seconds(PushyBenchCommand.elapsed(since: t)))")
            return
        }
        say("   failover: all \(moving.count) moved after \(SizeResult.seconds(r.failoverAll)); lease swept after \(SizeResult.seconds(r.leaseSwept))")
        r.heldAfterFailover = Array(try await held(db, ids).prefix(victim))
        let after = try await restAvailable(servers[0], names)
        if after != r.agents { r.failures.append("after the failover server 0's node_states shows \(after) of \(r.agents) nodes available") }
        let job = try await timeJob(admin, names, sampler: sampler, db: db, check: &r.failures)
        r.afterFailover = job
        say("   all-node job after the failover: \(SizeResult.millis(job.seconds)), \(job.status)")
    }

    /// Agents available per server (ordered as `ids`), from node_presence.
    func held(_ db: BenchPostgres, _ ids: [String]) async throws -> [Int] {
        let by = try await db.availableByServer()
        return ids.map { by[$0] ?? 0 }
    }

    /// Polls the database until `count` agents are available on live servers (progress every 10 s).
    func waitAvailable(_ db: BenchPostgres, count: Int, swarm: ClusterSwarm, since t: ContinuousClock.Instant,
                       timeout: Double) async throws -> Int {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        var lastSay = ContinuousClock.now
        var available = 0
        while ContinuousClock.now < deadline {
            available = try await db.availableByServer().values.reduce(0, +)
            if available >= count { return available }
            guard swarm.running == swarm.members.count else {
                throw BenchFailure("a swarm process exited (\(swarm.members.count - swarm.running) of \(swarm.members.count); see \(swarm.data.path)/swarm-*.log)")
            }
            if lastSay.duration(to: .now) > .seconds(10) {
                lastSay = .now
                say("   available: \(available) of \(count) after \(SizeResult.seconds(PushyBenchCommand.elapsed(since: t)))")
            }
            try await Task.sleep(for: .seconds(1))
        }
        return available
    }

    /// How many of `names` a server's `node_states` shows available (its own and its peers').
    func restAvailable(_ server: ClusterServer, _ names: [String]) async throws -> Int {
        let wanted = Set(names)
        return try await server.admin.nodeStates().filter { $0.availability == .available && wanted.contains($0.nodeName) }.count
    }

    /// POSTs a no-op job over `nodes` and long-polls it until it ends (≤ 10 min); checks that it
    /// completed with every node's result.
    func timeJob(_ admin: PushyRESTClient, _ nodes: [String], sampler: CPUSampler, db: BenchPostgres,
                 check failures: inout [String]) async throws -> ClusterJobRun {
        var run = ClusterJobRun()
        run.nodes = nodes.count
        let before = try await db.snapshot()
        let cpu = sampler.sample()
        let t = ContinuousClock.now
        let id = try await admin.startJob(JobRequest(command: "noop", nodes: nodes))
        run.post = PushyBenchCommand.elapsed(since: t)
        let deadline = ContinuousClock.now + .seconds(600)
        while true {
            let v = try await admin.job(id, nodes: false, wait: 20)
            if v.status.isTerminal { break }
            guard ContinuousClock.now < deadline else { throw BenchFailure("job \(id) over \(nodes.count) nodes did not end within 600 s") }
        }
        run.seconds = PushyBenchCommand.elapsed(since: t)
        run.cpu = sampler.since(cpu, owner: 0)
        run.database = DatabaseWork(from: before, to: try await db.snapshot())
        let v = try await admin.job(id)
        run.status = v.status.rawValue
        run.ok = v.status == .complete && v.count(.succeeded) == nodes.count
        if !run.ok {
            let groups = (v.nodes ?? []).map { "\($0.0.rawValue) \($0.1.count)" }.joined(separator: ", ")
            failures.append("job \(id) over \(nodes.count) nodes ended \(v.status.rawValue) (\(v.statusReason ?? "no reason")); nodes: \(groups)")
        }
        return run
    }
}

/// CPU seconds of the servers (one by one), PostgreSQL's process tree and the swarm, sampled
/// together so spans can be split by who spent them.
struct CPUSampler {
    let servers: [ClusterServer]
    let swarm: ClusterSwarm
    let postgres: Int32?

    struct Sample {
        var servers: [Double]
        var postgres: Double?
        var swarm: Double
        var at: ContinuousClock.Instant
    }

    func sample() -> Sample {
        Sample(servers: servers.map { ProcessProbe.cpuSeconds(pid: $0.pid) ?? 0 },
               postgres: postgres.flatMap { ProcessProbe.treeCPUSeconds(pid: $0) }, swarm: swarm.cpuSeconds, at: .now)
    }

    /// What each spent since `a`; `owner` is the server the job went to. A server gone since
    /// (killed) counts nothing.
    func since(_ a: Sample, owner: Int) -> ClusterCPU {
        let b = sample()
        var c = ClusterCPU()
        for i in a.servers.indices where i < b.servers.count {
            let d = max(0, b.servers[i] - a.servers[i])
            if i == owner { c.owner = d } else { c.others += d }
        }
        if let x = a.postgres, let y = b.postgres { c.postgres = max(0, y - x) }
        c.swarm = max(0, b.swarm - a.swarm)
        let d = a.at.duration(to: b.at)
        c.seconds = Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        return c
    }
}
