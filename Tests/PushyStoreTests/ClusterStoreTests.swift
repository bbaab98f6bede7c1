import Foundation
import PushyPostgres
import PushyPostgresTestSupport
import PushyProtocol
import PushyStore
import Testing

/// Several servers on one database (issue 17 points 2-3), at the store: work that must happen
/// once is taken once when two servers race, crash recovery spares a live peer's jobs, leases,
/// presence and messages between servers.
@Suite(.timeLimit(.minutes(3)), .enabled(if: TestPostgres.enabled, Comment(rawValue: TestPostgres.skipReason)))
struct ClusterStoreTests {
    static func server(_ id: String) -> ServerRecord {
        ServerRecord(id: id, restURL: "https://\(id):10003", commandAddress: "tcp://\(id):10002", heartbeatAddress: "tcp://\(id):10000")
    }

    static func run(_ n: Int) -> PlanRunRecord {
        PlanRunRecord(id: Fixture.jobId(n), org: "acme", plan: "rollout", definition: ["steps": []], parameters: [:],
                      requestor: "amy", status: "running", steps: [], createdAt: Fixture.at(0))
    }

    static func withTwoStores(_ body: (PostgresStore, PostgresStore) async throws -> Void) async throws {
        try await TestPostgres.withDatabase { url in
            let a = try await PostgresStore.open(url: url, logger: quietLogger)
            let b = try await PostgresStore.open(url: url, logger: quietLogger)
            do { try await body(a, b) } catch {
                await a.shutdown()
                await b.shutdown()
                throw error
            }
            await a.shutdown()
            await b.shutdown()
        }
    }

    /// Start-up recovery racing on two servers: each unfinished job is crashed by exactly one of
    /// them, and a job owned by a live server is left alone.
    @Test func recoveryIsTakenOnceAndSparesALivePeersJobs() async throws {
        try await Self.withTwoStores { a, b in
            try await a.createOrg(Fixture.org("acme"))
            for n in 1...6 { try await a.insertJob(Fixture.job(n, org: "acme"), nodes: Fixture.nodes(["n1"], job: n)) }
            // Server b is live and owns job 7.
            try await b.register(Self.server("live-b"), lease: 60)
            try await b.insertJob(Fixture.job(7, org: "acme"), nodes: Fixture.nodes(["n1"], job: 7))

            async let first = a.crashUnfinishedJobs(reason: "restart", at: Fixture.at(9))
            async let second = b.crashUnfinishedJobs(reason: "restart", at: Fixture.at(9))
            let (x, y) = try await (first, second)
            #expect(Set(x).isDisjoint(with: y), "both took \(Set(x).intersection(y))")
            #expect(Set(x + y) == Set((1...6).map(Fixture.jobId)))
            #expect(try await a.job(org: "acme", id: Fixture.jobId(7))?.status == .voting)
            #expect(try await a.jobNodes(jobId: Fixture.jobId(1)).map(\.status) == [.crashed])

            // Plan runs likewise: an ownerless one fails once, the live peer's goes on.
            try await a.savePlanRun(Self.run(1))
            try await b.savePlanRun(Self.run(2))
            async let p1 = a.failUnfinishedPlanRuns(reason: "restart", at: Fixture.at(9))
            async let p2 = b.failUnfinishedPlanRuns(reason: "restart", at: Fixture.at(9))
            let failed = try await p1 + p2
            #expect(failed == [Fixture.jobId(1)])
            #expect(try await a.planRun(org: "acme", id: Fixture.jobId(2))?.status == "running")
        }
    }

    /// A schedule's run time claimed by two servers at once: one wins.
    @Test func aScheduleTickIsTakenOnce() async throws {
        try await Self.withTwoStores { a, b in
            try await a.createOrg(Fixture.org("acme"))
            let s = ScheduleRecord(id: String(repeating: "5", count: 32), org: "acme", name: "nightly", owner: "amy",
                                   definition: ["name": "nightly", "cron": "* * * * *", "template": "deploy"],
                                   cursor: Fixture.at(0), createdAt: Fixture.at(0))
            try await a.createSchedule(s)
            for minute in 1...5 {
                let run = ScheduleRunRecord(scheduleId: s.id, tick: Fixture.at(Double(60 * minute)), at: Fixture.at(1), outcome: .starting)
                async let x = a.claimScheduleRun(run, keep: 50)
                async let y = b.claimScheduleRun(run, keep: 50)
                let taken = try await [x, y].filter { $0 }.count
                #expect(taken == 1, "minute \(minute): taken \(taken) times")
            }
        }
    }

