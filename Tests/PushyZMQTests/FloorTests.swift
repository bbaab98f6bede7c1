#if os(Linux)
import Testing
@testable import PushyZMQ

/// The floor (issue 16) in one process, at the quick size of `make test`: 200 CURVE agents in
/// two swarms (as the bench splits a size over processes). It must run Pushy's exchange for
/// every node and refuse to report a job that lost a message.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct FloorTests {
    /// Pushy-like sizes (the bench takes the real ones from FloorTraffic).
    static let frames = FloorFrames(
        heartbeat: .init(header: 89, body: 250), broadcast: .init(header: 395, body: 130),
        commit: .init(header: 89, body: 190), ackCommit: .init(header: 89, body: 260), run: .init(header: 89, body: 110),
        ackRun: .init(header: 89, body: 257), result: .init(header: 89, body: 276))

    struct Rig {
        let server: FloorServer
        let swarms: [FloorSwarm]

        func stop() {
            for s in swarms { s.shutdown() }
            server.shutdown()
        }
    }

    /// A server for `agents` and swarms of `split` agents each; `dropResultOf` goes to every swarm.
    func rig(agents: Int = 200, split: [Int] = [120, 80], swarmFrames: FloorFrames = Self.frames,
             dropResultOf: Int? = nil) throws -> Rig {
        var options = FloorServer.Options(agents: agents, frames: Self.frames, interval: 0.2)
        options.routerEndpoint = "tcp://127.0.0.1:0"
        options.pubEndpoint = "tcp://127.0.0.1:0"
        let server = try FloorServer(context: try ZMQContext(ioThreads: 1, maxSockets: 4096), options: options)
        var swarms: [FloorSwarm] = []
        var first = 0
        for count in split {
            var o = FloorSwarm.Options(count: count, routerPort: server.routerPort, pubPort: server.pubPort, interval: 0.2,
                                       frames: swarmFrames)
            o.firstIndex = first
            o.serverKey = server.publicKey
            o.dropResultOf = dropResultOf
            swarms.append(try FloorSwarm(options: o))
            first += count
        }
        return Rig(server: server, swarms: swarms)
    }

    /// Waits (≤ 30 s) until the server has heard from `n` agents; fails with what it saw.
    func waitConnected(_ server: FloorServer, _ n: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        var seen = await server.counts()
        while seen.nodes < n {
            guard ContinuousClock.now < deadline else {
                Issue.record("only \(seen.nodes) of \(n) floor agents heard from within 30 s: \(seen); server thread: \(server.stopReason ?? "running")")
                throw FloorTestError.timeout
            }
            try await Task.sleep(for: .milliseconds(20))
            seen = await server.counts()
        }
    }

    enum FloorTestError: Error { case timeout }

    @Test func everyNodeAnswersAndBothSidesCountAlike() async throws {
        let rig = try rig()
        defer { rig.stop() }
        try await waitConnected(rig.server, 200)
        let atConnected = await rig.server.counts().broadcasts
        for _ in 0..<2 {
            let all = await rig.server.job(nodes: 0..<200, timeout: 20)
            #expect(all.failure == nil, "\(all.failure ?? "")")
            #expect(all.nodes == 200)
            #expect(all.seconds > 0)
        }
        let one = await rig.server.job(nodes: 137..<138, timeout: 20)
        #expect(one.failure == nil, "\(one.failure ?? "")")
        // Pushy's commit_run exchange (issue 16): commit_run → ack_run → result, no run.
        let combined = await rig.server.job(nodes: 42..<43, timeout: 20, runAtCommit: true)
        #expect(combined.failure == nil, "\(combined.failure ?? "")")
        // Three broadcasts after all connected, then the heartbeats stop: the tallies must then agree exactly.
        let broadcasts = ContinuousClock.now + .seconds(10)
        while await rig.server.counts().broadcasts < atConnected + 3 {
            guard ContinuousClock.now < broadcasts else {
                Issue.record("the floor server did not broadcast 3 times in 10 s: \(await rig.server.counts())")
                throw FloorTestError.timeout
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        for s in rig.swarms { await s.quiet() }
        let deadline = ContinuousClock.now + .seconds(10)
        var wrong: [String] = ["not compared yet"]
        var server = FloorCounts(), agents = FloorCounts()
        while !wrong.isEmpty, ContinuousClock.now < deadline {
            server = await rig.server.counts()
            agents = FloorCounts()
            for s in rig.swarms { agents = agents + (await s.counts()) }
            wrong = server.mismatches(agents: agents, publishedSinceConnected: max(0, server.broadcasts - atConnected - 1))
            if !wrong.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(wrong.isEmpty, "\(wrong)")
        #expect(server.results == 402)
        #expect(server.commits == 402 && server.runs == 401 && server.ackCommits == 401 && server.ackRuns == 402)
        #expect(agents.nodes == 200)
        #expect(agents.fewestBroadcasts >= 2)
        #expect(server.heartbeats >= 400)
    }

    @Test func aMissingResultFailsTheJobNamingTheNode() async throws {
        let rig = try rig(dropResultOf: 7)
        defer { rig.stop() }
        try await waitConnected(rig.server, 200)
        let job = await rig.server.job(nodes: 0..<200, timeout: 5)
        let failure = try #require(job.failure)
        #expect(failure.contains("no result from 1 of 200 node(s): 7"), "\(failure)")
        #expect(!failure.contains("ack_run from"), "\(failure)")
        // The node's ack_run came and its result did not: the tallies say so too.
        let agents = await rig.swarms[0].counts() + rig.swarms[1].counts()
        #expect(agents.ackRuns == 200 && agents.results == 199)
        // The other nodes are fine.
        let rest = await rig.server.job(nodes: 8..<200, timeout: 20)
        #expect(rest.failure == nil, "\(rest.failure ?? "")")
    }

    @Test func messagesOfOtherSizesAreNotCounted() async throws {
        var other = Self.frames
        other.heartbeat.body += 1
        other.ackCommit.header -= 1
        let rig = try rig(agents: 20, split: [20], swarmFrames: other)
        defer { rig.stop() }
        let deadline = ContinuousClock.now + .seconds(10)
        var seen = await rig.server.counts()
        while seen.unexpected < 20, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            seen = await rig.server.counts()
        }
        #expect(seen.unexpected >= 20)
        #expect(seen.nodes == 0 && seen.heartbeats == 0)
        let job = await rig.server.job(nodes: 0..<20, timeout: 5)
        #expect(job.failure?.contains("never sent a heartbeat") == true, "\(job.failure ?? "no failure")")
    }

    @Test func frameSizesReadBackAndBadOnesAreRefused() throws {
        #expect(try FloorFrames.parse(Self.frames.description) == Self.frames)
        #expect(throws: ZMQError.self) { try FloorFrames.parse("heartbeat=10+5") }
        #expect(throws: ZMQError.self) { try FloorFrames.parse(Self.frames.description.replacing("run=", with: "walk=")) }
        var counts = FloorCounts()
        counts.heartbeats = 3
        counts.fewestBroadcasts = 2
        #expect(FloorCounts.parse(counts.description.split(separator: " ")) == counts)
    }
}
#endif
