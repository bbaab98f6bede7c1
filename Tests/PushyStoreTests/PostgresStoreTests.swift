import Foundation
import PushyPostgres
import PushyPostgresTestSupport
import PushyProtocol
import PushyStore
import Testing

/// What only the PostgreSQL store has to prove (the conformance suite covers the protocol):
/// versioned migrations that run once even when servers start together, refusal of a newer
/// schema, and clear errors for a database that cannot be used.
@Suite(.timeLimit(.minutes(3))) struct PostgresStoreTests {
    @Test(.enabled(if: TestPostgres.enabled, Comment(rawValue: TestPostgres.skipReason)))
    func migrationsAreVersionedAndKeepTheData() async throws {
        try await TestPostgres.withDatabase { url in
            let first = try await PostgresStore.open(url: url, logger: quietLogger)
            #expect(try await first.schemaVersions() == ["v1", "v2"])
            try await first.createOrg(Fixture.org("acme"))
            await first.shutdown()

            let again = try await PostgresStore.open(url: url, logger: quietLogger)
            #expect(try await again.schemaVersions() == ["v1", "v2"])
            #expect(try await again.listOrgs() == [Fixture.org("acme")])
            await again.shutdown()
        }
    }

    /// Servers started together on a new database: one migrates (under the advisory lock), the
    /// others wait for it and find the work done.
    @Test(.enabled(if: TestPostgres.enabled, Comment(rawValue: TestPostgres.skipReason)))
    func storesOpeningTogetherMigrateOnce() async throws {
        try await TestPostgres.withDatabase { url in
            let stores = try await withThrowingTaskGroup(of: PostgresStore.self) { group in
                for _ in 0..<4 { group.addTask { try await PostgresStore.open(url: url, logger: quietLogger) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(stores.count == 4)
            try await stores[0].createOrg(Fixture.org("acme"))
            for s in stores {
                #expect(try await s.schemaVersions() == ["v1", "v2"])
                #expect(try await s.org(named: "acme") != nil)
                await s.shutdown()
            }
        }
    }

    @Test(.enabled(if: TestPostgres.enabled, Comment(rawValue: TestPostgres.skipReason)))
    func aSchemaFromANewerPushyIsRefused() async throws {
        try await TestPostgres.withDatabase { url in
            await (try await PostgresStore.open(url: url, logger: quietLogger)).shutdown()
            try await TestPostgres.execute("INSERT INTO pushy_schema_migrations VALUES ('v999-future', 0)", on: url)
            do {
                let s = try await PostgresStore.open(url: url, logger: quietLogger)
                await s.shutdown()
                Issue.record("a newer schema was accepted")
            } catch {
                let e = error as? StoreError
                #expect(e?.kind == .io)
                #expect(e?.message.contains("v999-future") == true && e?.message.contains("run a newer pushy-server") == true, "\(error)")
            }
        }
    }

    /// `postgres://USER@:PORT/DB?host=/socket/dir`: the server's Unix socket (the test cluster's
    /// is in its directory, `PUSHY_TEST_POSTGRES_DIR`).
    @Test(.enabled(if: TestPostgres.socketDirectory != nil, "needs PUSHY_TEST_POSTGRES_DIR (scripts/pg-test-cluster.sh sets it)"))
    func aUnixSocketURLReachesTheServer() async throws {
        try await TestPostgres.withDatabase { url in
            var socket = url
            socket.host = nil
            socket.socketDirectory = TestPostgres.socketDirectory
            socket.tlsMode = .disable
            let parsed = try PostgresURL(parsing: socket.text(showingPassword: true))
            #expect(parsed.socketPath?.hasSuffix("/.s.PGSQL.\(url.port)") == true, "\(parsed)")
            let store = try await PostgresStore.open(url: parsed, logger: quietLogger)
            try await store.createOrg(Fixture.org("acme"))
            #expect(try await store.listOrgs().map(\.name) == ["acme"])
            await store.shutdown()
        }
    }

    @Test(.enabled(if: TestPostgres.enabled, Comment(rawValue: TestPostgres.skipReason)))
    func aMissingDatabaseIsNamed() async throws {
        let server = try TestPostgres.requireURL()
        do {
            let s = try await PostgresStore.open(url: server.with(database: "pushy_no_such_db"), logger: quietLogger)
            await s.shutdown()
            Issue.record("opened a database that does not exist")
        } catch {
            #expect(error.kind == .io)
            #expect(error.message.contains("pushy_no_such_db"), "\(error)")
        }
    }

    /// Nothing listens: open fails (after connect_timeout, not the pool's minute: the suite's time
    /// limit would catch a hang), names the place and hides the password.
    @Test func anUnreachableDatabaseFailsToOpenWithAClearError() async throws {
        let url = try PostgresURL(parsing: "postgres://pushy:hunter2@127.0.0.1:1/pushy?sslmode=disable&connect_timeout=1")
        do {
            let s = try await PostgresStore.open(url: url, logger: quietLogger)
            await s.shutdown()
            Issue.record("opened a database nothing serves")
        } catch {
            #expect(error.kind == .io)
            #expect(error.message.contains("pushy@127.0.0.1:1/pushy"), "\(error)")
            #expect(!error.message.contains("hunter2"), "\(error)")
        }
    }

    @Test(.enabled(if: TestPostgres.enabled, Comment(rawValue: TestPostgres.skipReason)))
    func callsAfterShutdownFailWithIOError() async throws {
        try await TestPostgres.withDatabase { url in
            let store = try await PostgresStore.open(url: url, logger: quietLogger)
            await store.shutdown()
            await expectStoreError(.io) { try await store.createOrg(Fixture.org("acme")) }
            await expectStoreError(.io) { _ = try await store.listOrgs() }
        }
    }
}