    /// A server whose lease ran out: both live servers sweep at once; its unfinished jobs are
    /// crashed once, with a reason naming it; its presence and messages go; a live owner's job stays.
    @Test func aDeadServersJobsAreSweptOnce() async throws {
        try await Self.withTwoStores { a, b in
            try await a.createOrg(Fixture.org("acme"))
            try await a.register(Self.server("dead-a"), lease: 60)
            try await a.insertJob(Fixture.job(1, org: "acme"), nodes: Fixture.nodes(["n1", "n2"], job: 1))
            try await a.writePresence(server: "dead-a", [PresenceChange(org: "acme", node: "n1", available: true)])
            try await a.savePlanRun(Self.run(3))
            try await b.register(Self.server("live-b"), lease: 60)
            try await b.insertJob(Fixture.job(2, org: "acme"), nodes: Fixture.nodes(["n3"], job: 2))
            try await b.writePresence(server: "live-b", [PresenceChange(org: "acme", node: "n3", available: true),
                                                          PresenceChange(org: "acme", node: "n4", available: false)])
            try await b.send(from: "live-b", [(to: "dead-a", body: "[]"), (to: "never-registered", body: "[]")])
            #expect(try await b.presence(org: "acme", names: nil, excluding: "live-b").map(\.node) == ["n1"])

            // dead-a's lease runs out (a lease that ended a second ago).
            try await a.register(Self.server("dead-a"), lease: -1)
            #expect(try await b.liveServers().map(\.id) == ["live-b"])
            async let x = a.sweepDeadServers(reason: "its owner stopped", at: Fixture.at(5))
            async let y = b.sweepDeadServers(reason: "its owner stopped", at: Fixture.at(5))
            let results = try await [x, y].compactMap { $0 }
            let crashed = results.flatMap(\.jobs)
            #expect(crashed == [Fixture.jobId(1)], "\(results)")
            let job = try await b.job(org: "acme", id: Fixture.jobId(1))
            #expect(job?.status == .crashed)
            #expect(job?.statusReason == "its owner stopped (server dead-a)")
            #expect(try await b.jobNodes(jobId: Fixture.jobId(1)).map(\.status) == [.crashed, .crashed])
            // The swept owner, cut off meanwhile, writes late: the sweep's word stands.
            try await a.updateJob(id: Fixture.jobId(1), status: .complete, reason: nil, updatedAt: Fixture.at(6))
            #expect(try await b.job(org: "acme", id: Fixture.jobId(1))?.status == .crashed)
            // Its late node writes: a "running" does not land over crashed; a result does (true news).
            try await a.applyNodeUpdates([JobNodeUpdate(jobId: Fixture.jobId(1), node: "n1", status: .running, at: Fixture.at(6)),
                                          JobNodeUpdate(jobId: Fixture.jobId(1), node: "n2", status: .succeeded, at: Fixture.at(6))])
            #expect(try await b.jobNodes(jobId: Fixture.jobId(1)).map(\.status) == [.crashed, .succeeded])
            await #expect(throws: StoreError.self) {
                try await a.applyNodeUpdates([JobNodeUpdate(jobId: Fixture.jobId(1), node: "nobody", status: .running, at: Fixture.at(6))])
            }
            #expect(try await b.job(org: "acme", id: Fixture.jobId(2))?.status == .voting)
            #expect(try await a.presence(org: "acme", names: nil, excluding: "x").map(\.node) == ["n3", "n4"])
            #expect(try await a.receive(server: "dead-a", limit: 10).isEmpty)
            #expect(try await a.receive(server: "never-registered", limit: 10).isEmpty, "an orphan message goes too")
            let plan = try await b.planRun(org: "acme", id: Fixture.jobId(3))
            #expect(plan?.status == "failed")
            #expect(plan?.reason == "the server running the plan stopped (server dead-a)")
        }
    }

    /// Messages go to their server only, in order, once; presence moves with the node.
    @Test func messagesAndPresenceBetweenServers() async throws {
        try await Self.withTwoStores { a, b in
            try await a.createOrg(Fixture.org("acme"))
            try await a.register(Self.server("sa"), lease: 60)
            try await b.register(Self.server("sb"), lease: 60)
            var wakeUps = b.wakeUps(server: "sb").makeAsyncIterator()
            _ = await wakeUps.next()  // listening
            try await a.send(from: "sa", [(to: "sb", body: "one"), (to: "sb", body: "two"), (to: "sa", body: "mine")])
            _ = await wakeUps.next()  // notified
            let got = try await b.receive(server: "sb", limit: 10)
            #expect(got.map(\.body) == ["one", "two"])
            #expect(got.map(\.from) == ["sa", "sa"])
            // Not handled yet (no acknowledge): read again; gone once acknowledged.
            #expect(try await b.receive(server: "sb", limit: 10).map(\.id) == got.map(\.id))
            try await b.acknowledge(server: "sb", ids: [got[0].id])
            #expect(try await b.receive(server: "sb", limit: 10).map(\.body) == ["two"])
            try await b.acknowledge(server: "sb", ids: got.map(\.id))
            #expect(try await b.receive(server: "sb", limit: 10).isEmpty)
            #expect(try await a.receive(server: "sa", limit: 10).map(\.body) == ["mine"])

            try await a.writePresence(server: "sa", [PresenceChange(org: "acme", node: "n1", available: false),
                                                     PresenceChange(org: "acme", node: "n1", available: true)])
            #expect(try await b.presence(org: "acme", names: ["n1"], excluding: "sb")
                    == [PresenceRecord(org: "acme", node: "n1", server: "sa", available: true)])
            // The node moved to sb; sa's late "gone" does not remove sb's row.
            try await b.writePresence(server: "sb", [PresenceChange(org: "acme", node: "n1", available: true)])
            try await a.writePresence(server: "sa", [PresenceChange(org: "acme", node: "n1", available: nil)])
            #expect(try await a.presence(org: "acme", names: nil, excluding: "sa").map(\.server) == ["sb"])
            #expect(try await a.liveServers().map(\.id) == ["sa", "sb"])
            try await b.deregister(id: "sb")
            #expect(try await a.liveServers().map(\.id) == ["sa"])
            #expect(try await a.presence(org: "acme", names: nil, excluding: "sa").isEmpty)
        }
    }
}
