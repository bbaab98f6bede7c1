import Foundation
import PushyProtocol
import PushyStore
import Testing

extension StoreConformanceTests {
    @Test(arguments: StoreKind.allCases)
    func jobsRoundTripEveryFieldAndAreScopedByOrg(kind: StoreKind) async throws {
        try await kind.withStore { store in
            try await store.createOrg(Fixture.org("acme", guidDigit: "a"))
            try await store.createOrg(Fixture.org("beta", guidDigit: "b"))

            let full = JobRecord(
                id: Fixture.jobId(1), org: "acme", command: "deploy", quorum: 2, runTimeout: 60, status: .voting,
                statusReason: "waiting", requestor: "alice", user: "deploy", dir: "/srv/app",
                env: ["B": "2", "A": "1"], file: "raw:#!/bin/sh\necho hi\n", captureOutput: true,
                createdAt: Fixture.at(1), updatedAt: Fixture.at(2), origin: "schedule:nightly")
            let minimal = Fixture.job(2, org: "acme")
            // Node records carrying another job id are stored under the job's own id.
            var nodes = Fixture.nodes(["web2", "web1"], job: 99)
            nodes[1].reason = "offline at creation"
            nodes[1].status = .unavailable
            try await store.insertJob(full, nodes: nodes)
            try await store.insertJob(minimal, nodes: [])

            #expect(try await store.job(org: "acme", id: full.id) == full)
            #expect(try await store.job(org: "acme", id: minimal.id) == minimal)
            #expect(try await store.job(org: "beta", id: full.id) == nil)
            #expect(try await store.job(org: "acme", id: Fixture.jobId(3)) == nil)

            let stored = try await store.jobNodes(jobId: full.id)
            #expect(stored.map(\.node) == ["web1", "web2"])
            #expect(stored.allSatisfy { $0.jobId == full.id })
            #expect(stored[0].status == .unavailable && stored[0].reason == "offline at creation")
            #expect(stored[1].status == .new && stored[1].reason == nil)
            #expect(try await store.jobNodes(jobId: minimal.id).isEmpty)
            #expect(try await store.jobNodes(jobId: Fixture.jobId(3)).isEmpty)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func insertJobIsAllOrNothing(kind: StoreKind) async throws {
        try await kind.withStore { store in
            try await store.createOrg(Fixture.org("acme", guidDigit: "a"))
            try await store.createOrg(Fixture.org("beta", guidDigit: "b"))
            try await store.insertJob(Fixture.job(1, org: "acme"), nodes: Fixture.nodes(["a"], job: 1))

            // Same id again, even from another org.
            await expectStoreError(.duplicate) {
                try await store.insertJob(Fixture.job(1, org: "beta"), nodes: Fixture.nodes(["b"], job: 1))
            }
            #expect(try await store.jobNodes(jobId: Fixture.jobId(1)).map(\.node) == ["a"])

            // A node named twice fails the whole insert.
            await expectStoreError(.duplicate) {
                try await store.insertJob(Fixture.job(2, org: "acme"), nodes: Fixture.nodes(["x", "y", "x"], job: 2))
            }
            #expect(try await store.job(org: "acme", id: Fixture.jobId(2)) == nil)
            #expect(try await store.jobNodes(jobId: Fixture.jobId(2)).isEmpty)

            await expectStoreError(.notFound) {
                try await store.insertJob(Fixture.job(3, org: "gamma"), nodes: Fixture.nodes(["a"], job: 3))
            }
            #expect(try await store.jobNodes(jobId: Fixture.jobId(3)).isEmpty)
            #expect(try await store.listJobs(org: "acme").map(\.id) == [Fixture.jobId(1)])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func updateJobChangesStatusReasonAndTimeOnly(kind: StoreKind) async throws {
        try await kind.withStore { store in
            try await store.createOrg(Fixture.org("acme"))
            let job = Fixture.job(1, org: "acme", at: 0)
            try await store.insertJob(job, nodes: Fixture.nodes(["a"], job: 1))

            try await store.updateJob(id: job.id, status: .quorumFailed, reason: "1 of 2 ready", updatedAt: Fixture.at(9))
            var expected = job
            expected.status = .quorumFailed
            expected.statusReason = "1 of 2 ready"
            expected.updatedAt = Fixture.at(9)
            #expect(try await store.job(org: "acme", id: job.id) == expected)

            try await store.updateJob(id: job.id, status: .running, reason: nil, updatedAt: Fixture.at(10))
            let read = try #require(try await store.job(org: "acme", id: job.id))
            #expect(read.statusReason == nil && read.status == .running && read.createdAt == job.createdAt)

            await expectStoreError(.notFound) {
                try await store.updateJob(id: Fixture.jobId(7), status: .running, reason: nil, updatedAt: Fixture.at(1))
            }
        }
    }

    /// A job over more nodes than one statement carries (the SQLite store writes a few hundred
    /// rows per statement): every row lands, each update reaches exactly its node, and one
    /// unknown node anywhere in a large batch rejects all of it and is named.
    @Test(arguments: StoreKind.allCases)
    func largeJobsInsertAndUpdateEveryNode(kind: StoreKind) async throws {
        try await kind.withStore { store in
            try await store.createOrg(Fixture.org("acme"))
            let job = Fixture.job(1, org: "acme")
            let names = (0..<1_234).map { String(format: "node-%04d", $0) }
            try await store.insertJob(job, nodes: Fixture.nodes(names, job: 1))
            #expect(try await store.jobNodes(jobId: job.id).map(\.node) == names)

            // Mixed statuses, reasons and times, as a flush of a running job holds them.
            let updates = names.enumerated().map { i, n in
                JobNodeUpdate(jobId: job.id, node: n, status: i % 3 == 0 ? .running : (i % 3 == 1 ? .ready : .nacked),
                              reason: i % 3 == 2 ? "busy \(i % 2)" : nil, at: Fixture.at(Double(1 + i % 2)))
            }
            try await store.applyNodeUpdates(updates)
            let rows = try await store.jobNodes(jobId: job.id)
            #expect(rows.count == names.count)
            for (row, u) in zip(rows, updates) {
                #expect(row.node == u.node && row.status == u.status && row.reason == u.reason && row.updatedAt == u.at)
            }

            var bad = updates.map { var u = $0; u.status = .succeeded; return u }
            bad.insert(JobNodeUpdate(jobId: job.id, node: "node-9999", status: .succeeded, at: Fixture.at(3)), at: 700)
            do {
                try await store.applyNodeUpdates(bad)
                Issue.record("an unknown node was accepted")
            } catch {
                #expect((error as? StoreError)?.kind == .notFound)
                #expect("\(error)".contains("node-9999"))
            }
            #expect(try await store.jobNodes(jobId: job.id).map(\.status) == updates.map(\.status))
        }
    }

    @Test(arguments: StoreKind.allCases)
    func nodeUpdatesApplyInOrderAsOneBatch(kind: StoreKind) async throws {
        try await kind.withStore { store in
            try await store.createOrg(Fixture.org("acme"))
            let one = Fixture.job(1, org: "acme"), two = Fixture.job(2, org: "acme")
            try await store.insertJob(one, nodes: Fixture.nodes(["a", "b", "c"], job: 1))
            try await store.insertJob(two, nodes: Fixture.nodes(["a"], job: 2))

            try await store.applyNodeUpdates([])
            try await store.applyNodeUpdates([
                JobNodeUpdate(jobId: one.id, node: "a", status: .ready, at: Fixture.at(1)),
                JobNodeUpdate(jobId: one.id, node: "b", status: .nacked, reason: "busy", at: Fixture.at(1)),
                JobNodeUpdate(jobId: two.id, node: "a", status: .unavailable, reason: "down", at: Fixture.at(2)),
                JobNodeUpdate(jobId: one.id, node: "a", status: .running, at: Fixture.at(3)),
            ])
            #expect(try await store.jobNodes(jobId: one.id) == [
                JobNodeRecord(jobId: one.id, node: "a", status: .running, updatedAt: Fixture.at(3)),
                JobNodeRecord(jobId: one.id, node: "b", status: .nacked, reason: "busy", updatedAt: Fixture.at(1)),
                JobNodeRecord(jobId: one.id, node: "c", status: .new, updatedAt: Fixture.at(0)),
            ])
            #expect(try await store.jobNodes(jobId: two.id).first?.status == .unavailable)
            // A later change without a reason keeps the reason already given.
            try await store.applyNodeUpdates([JobNodeUpdate(jobId: two.id, node: "a", status: .failed, at: Fixture.at(3))])
            #expect(try await store.jobNodes(jobId: two.id).first?.reason == "down")
            // Node changes do not touch the job's updatedAt (spec 2.3).
            #expect(try await store.job(org: "acme", id: one.id)?.updatedAt == one.updatedAt)

            // One unknown (job, node) pair rejects the whole batch.
            await expectStoreError(.notFound) {
                try await store.applyNodeUpdates([
                    JobNodeUpdate(jobId: one.id, node: "c", status: .ready, at: Fixture.at(4)),
                    JobNodeUpdate(jobId: one.id, node: "zzz", status: .ready, at: Fixture.at(4)),
                ])
            }
            await expectStoreError(.notFound) {
                try await store.applyNodeUpdates([
                    JobNodeUpdate(jobId: Fixture.jobId(9), node: "a", status: .ready, at: Fixture.at(4))
                ])
            }
            #expect(try await store.jobNodes(jobId: one.id).last?.status == .new)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func listJobsIsNewestFirstPerOrg(kind: StoreKind) async throws {
        try await kind.withStore { store in
            try await store.createOrg(Fixture.org("acme", guidDigit: "a"))
            try await store.createOrg(Fixture.org("beta", guidDigit: "b"))
            try await store.insertJob(Fixture.job(1, org: "acme", at: 10), nodes: [])
            try await store.insertJob(Fixture.job(2, org: "acme", at: 30), nodes: [])
            try await store.insertJob(Fixture.job(3, org: "beta", at: 40), nodes: [])
            try await store.insertJob(Fixture.job(4, org: "acme", at: 20), nodes: [])
            try await store.insertJob(Fixture.job(5, org: "acme", at: 20), nodes: [])  // same time: id decides

            #expect(try await store.listJobs(org: "acme").map(\.id) == [2, 5, 4, 1].map(Fixture.jobId))
            #expect(try await store.listJobs(org: "beta").map(\.id) == [Fixture.jobId(3)])
            #expect(try await store.listJobs(org: "gamma").isEmpty)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func crashUnfinishedJobsCrashesLiveJobsAndTheirLiveNodes(kind: StoreKind) async throws {
        try await kind.withStore { store in
            try await store.createOrg(Fixture.org("acme", guidDigit: "a"))
            try await store.createOrg(Fixture.org("beta", guidDigit: "b"))
            let statuses: [JobStatus] = [.running, .complete, .new, .quorumFailed, .voting, .timedOut, .aborted, .crashed]
            for (i, status) in statuses.enumerated() {
                try await store.insertJob(
                    Fixture.job(i + 1, org: i.isMultiple(of: 2) ? "acme" : "beta", status: status, at: Double(i)),
                    nodes: NodeJobStatus.allCases.map {
                        JobNodeRecord(jobId: "", node: $0.rawValue, status: $0, reason: "before", updatedAt: Fixture.at(0))
                    })
            }
            let restart = Fixture.at(100)
            let crashed = try await store.crashUnfinishedJobs(reason: "server restarted", at: restart)
            #expect(crashed == [1, 3, 5].map(Fixture.jobId))  // running, new, voting; oldest first

            for (i, status) in statuses.enumerated() {
                let id = Fixture.jobId(i + 1)
                let job = try #require(try await store.job(org: i.isMultiple(of: 2) ? "acme" : "beta", id: id))
                let nodes = try await store.jobNodes(jobId: id)
                if status.isTerminal {
                    #expect(job.status == status && job.statusReason == nil && job.updatedAt == Fixture.at(Double(i)))
                    #expect(nodes.allSatisfy { $0.status.rawValue == $0.node && $0.reason == "before" })
                } else {
                    #expect(job.status == .crashed && job.statusReason == "server restarted" && job.updatedAt == restart)
                    for node in nodes {
                        let before = try #require(NodeJobStatus(rawValue: node.node))
                        if before.isTerminal {
                            #expect(node.status == before && node.reason == "before")
                        } else {
                            #expect(node.status == .crashed && node.reason == "server restarted" && node.updatedAt == restart)
                        }
                    }
                }
            }
            #expect(try await store.crashUnfinishedJobs(reason: "again", at: restart).isEmpty)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func everyStatusSurvivesTheStore(kind: StoreKind) async throws {
        try await kind.withStore { store in
            try await store.createOrg(Fixture.org("acme"))
            for (i, status) in JobStatus.allCases.enumerated() {
                try await store.insertJob(Fixture.job(i, org: "acme", status: status), nodes: [])
                #expect(try await store.job(org: "acme", id: Fixture.jobId(i))?.status == status)
            }
            try await store.insertJob(
                Fixture.job(100, org: "acme"),
                nodes: NodeJobStatus.allCases.map {
                    JobNodeRecord(jobId: "", node: $0.rawValue, status: $0, updatedAt: Fixture.at(0))
                })
            for node in try await store.jobNodes(jobId: Fixture.jobId(100)) {
                #expect(node.status.rawValue == node.node)
            }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func concurrentWritersAllLand(kind: StoreKind) async throws {
        try await kind.withStore { store in
            try await store.createOrg(Fixture.org("acme"))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<40 {
                    group.addTask {
                        try await store.insertJob(
                            Fixture.job(i, org: "acme", at: Double(i)), nodes: Fixture.nodes(["a", "b"], job: i))
                        try await store.applyNodeUpdates([
                            JobNodeUpdate(jobId: Fixture.jobId(i), node: "a", status: .ready, at: Fixture.at(1))
                        ])
                    }
                }
                try await group.waitForAll()
            }
            let jobs = try await store.listJobs(org: "acme")
            #expect(jobs.map(\.id) == (0..<40).reversed().map(Fixture.jobId))
            for job in jobs {
                #expect(try await store.jobNodes(jobId: job.id).map(\.status) == [.ready, .new])
            }
        }
    }
}

/// The persisted codes are the reference's; changing one would misread every stored row.
@Test(.timeLimit(.minutes(1))) func statusDatabaseCodesMatchTheSpec() {
    #expect(JobStatus.allCases.map { "\($0.dbCode):\($0.rawValue)" } == [
        "0:voting", "1:running", "2:complete", "3:quorum_failed", "4:aborted", "5:new", "6:timed_out", "7:crashed",
    ])
    #expect(NodeJobStatus.allCases.map(\.dbCode) == Array(0...13))
    // The reference's twelve, then Pushy's (issue 13: rate control) at the end.
    #expect(NodeJobStatus.allCases.map(\.rawValue) == [
        "new", "ready", "running", "succeeded", "failed", "aborted", "unavailable", "nacked", "faulty", "was_ready",
        "crashed", "timed_out", "queued", "skipped",
    ])
    #expect(JobStatus.allCases.filter { !$0.isTerminal } == [.voting, .running, .new])
    #expect(NodeJobStatus.allCases.filter { !$0.isTerminal } == [.new, .ready, .running, .queued])
}
