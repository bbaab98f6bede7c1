import Foundation
import PushyProtocol
import PushyStore
import Testing

extension StoreConformanceTests {
    @Test(arguments: StoreKind.allCases)
    func outputKeepsExactBytesAndFlagsAndIsReplaced(kind: StoreKind) async throws {
        try await kind.withStore { store in
            try await store.createOrg(Fixture.org("acme"))
            try await store.insertJob(Fixture.job(1, org: "acme"), nodes: Fixture.nodes(["n1"], job: 1))
            let id = Fixture.jobId(1)
            #expect(try await store.output(jobId: id, node: "n1") == nil)
            let binary = JobOutputRecord(jobId: id, node: "n1", stdout: [0xFF, 0xFE, 0x00, 0x41], stderr: [],
                                         stdoutTruncated: true)
            try await store.saveOutput(binary)
            #expect(try await store.output(jobId: id, node: "n1") == binary)
            let replaced = JobOutputRecord(jobId: id, node: "n1", stdout: [], stderr: Array("oops".utf8), stderrTruncated: true)
            try await store.saveOutput(replaced)
            #expect(try await store.output(jobId: id, node: "n1") == replaced)
            await #expect(throws: StoreError.self) {
                try await store.saveOutput(JobOutputRecord(jobId: Fixture.jobId(9), node: "n1", stdout: [], stderr: []))
            }
        }
    }

    /// Every node's output of one job at once, in node order (grouped output, issue 13).
    @Test(arguments: StoreKind.allCases)
    func outputsOfAJobComeTogetherInNodeOrder(kind: StoreKind) async throws {
        try await kind.withStore { store in
            try await store.createOrg(Fixture.org("acme"))
            try await store.insertJob(Fixture.job(1, org: "acme"), nodes: Fixture.nodes(["b", "a", "c"], job: 1))
            try await store.insertJob(Fixture.job(2, org: "acme"), nodes: Fixture.nodes(["a"], job: 2))
            let id = Fixture.jobId(1)
            #expect(try await store.outputs(jobId: id).isEmpty)
            for n in ["c", "a", "b"] {
                try await store.saveOutput(JobOutputRecord(jobId: id, node: n, stdout: Array(n.utf8), stderr: []))
            }
            try await store.saveOutput(JobOutputRecord(jobId: Fixture.jobId(2), node: "a", stdout: [1], stderr: []))
            #expect(try await store.outputs(jobId: id).map(\.node) == ["a", "b", "c"])
            #expect(try await store.outputs(jobId: id).first?.stdout == Array("a".utf8))
        }
    }

    /// A job's rate control and the job it re-runs are kept (issue 13).
    @Test(arguments: StoreKind.allCases)
    func rateControlAndRerunLinkRoundTrip(kind: StoreKind) async throws {
        try await kind.withStore { store in
            try await store.createOrg(Fixture.org("acme"))
            var job = Fixture.job(1, org: "acme")
            job.rateControl = RateControl(maxConcurrency: .percent(10), maxErrors: .count(2), batchSize: .count(5),
                                          batchWait: 1.5, canary: 1)
            job.rerunOf = Fixture.jobId(7)
            try await store.insertJob(job, nodes: Fixture.nodes(["a"], job: 1))
            let back = try await store.job(org: "acme", id: job.id)
            #expect(back?.rateControl == job.rateControl)
            #expect(back?.rerunOf == job.rerunOf)
            try await store.insertJob(Fixture.job(2, org: "acme"), nodes: Fixture.nodes(["a"], job: 2))
            #expect(try await store.job(org: "acme", id: Fixture.jobId(2))?.rateControl == nil)
        }
    }
}
