import Foundation
import PushyAPIClient
import PushyPostgres
import PushyPostgresTestSupport
import PushyProtocol
import PushyServer
import PushyStore
import PushySwarm
import Logging
import Testing

/// Issue 17 points 2-3 end to end: two real `pushy-server` processes on one PostgreSQL database
/// with real `pushy-client` agents split between them.
@Suite(.serialized, .timeLimit(.minutes(6)),
       .enabled(if: TestPostgres.enabled, Comment(rawValue: TestPostgres.skipReason)))
struct ClusterServerTests {
    static func report(_ line: String) { print("cluster-timing: \(line)") }

    /// A lease long enough that a loaded CI machine never misses enough renewals for a peer to
    /// take a live server for dead (renewed every second).
    static let safeLease = 15.0

    /// Servers A and B on the database of `url` (B shares A's TLS certificate, so one
    /// `trusted_cert` serves agents that may use either). Both are stopped on every path.
    static func withTwoServers(_ url: PostgresURL, lease: Double = safeLease, heartbeat: Double = 0.5,
                               _ body: (FaultCluster, FaultCluster) async throws -> Void) async throws {
        let configure: (inout ServerConfiguration) -> Void = {
            $0.postgresURL = url.text(showingPassword: true)
            $0.clusterLease = lease
            $0.metricsToken = MetricsTests.token
        }
        let a = try await FaultCluster(heartbeat: heartbeat, configure: configure)
        let bDir = a.workDir + "/data-b"
        do {
            try FileManager.default.createDirectory(atPath: bDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            for file in ["tls.crt", "tls.key"] {
                try FileManager.default.copyItem(atPath: a.dataDir + "/" + file, toPath: bDir + "/" + file)
            }
        } catch {
            await a.shutdown()
            throw error
        }
        let b: FaultCluster
        do { b = try await FaultCluster(dataDir: bDir, heartbeat: heartbeat, configure: configure) } catch {
            await a.shutdown()
            throw error
        }
        do {
            try await a.startServer()
            try await b.startServer()
            try await body(a, b)
        } catch {
            await b.shutdown()
            await a.shutdown()
            throw error
        }
        await b.shutdown()
        await a.shutdown()
    }

    /// Agents on both servers: one job over all of them, started on either server, completes
    /// with every node's result; either server's REST API shows the same nodes and jobs.
    @Test func oneJobRunsOverAgentsOfTwoServers() async throws {
        try await TestPostgres.withDatabase { url in
            try await Self.withTwoServers(url) { a, b in
                let onA = ["ca1", "ca2"], onB = ["cb1", "cb2"], all = onA + onB
                for n in onA { try await a.startAgent(n) }
                for n in onB { try await b.startAgent(n) }
                let seenA = try await a.waitAvailable(all)
                try await b.waitAvailable(all)
                Self.report("4 agents on 2 servers available on server A after \(String(format: "%.1f", seenA)) s")

                let started = Date()
                let first = try await a.runJob("ok", on: all)
                Self.report("job over 2+2 agents started on A: \(first.status.rawValue) in \(String(format: "%.2f", Date().timeIntervalSince(started))) s")
                #expect(first.status == .complete, "\(FaultCluster.describe(first))")
                #expect(first.count(.succeeded) == 4, "\(FaultCluster.describe(first))")
                let second = try await b.runJob("ok", on: all)
                #expect(second.status == .complete, "\(FaultCluster.describe(second))")
                #expect(second.count(.succeeded) == 4, "\(FaultCluster.describe(second))")

                // Either server answers for either job, and lists the same jobs and nodes.
                for server in [a, b] {
                    for job in [first, second] {
                        // The owner answers from memory; the other reads the rows, written in the
                        // owner's next batch.
                        let v = try await waitFor("job \(job.id) complete on both servers", timeout: 30) { () -> Probe<JobView> in
                            let v = try await server.admin.job(job.id)
                            return v.status == .complete ? .done(v) : .notYet(FaultCluster.describe(v))
                        }.value
                        #expect(v.count(.succeeded) == 4, "\(FaultCluster.describe(v))")
                    }
                    #expect(Set(try await server.admin.jobs().map(\.id)) == [first.id, second.id])
                    let states = try await server.admin.nodeStates()
                    #expect(states.map(\.nodeName) == all.sorted(), "\(states)")
                    #expect(states.allSatisfy { $0.availability == .available && $0.status == .online }, "\(states)")
                    #expect(try await server.admin.nodeState("cb2").availability == .available)
                }

                // A running job of A, followed on B: summaries from running to complete.
                let slow = try await a.admin.startJob(JobRequest(command: "short", nodes: all))
                var statuses: [String] = []
                for try await e in b.admin.jobFeed(id: slow, idleTimeout: .seconds(20)) {
                    if let s = e.data["status"]?.stringValue, statuses.last != s { statuses.append(s) }
                }
                #expect(statuses.last == "complete", "\(statuses)")
                #expect(statuses.contains("running"), "\(statuses)")

                // `?wait=` on B for a job of A: answered once it has ended, not at once.
                let waitedFor = try await a.admin.startJob(JobRequest(command: "short", nodes: all))
                let waited = try await b.admin.job(waitedFor, wait: 40)
                #expect(waited.status == .complete, "\(FaultCluster.describe(waited))")

                // B's org feed has A's jobs' start and job_complete (replayed from its retention).
                let admin = b.admin
                let seen = try await withThrowingTaskGroup(of: [String]?.self) { group in
                    group.addTask {
                        var seen: [String] = []
                        for try await e in admin.orgFeed(lastEventID: "org-unknown", idleTimeout: .seconds(20)) {
                            if e.data["job"]?.stringValue == slow { seen.append(e.name) }
                            if seen.contains("job_complete") { break }
                        }
                        return seen
                    }
                    group.addTask {
                        try await Task.sleep(for: .seconds(20))
                        return nil
                    }
                    defer { group.cancelAll() }
                    return try await group.next() ?? nil
                }
                #expect(seen == ["start", "job_complete"], "\(String(describing: seen)) (nil: not within 20 s)")

                // A job of A aborted through B: B asks A, which runs it.
                let long = try await a.admin.startJob(JobRequest(command: "long", nodes: all))
                try await a.waitRunning(long, nodes: 4)
                let aborted = try await b.admin.abortJob(long)
                #expect(aborted.status == .aborted, "\(FaultCluster.describe(aborted))")
                let afterAbort = try await a.waitEnded(long).view
                #expect(afterAbort.status == .aborted, "\(FaultCluster.describe(afterAbort))")

                // Both servers count the other and the messages between them.
                for server in [a, b] {
                    let http = try ClientTLS(trustedCertificatePath: server.certificatePath).httpClient()
                    let text = try await MetricsTests.scrape(http, "https://127.0.0.1:\(server.config.apiPort)/metrics",
                                                             bearer: MetricsTests.token).text
                    #expect(text.contains("pushy_cluster_servers_live 2"), "\(text.split(separator: "\n").filter { $0.contains("cluster") })")
                    #expect(text.contains("pushy_cluster_messages_total{direction=\"received\"}"))
                }

                // A command the agents refuse, on a node of each server: the other server's nack
                // and its reason reach the owner.
                let mixed = try await a.runJob("nope", on: ["ca1", "cb1"])
                #expect(mixed.status == .quorumFailed, "\(FaultCluster.describe(mixed))")
                #expect(FaultCluster.nodes(mixed, .nacked) == ["ca1", "cb1"], "\(FaultCluster.describe(mixed))")
                #expect(FaultCluster.reason(mixed, "cb1")?.contains("not whitelisted") == true, "\(FaultCluster.describe(mixed))")
            }
        }
    }

    /// Swarms of virtual agents on both servers: one job over all of them, started on A, has
    /// every node's result (the failures the swarm prescribes included), in batches between servers.
    @Test func aJobOverTwoSwarmsOnTwoServers() async throws {
        try await TestPostgres.withDatabase { url in
            // 500 agents in this process: 2 s heartbeats, so a loaded machine's delays do not
            // read as lost results (a heartbeat that disowns a job for an interval).
            try await Self.withTwoServers(url, heartbeat: 2) { a, b in
                var logger = Logger(label: "cluster-swarm")
                logger.logLevel = .warning
                var swarms: [Swarm] = []
                defer { for s in swarms { s.stop() } }
                for (server, prefix) in [(a, "sa"), (b, "sb")] {
                    var config = SwarmConfiguration(
                        orgURL: server.orgURL, count: 250,
                        identity: .nodeKeys([try ClusterKeys.named("swarm-key-1"), try ClusterKeys.named("swarm-key-2")]))
                    config.tls = ClientTLS(trustedCertificatePath: server.certificatePath)
                    config.prefix = prefix
                    config.failRatio = 0.1
                    config.connectSplaySeconds = 0.5
                    config.shardSize = 125
                    let swarm = try Swarm(config, logger: logger)
                    try await swarm.register(admin: server.admin)
                    swarm.start()
                    swarms.append(swarm)
                }
                let names = swarms.flatMap(\.nodeNames)
                let seen = try await waitFor("all \(names.count) swarm agents available on B", timeout: 90, logs: a.processes + b.processes) { () -> Probe<Void> in
                    let n = try await b.admin.nodeStates().filter { $0.availability == .available }.count
                    return n == names.count ? .done(()) : .notYet("\(n) available")
                }
                let before = try await Self.messagesSent([a, b])
                let started = Date()
                let id = try await a.admin.startJob(JobRequest(command: "noop", nodes: names))
                let view = try await a.waitEnded(id, timeout: 90).view
                let took = Date().timeIntervalSince(started)
                try await Task.sleep(for: .milliseconds(500))  // the end message (a figure only)
                let sent = try await Self.messagesSent([a, b]) - before
                Self.report("\(names.count) swarm agents on 2 servers available after \(String(format: "%.1f", seen.seconds)) s; a job over all of them (debug build): \(view.status.rawValue) in \(String(format: "%.2f", took)) s, \(sent) messages between the servers")
                #expect(view.status == .complete, "\(FaultCluster.describe(view))")
                let failed = Set(view.nodes?.first { $0.0 == .failed }?.1 ?? [])
                let succeeded = Set(view.nodes?.first { $0.0 == .succeeded }?.1 ?? [])
                let expectedFailed = Set(swarms.flatMap { s in
                    s.nodeNames.enumerated().filter { Swarm.isSelected(index: $0.offset, ratio: 0.1) }.map(\.element)
                })
                let others = view.nodes?.filter { $0.0 != .failed && $0.0 != .succeeded } ?? []
                #expect(failed == expectedFailed, "others: \(others) \(String(describing: view.nodeReasons))")
                #expect(succeeded == Set(names).subtracting(expectedFailed), "others: \(others) \(String(describing: view.nodeReasons))")
                #expect(swarms.allSatisfy { $0.stats.badMessages == 0 })
                let onB = try await b.admin.job(id)
                #expect(onB.status == .complete && onB.count(.failed) == expectedFailed.count)
            }
        }
    }

    /// Messages the servers sent each other so far (`/metrics`).
    static func messagesSent(_ servers: [FaultCluster]) async throws -> Int {
        var total = 0.0
        for server in servers {
            let http = try ClientTLS(trustedCertificatePath: server.certificatePath).httpClient()
            let samples = try await MetricsTests.scrape(http, "https://127.0.0.1:\(server.config.apiPort)/metrics",
                                                        bearer: MetricsTests.token).samples
            total += samples["pushy_cluster_messages_total{direction=\"sent\"}"] ?? 0
        }
        return Int(total)
    }

    /// Server A is killed -9 with a job of its own running on both servers' agents: the job
    /// ends with a reason (B's sweep, once A's lease runs out), A's agents come back on B within
    /// the failover budget, and B runs the next job over all of them; nothing committed is lost.
    @Test func aKilledServersAgentsMoveToTheOtherAndRunTheNextJob() async throws {
        try await TestPostgres.withDatabase { url in
            // A short lease so the kill is noticed soon; the waits below allow for a loaded machine.
            try await Self.withTwoServers(url, lease: 6) { a, b in
                let both = "\(a.orgURL),\(b.orgURL)"
                let onA = ["fa1", "fa2"], onB = ["fb1"], all = onA + onB
                for n in onA { try await a.startAgent(n, serverURL: both) }
                for n in onB { try await b.startAgent(n, serverURL: "\(b.orgURL),\(a.orgURL)") }
                // Both views: B's presence of fb1 reaches A a moment after B itself has it.
                try await b.waitAvailable(all)
                try await a.waitAvailable(all)
                let done = try await a.runJob("ok", on: all)
                #expect(done.status == .complete && done.count(.succeeded) == 3, "\(FaultCluster.describe(done))")

                let running = try await a.admin.startJob(JobRequest(command: "sleep", nodes: all))
                try await a.waitRunning(running, nodes: 3)
                try await a.killServer()
                let killed = Date()

                let store = try await PostgresStore.open(url: url, logger: quietLogger)
                do {
                    let ended = try await waitFor("A's job to end on B", timeout: 60, logs: b.processes) { () -> Probe<JobView> in
                        let v = try await b.admin.job(running)
                        return v.status.isTerminal ? .done(v) : .notYet(FaultCluster.describe(v))
                    }
                    #expect(ended.value.status == .crashed, "\(FaultCluster.describe(ended.value))")
                    #expect(ended.value.statusReason?.contains("the server that owned the job stopped") == true,
                            "\(FaultCluster.describe(ended.value))")
                    #expect(try await store.liveServers().count == 1)

                    let moved = try await waitFor("A's agents on B", timeout: 90, logs: b.processes) { () -> Probe<Void> in
                        let held = try await store.presence(org: "pushy", names: all, excluding: "nobody")
                        let states = try await b.admin.nodeStates()
                        let onB = Set(held.map(\.server)).count == 1 && held.count == 3
                        let ready = all.allSatisfy { n in states.contains { $0.nodeName == n && $0.availability == .available } }
                        return onB && ready ? .done(()) : .notYet("\(held) \(states)")
                    }
                    Self.report("server killed: its job ended after \(String(format: "%.1f", ended.seconds)) s; its agents available on the other after \(String(format: "%.1f", Date().timeIntervalSince(killed))) s (moved: \(String(format: "%.1f", moved.seconds)) s after the job ended)")
                } catch {
                    await store.shutdown()
                    throw error
                }
                await store.shutdown()

                let next = try await b.runJob("ok", on: all)
                #expect(next.status == .complete, "\(FaultCluster.describe(next))")
                #expect(next.count(.succeeded) == 3, "\(FaultCluster.describe(next))")
                #expect(try await b.admin.job(done.id).status == .complete)
            }
        }
    }
}
