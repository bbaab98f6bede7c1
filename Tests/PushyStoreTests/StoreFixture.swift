import Foundation
import Logging
import PushyPostgres
import PushyPostgresTestSupport
import PushyProtocol
import PushyStore
import Testing

/// A fresh, empty directory under the system temp folder, removed by `remove()`.
struct TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("pushy-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// The store implementations the conformance suite runs against.
enum StoreKind: String, CaseIterable, CustomStringConvertible, Sendable {
    case sqlite
    case memory
    /// A new database on the test server (`PUSHY_TEST_POSTGRES_URL`); the case is skipped
    /// without one, and fails when `PUSHY_REQUIRE_POSTGRES=1` (`make test`).
    case postgres

    var description: String { rawValue }

    /// Runs `body` against a new, empty store of this kind and cleans up afterwards.
    func withStore(_ body: (any PushyStore) async throws -> Void) async throws {
        switch self {
        case .memory:
            try await body(InMemoryStore())
        case .sqlite:
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            let store = try SQLiteStore(path: dir.path("pushy.sqlite"))
            try await body(store)
            try store.close()
        case .postgres:
            try await TestPostgres.withDatabase { url in
                let store = try await PostgresStore.open(url: url, logger: quietLogger)
                do {
                    try await body(store)
                } catch {
                    await store.shutdown()
                    throw error
                }
                await store.shutdown()
            }
        }
    }
}

/// Warnings and worse only: the PostgreSQL client logs its connections at lower levels.
let quietLogger: Logger = {
    var l = Logger(label: "pushy-store-tests")
    l.logLevel = .warning
    return l
}()

/// Expects `body` to fail with a `StoreError` of `kind`.
func expectStoreError(
    _ kind: StoreError.Kind, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> Void
) async {
    do {
        try await body()
        Issue.record("expected a \(kind) error, got success", sourceLocation: sourceLocation)
    } catch let error as StoreError {
        #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected a StoreError, got \(error)", sourceLocation: sourceLocation)
    }
}

/// Test data with whole-second (or exactly representable) dates so both stores compare equal.
enum Fixture {
    static let t0 = Date(timeIntervalSince1970: 1_700_000_000)

    static func at(_ seconds: Double) -> Date { t0.addingTimeInterval(seconds) }

    static func org(_ name: String, guidDigit: Character = "a", at seconds: Double = 0) -> OrgRecord {
        OrgRecord(name: name, guid: String(repeating: guidDigit, count: 32), createdAt: at(seconds))
    }

    static func principal(_ org: String, _ name: String, _ type: PrincipalType = .user, admin: Bool = false)
        -> PrincipalRecord
    {
        PrincipalRecord(
            org: org, name: name, type: type,
            publicKey: "-----BEGIN PUBLIC KEY-----\n\(name)\n-----END PUBLIC KEY-----\n", isAdmin: admin,
            createdAt: at(1))
    }

    /// A 32-hex job id ending in `n`.
    static func jobId(_ n: Int) -> String {
        let suffix = String(n, radix: 16)
        return String(repeating: "0", count: 32 - suffix.count) + suffix
    }

    static func job(_ n: Int, org: String, status: JobStatus = .voting, at seconds: Double = 0) -> JobRecord {
        JobRecord(
            id: jobId(n), org: org, command: "chef-client", quorum: 1, runTimeout: 300, status: status,
            requestor: "alice", createdAt: at(seconds))
    }

    static func nodes(_ names: [String], job n: Int, status: NodeJobStatus = .new) -> [JobNodeRecord] {
        names.map { JobNodeRecord(jobId: jobId(n), node: $0, status: status, updatedAt: at(0)) }
    }
}
