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
}
