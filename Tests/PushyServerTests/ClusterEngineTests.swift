import Foundation
import Logging
import PushyCore
import PushyProtocol
@testable import PushyServer
import PushyStore
import PushyTestSupport
import Synchronization
import Testing

/// Two engines of one cluster (issue 17 point 2) over one in-memory store and the in-memory
/// cluster twin, with messages between them moved by hand (`pump`): one job over nodes of both,
/// step by step, with no processes or database.
@Suite(.timeLimit(.minutes(2))) struct ClusterEngineTests {
    static let org = "acme", guid = String(repeating: "a", count: 32)

    final class Pair: Sendable {
        let store = InMemoryStore()
        let cluster = InMemoryClusterStore()
        let a: CommandEngine, b: CommandEngine
        let ta = RecordingTransport(), tb = RecordingTransport()
        let writers: [Task<Void, Never>]
        let sequences = Mutex<[String: Int]>([:])

        init() async throws {
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            try await store.createOrg(OrgRecord(name: ClusterEngineTests.org, guid: ClusterEngineTests.guid, createdAt: Date()))
            var config = ServerConfiguration(dataDir: NSTemporaryDirectory())
            config.heartbeatInterval = 10
            a = CommandEngine(config: config, store: store, serverKey: TestKeys.server, logger: logger)
            b = CommandEngine(config: config, store: store, serverKey: TestKeys.server, logger: logger)
            await a.attach(ta)
            await b.attach(tb)
            for (engine, id, port) in [(a, "server-a", 1), (b, "server-b", 2)] {
                try await cluster.register(ServerRecord(id: id, restURL: "https://\(id)", commandAddress: "tcp://h:\(port)",
                                                        heartbeatAddress: "tcp://h:\(port)0"), lease: 60)
                await engine.attachCluster(id: id, store: cluster)
                await engine.clusterMembership(["server-a", "server-b"])
            }
            let (a, b) = (self.a, self.b)
            writers = [Task { await a.runWriter() }, Task { await b.runWriter() }]
        }

        func stop() async {
            a.stopWriter()
            b.stopWriter()
            for w in writers { await w.value }
        }

        /// `node`, connected to `engine`, sends one message.
        func say(_ engine: CommandEngine, _ node: String, _ type: AgentMessageType, job: String? = nil,
                 state: AgentJobState? = nil) async {
            let seq = sequences.withLock { $0[node, default: 0] += 1; return $0[node]! }
            let m = AgentMessage(node: node, client: node, org: ClusterEngineTests.org, type: type, sequence: seq,
                                 timestamp: Date(), incarnationId: "inc-\(node)", jobId: job, jobState: state)
            let key = engine.sessionKey(org: ClusterEngineTests.org, node: node)
            await engine.receive(identity: Array(node.utf8), frames: MessageSigner.hmacFrames(body: m.bodyBytes, key: key))
        }

        /// `node`, connected to `engine`, sends a live output chunk of `job`.
        func output(_ engine: CommandEngine, _ node: String, job: String, _ text: String, offset: Int) async {
            let seq = sequences.withLock { $0[node, default: 0] += 1; return $0[node]! }
            var m = AgentMessage(node: node, client: node, org: ClusterEngineTests.org, type: .output, sequence: seq,
                                 timestamp: Date(), incarnationId: "inc-\(node)", jobId: job)
            m.stream = "stdout"
            m.offset = offset
            m.data = text
            let key = engine.sessionKey(org: ClusterEngineTests.org, node: node)
            await engine.receive(identity: Array(node.utf8), frames: MessageSigner.hmacFrames(body: m.bodyBytes, key: key))
        }

        /// Connects `node` to `engine` and makes it available.
        func connect(_ engine: CommandEngine, _ node: String) async {
            await say(engine, node, .heartbeat, state: .idle)
            await say(engine, node, .aborted)
        }

        /// Moves what each engine queued for the other (presence and messages) until nothing is left.
        func pump() async throws {
            for _ in 0..<10 {
                var moved = 0
                for (engine, id) in [(a, "server-a"), (b, "server-b")] {
                    let batch = await engine.takeClusterBatch()
                    try await cluster.writePresence(server: id, batch.presence)
                    try await cluster.send(from: id, batch.messages)
                    moved += batch.messages.count + batch.presence.count
                }
                for (engine, id) in [(a, "server-a"), (b, "server-b")] {
                    let batch = try await cluster.receive(server: id, limit: 1000)
                    await engine.clusterReceive(batch)
                    try await cluster.acknowledge(server: id, ids: batch.map(\.id))
                }
                if moved == 0 { return }
            }
        }

        /// web1 on A and web2 on B, both available; a job over both started on A, its commits
        /// passed on (B has sent web2 its commit). Returns the job's id.
        func jobOverBoth() async throws -> String {
            await connect(a, "web1")
            await connect(b, "web2")
            try await pump()
            let job = try await a.startJob(org: ClusterEngineTests.org, orgGUID: ClusterEngineTests.guid,
                                           request: JobRequest(command: "noop", nodes: ["web1", "web2"]), requestor: "admin").id
            try await pump()
            return job
        }

        /// `jobOverBoth`, voted and run: both nodes running it.
        func jobRunningOnBoth() async throws -> String {
            let job = try await jobOverBoth()
            await say(a, "web1", .ackCommit, job: job)
            await say(b, "web2", .ackCommit, job: job)
            try await pump()
            await say(a, "web1", .ackRun, job: job)
            await say(b, "web2", .ackRun, job: job)
            try await pump()
            return job
        }

        func messages(_ t: RecordingTransport, _ type: String, job: String) -> Int {
            t.messages.filter { $0.type == type && $0.jobId == job }.count
        }
    }

    static func with(_ body: (Pair) async throws -> Void) async throws {
        let p = try await Pair()
        do { try await body(p) } catch {
            await p.stop()
            throw error
        }
        await p.stop()
    }

    @Test func oneJobOverNodesOfTwoEngines() async throws {
        try await Self.with { p in
            await p.connect(p.a, "web1")
            await p.connect(p.b, "web2")
            try await p.pump()
            // Either engine shows both nodes.
            #expect(await p.a.clusterNodeStates(org: Self.org).map(\.nodeName) == ["web1", "web2"])
            #expect(await p.b.clusterNodeState(org: Self.org, node: "web1").availability == .available)
            // The dashboard's nodes page on either server has both (the other's without a heartbeat time).
            let activity = await p.b.clusterNodeActivity(org: Self.org)
            #expect(activity.keys.sorted() == ["web1", "web2"])
            #expect(activity["web1"]?.available == true && activity["web1"]?.lastHeartbeat == nil)
            #expect(activity["web2"]?.lastHeartbeat != nil)

            let job = try await p.a.startJob(org: Self.org, orgGUID: Self.guid,
                                             request: JobRequest(command: "noop", nodes: ["web1", "web2"]), requestor: "admin").id
            #expect(p.messages(p.ta, "commit", job: job) == 1)
            try await p.pump()
            #expect(p.messages(p.tb, "commit", job: job) == 1, "B sends web2 its commit")

            await p.say(p.a, "web1", .ackCommit, job: job)
            await p.say(p.b, "web2", .ackCommit, job: job)
            try await p.pump()
            #expect(p.messages(p.ta, "run", job: job) == 1)
            #expect(p.messages(p.tb, "run", job: job) == 1, "B sends web2 its run")

            // The commit handled a second time (its delete failed): web2, ready now, is left alone.
            let spec = RemoteJobSpec(id: job, org: Self.org, command: "noop", user: nil, dir: nil, env: nil, file: nil,
                                     capture: false, runTimeout: 3600)
            await p.b.clusterReceive([ClusterEnvelope(id: 999, from: "server-a", body: ClusterMessage.body([.commit(spec, nodes: ["web2"])]))])
            #expect(p.messages(p.tb, "commit", job: job) == 1, "no second commit to web2")

            await p.say(p.a, "web1", .ackRun, job: job)
            await p.say(p.b, "web2", .ackRun, job: job)
            await p.say(p.a, "web1", .succeeded, job: job)
            await p.say(p.b, "web2", .succeeded, job: job)
            try await p.pump()
            let view = try #require(await p.a.activeJobView(org: Self.org, id: job))
            #expect(view.status == .complete)
            #expect(view.nodes?.first { $0.0 == .succeeded }?.1.sorted() == ["web1", "web2"])
            #expect(await p.b.isRemoteJob(job) == false, "B forgot the job once it ended")
        }
    }

    /// Live output of a node held by another server reaches the owner's job feed, in order,
    /// beside the owner's own nodes' output.
    @Test func liveOutputOfARemoteNodeReachesTheOwnersFeed() async throws {
        try await Self.with { p in
            let job = try await p.jobRunningOnBoth()
            await p.output(p.a, "web1", job: job, "one\n", offset: 0)
            await p.output(p.b, "web2", job: job, "two\n", offset: 0)
            await p.output(p.b, "web2", job: job, "three\n", offset: 4)
            try await p.pump()

            guard case .active(let replay, _) = await p.a.subscribeJob(org: Self.org, id: job, lastEventId: nil) else {
                Issue.record("the job is not active on its owner")
                return
            }
            let chunks = replay.filter { $0.name == "output" }.map { e -> String in
                let bytes = e.data["data"]?.stringValue.flatMap { Data(base64Encoded: $0) } ?? Data()
                return "\(e.data["node"]?.stringValue ?? "?"):\(e.data["offset"]?.intValue ?? -1):\(String(decoding: bytes, as: UTF8.self))"
            }
            #expect(chunks == ["web1:0:one\n", "web2:0:two\n", "web2:4:three\n"], "\(chunks)")
            // Only fed on the owner: GET output finds the final capture B saves with the result.
            #expect(await p.a.activeOutput(org: Self.org, jobId: job, node: "web2") == nil)
            #expect(await p.a.activeOutput(org: Self.org, jobId: job, node: "web1")?.stdout == Array("one\n".utf8))
            // Output of a job the holder does not know (ended, or never its) is dropped there.
            let before = await p.a.subscribeJob(org: Self.org, id: job, lastEventId: nil)
            await p.output(p.b, "web2", job: String(repeating: "f", count: 32), "stray", offset: 0)
            try await p.pump()
            let after = await p.a.subscribeJob(org: Self.org, id: job, lastEventId: nil)
            if case .active(let r1, _) = before, case .active(let r2, _) = after { #expect(r1.count == r2.count) }
        }
    }

    /// The server holding a job's node goes (its lease runs out): the owner's job sees the node
    /// go down at once, with the reason, instead of waiting for its timeouts.
    @Test func aNodeOnAServerThatWentGoesDownInTheJob() async throws {
        try await Self.with { p in
            await p.connect(p.a, "web1")
            await p.connect(p.b, "web2")
            try await p.pump()
            let job = try await p.a.startJob(org: Self.org, orgGUID: Self.guid,
                                             request: JobRequest(command: "noop", nodes: ["web1", "web2"], quorum: .count(1)),
                                             requestor: "admin").id
            try await p.pump()
            await p.say(p.a, "web1", .ackCommit, job: job)
            // Heard from at the job's start: gone at the look after next (the one after the
            // interval it was last heard in).
            // Just back in touch with the database (not judging): B may simply not be back yet.
            for _ in 0..<3 { await p.a.clusterMembership(["server-a"], judging: false) }
            let waiting = try #require(await p.a.activeJobView(org: Self.org, id: job))
            #expect(waiting.nodes?.first { $0.1.contains("web2") }?.0.isTerminal == false, "\(waiting)")
            for _ in 0..<3 { await p.a.clusterMembership(["server-a"]) }
            let view = try #require(await p.a.activeJobView(org: Self.org, id: job))
            #expect(view.nodes?.first { $0.1.contains("web2") }?.0.isTerminal == true, "\(view)")
            #expect(view.nodeReasons?.first { $0.0 == "web2" }?.1.contains("server-b") == true, "\(String(describing: view.nodeReasons))")
        }
    }

    /// An owner that B's looks never saw live (it registered just after one): B takes its job
    /// while it hears from it, and ends it once two looks in a row missed it and it went quiet
    /// (not only when it left between two looks, which never happened here).
    @Test func anOwnerMissingAtEveryLookIsGoneOnceQuiet() async throws {
        try await Self.with { p in
            await p.connect(p.a, "web1")
            await p.connect(p.b, "web2")
            try await p.pump()
            await p.b.clusterMembership(["server-b"])
            let job = try await p.a.startJob(org: Self.org, orgGUID: Self.guid,
                                             request: JobRequest(command: "noop", nodes: ["web1", "web2"]), requestor: "admin").id
            try await p.pump()
            #expect(await p.b.isRemoteJob(job))
            await p.say(p.a, "web1", .ackCommit, job: job)
            await p.say(p.b, "web2", .ackCommit, job: job)
            try await p.pump()
            #expect(p.messages(p.ta, "run", job: job) == 1, "B's ack reached A though B's look missed A")
            await p.b.clusterMembership(["server-b"])
            #expect(await p.b.isRemoteJob(job), "heard from A since the look before")
            await p.b.clusterMembership(["server-b"])
            await p.b.clusterMembership(["server-b"])
            #expect(await p.b.isRemoteJob(job) == false)
        }
    }

    /// A server neither seen live at the looks nor heard from gets no messages (its org events
    /// here); one whose nodes a job start just found live does, before any look saw it.
    @Test func messagesOnlyToServersLive() async throws {
        try await Self.with { p in
            await p.connect(p.a, "web1")
            await p.connect(p.b, "web2")
            try await p.pump()
            await p.a.clusterMembership(["server-a"])
            await p.a.clusterMembership(["server-a"])
            _ = await p.a.takeClusterBatch()
            await p.a.relayOrgEvent(org: Self.org, name: "start", data: ["job": "x"])
            #expect(await p.a.takeClusterBatch().messages.isEmpty)
            let job = try await p.a.startJob(org: Self.org, orgGUID: Self.guid,
                                             request: JobRequest(command: "noop", nodes: ["web1", "web2"]), requestor: "admin").id
            try await p.pump()
            #expect(p.messages(p.tb, "commit", job: job) == 1)
        }
    }

    /// Swept by a peer: other owners' jobs it held are dropped (nodes reset), and once
    /// registered again every session's presence is written in full.
    @Test func aServerWhoseLeaseRanOutDropsRemoteJobsAndRewritesPresence() async throws {
        try await Self.with { p in
            let job = try await p.jobOverBoth()
            #expect(await p.b.isRemoteJob(job))
            await p.b.clusterLeaseLost()
            #expect(await p.b.isRemoteJob(job) == false)
            #expect(p.tb.types.last == "abort", "web2 is reset")
            _ = await p.b.takeClusterBatch()
            await p.b.clusterPresenceSnapshot()
            let presence = await p.b.takeClusterBatch().presence
            #expect(presence == [PresenceChange(org: Self.org, node: "web2", available: false)], "\(presence)")
        }
    }

    /// Swept by a peer (its lease ran out): the engine's own jobs end here with no write, their
    /// nodes reset, and the servers holding their other nodes are told.
    @Test func aServerWhoseLeaseRanOutStopsItsJobs() async throws {
        try await Self.with { p in
            let job = try await p.jobOverBoth()
            #expect(await p.b.isRemoteJob(job))
            await p.a.clusterLeaseLost()
            #expect(p.ta.types.last == "abort", "web1 is reset")
            // B is told at once; its end is written (a no-op where the sweep crashed it) by A's
            // store writer, in its own time (a loaded run once read the row before it landed).
            let deadline = ContinuousClock.now + .seconds(20)
            while await p.b.isRemoteJob(job), ContinuousClock.now < deadline {
                try await p.pump()
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(await p.b.isRemoteJob(job) == false)
            #expect(await p.a.drainWrites(), "A's writes did not land within 30 s")
            #expect(try await p.store.job(org: Self.org, id: job)?.status == .aborted)
        }
    }

    /// An `end` that never came (dropped while the owner took B for gone): B forgets the job
    /// once its rows say it ended, and not before.
    @Test func aRemoteJobWhoseEndNeverCameIsForgottenOnceItsRowsSaySo() async throws {
        try await Self.with { p in
            let job = try await p.jobOverBoth()
            await p.b.dropEndedRemoteJobs(olderThan: 0)
            #expect(await p.b.isRemoteJob(job), "still running: kept")
            try await p.store.updateJob(id: job, status: .complete, reason: nil, updatedAt: Date())
            await p.b.dropEndedRemoteJobs(olderThan: 3600)
            #expect(await p.b.isRemoteJob(job), "too young to look at")
            await p.b.dropEndedRemoteJobs(olderThan: 0)
            #expect(await p.b.isRemoteJob(job) == false)
            #expect(p.tb.types.last == "abort", "web2, still in it, is reset")
            #expect(await p.b.nodeState(org: Self.org, node: "web2").availability == .unavailable)
        }
    }

    /// B's own sweep deleted A (its job crashed in the database) although B's last look at the
    /// live set, read a moment before A's lease ran out, still had A, and B had heard from A
    /// lately: web2, running A's command, is sent `abort` at once and is not available until it
    /// answers, so nobody can start a job on it while the old command may still run (a CI run
    /// saw the next job's commit answered "busy" in that gap).
    @Test func aSweptOwnersNodesAreResetAtOnce() async throws {
        try await Self.with { p in
            let job = try await p.jobRunningOnBoth()
            #expect(p.messages(p.tb, "run", job: job) == 1)
            await p.b.clusterMembership(["server-a", "server-b"])
            #expect(await p.b.nodeState(org: Self.org, node: "web2").availability == .available, "running: still available")

            await p.b.clusterSwept(["server-a"])
            #expect(await p.b.isRemoteJob(job) == false)
            #expect(p.tb.types.last == "abort", "web2 is reset")
            #expect(await p.b.nodeState(org: Self.org, node: "web2").availability == .unavailable)
            await p.say(p.b, "web2", .aborted)
            #expect(await p.b.nodeState(org: Self.org, node: "web2").availability == .available)
        }
    }

    /// Peers are judged only after a lease plus the pool's back-off in touch with the database
    /// since the last failure; never failed, at once. The full presence is due every period.
    @Test func leaseHealthJudgesPeersOnlyOnceBackForLongEnough() {
        let health = LeaseHealth(judgeAfter: 75)
        let t0 = ContinuousClock.now
        #expect(health.succeeded(at: t0), "no failure yet")
        health.failed()
        #expect(health.succeeded(at: t0 + .seconds(1)) == false, "just back")
        #expect(health.succeeded(at: t0 + .seconds(75)) == false, "74 s in touch")
        #expect(health.succeeded(at: t0 + .seconds(76)), "75 s in touch")
        #expect(health.succeeded(at: t0 + .seconds(77)))
        health.failed()
        #expect(health.succeeded(at: t0 + .seconds(78)) == false, "a new failure starts again")

        #expect(health.refreshDue(at: t0, every: 60) == false, "the first look follows the registration's snapshot")
        #expect(health.refreshDue(at: t0 + .seconds(59), every: 60) == false)
        #expect(health.refreshDue(at: t0 + .seconds(60), every: 60))
        #expect(health.refreshDue(at: t0 + .seconds(61), every: 60) == false)
    }

    @Test func messagesRoundTrip() throws {
        let spec = RemoteJobSpec(id: "j1", org: "acme", command: "ls", user: "u", dir: nil, env: ["A": "1"], file: nil,
                                 capture: true, runTimeout: 60)
        let batch: [ClusterMessage] = [
            .commit(spec, nodes: ["n1", "n2"]), .run(job: "j1", nodes: ["n1"]),
            .status(job: "j1", [.init(node: "n1", status: .wasReady)]), .rehab(org: "acme", nodes: ["n2"]), .end(job: "j1"),
            .inputs(job: "j1", [.init(node: "n1", input: .failed(reason: "exit 2")), .init(node: "n2", input: .ackRun),
                                .init(node: "n2", input: .down(reason: "gone"))]),
            .abort(job: "j1", org: "acme", by: "amy"), .orgEvent(org: "acme", name: "start", data: ["job": "j1"]),
            .output(job: "j1", node: "n1", stream: "stderr", offset: 12, data: "aGk="),
        ]
        #expect(ClusterMessage.batch(ClusterMessage.body(batch)) == batch)
        #expect(ClusterMessage.run(job: "j", nodes: ["a"]).folding(.run(job: "j", nodes: ["b"])) == .run(job: "j", nodes: ["a", "b"]))
        #expect(ClusterMessage.run(job: "j", nodes: ["a"]).folding(.run(job: "k", nodes: ["b"])) == nil)
    }
}
