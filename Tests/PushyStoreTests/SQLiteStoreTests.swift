import Foundation
import PushyProtocol
import PushyStore
import Testing

/// What only the file-backed store has to prove: data outlives the process's handle, and the
/// file is in WAL mode.
@Suite(.timeLimit(.minutes(3))) struct SQLiteStoreTests {
    @Test func reopeningTheFileKeepsEverything() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("pushy.sqlite")

        let org = Fixture.org("acme")
        let principal = Fixture.principal("acme", "alice", admin: true)
        let node = NodeRecord(
            org: "acme", name: "web1", roles: ["web"], tags: ["t"], attributes: ["b": 1, "a": ["x": nil]],
            updatedAt: Fixture.at(3))
        let job = JobRecord(
            id: Fixture.jobId(1), org: "acme", command: "chef-client", quorum: 1, status: .running,
            requestor: "alice", env: [:], captureOutput: true, createdAt: Fixture.at(4))

        do {  // The first store is dropped at the end of this scope, without close().
            let store = try SQLiteStore(path: path)
            try await store.createOrg(org)
            try await store.createPrincipal(principal)
            try await store.upsertNode(node)
            try await store.insertJob(job, nodes: Fixture.nodes(["web1"], job: 1, status: .running))
        }
        do {
            let store = try SQLiteStore(path: path)
            #expect(try await store.listOrgs() == [org])
            #expect(try await store.principal(org: "acme", name: "alice") == principal)
            #expect(try await store.node(org: "acme", name: "web1") == node)
            #expect(try await store.job(org: "acme", id: job.id) == job)
            #expect(try await store.jobNodes(jobId: job.id).map(\.status) == [.running])
            #expect(try await store.crashUnfinishedJobs(reason: "restart", at: Fixture.at(9)) == [job.id])
            try store.close()
        }
        let store = try SQLiteStore(path: path)
        #expect(try await store.job(org: "acme", id: job.id)?.status == .crashed)
        #expect(try await store.jobNodes(jobId: job.id).map(\.status) == [.crashed])
        try store.close()
    }

    @Test func theDatabaseIsInWALMode() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("pushy.sqlite")
        let store = try SQLiteStore(path: path)
        try await store.createOrg(Fixture.org("acme"))
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
        try store.close()

        // Bytes 18 and 19 of the header (file format write/read versions) are 2 in WAL mode,
        // and they persist in the file, unlike the -wal file.
        let header = try #require(FileManager.default.contents(atPath: path))
        #expect(header.count >= 100)
        #expect(header.starts(with: Array("SQLite format 3\0".utf8)))
        #expect(header[18] == 2 && header[19] == 2)
    }

    @Test func openingInAMissingDirectoryIsAnIOError() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        #expect(throws: StoreError.self) { try SQLiteStore(path: dir.path("missing/pushy.sqlite")) }
        do {
            _ = try SQLiteStore(path: dir.path("missing/pushy.sqlite"))
        } catch {
            #expect(error.kind == .io)
        }
    }

    @Test func aClosedStoreFailsWithIOError() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try SQLiteStore(path: dir.path("pushy.sqlite"))
        try store.close()
        await expectStoreError(.io) { try await store.createOrg(Fixture.org("acme")) }
        await expectStoreError(.io) { _ = try await store.listOrgs() }
    }
}
