import Foundation
import Logging
import PostgresNIO
import PushyPostgres
import Synchronization
import Testing

/// The PostgreSQL server the tests use: `PUSHY_TEST_POSTGRES_URL` (`make test` starts a throwaway
/// cluster with scripts/pg-test-cluster.sh and sets it). Each test makes a database of its own,
/// so tests run in parallel and leave nothing behind.
///
/// Without the URL the PostgreSQL tests are skipped, with a message saying so, unless
/// `PUSHY_REQUIRE_POSTGRES=1` (as `make test` sets): then they fail.
public enum TestPostgres {
    public static var url: String? {
        ProcessInfo.processInfo.environment["PUSHY_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The test cluster's directory, which holds its Unix socket (scripts/pg-test-cluster.sh).
    public static var socketDirectory: String? {
        ProcessInfo.processInfo.environment["PUSHY_TEST_POSTGRES_DIR"].flatMap { $0.isEmpty ? nil : $0 }
    }

    public static var required: Bool { ProcessInfo.processInfo.environment["PUSHY_REQUIRE_POSTGRES"] == "1" }

    /// For `.enabled(if:)`: run when a server is given, or when one is required (and then fail without it).
    public static var enabled: Bool { url != nil || required }

    public static let skipReason = "PostgreSQL tests skipped: PUSHY_TEST_POSTGRES_URL is not set "
        + "(make test starts a throwaway cluster; by hand: scripts/pg-test-cluster.sh run -- swift test …)"

    /// Said once per run: a skipped case of a parameterized test shows as passed in the console.
    private static let toldSkip = Atomic<Bool>(false)

    /// The server's URL; skips the current test (or test case) without one, or fails it when
    /// PostgreSQL is required.
    public static func requireURL(sourceLocation: SourceLocation = #_sourceLocation) throws -> PostgresURL {
        guard let text = url else {
            if required {
                throw TestPostgresError("PUSHY_REQUIRE_POSTGRES=1 but PUSHY_TEST_POSTGRES_URL is not set: run the tests "
                                        + "through make test, or scripts/pg-test-cluster.sh run -- swift test")
            }
            if !toldSkip.exchange(true, ordering: .relaxed) {
                FileHandle.standardError.write(Data("note: \(skipReason); the postgres cases of StoreConformanceTests were skipped too\n".utf8))
            }
            try Test.cancel(Comment(rawValue: skipReason), sourceLocation: sourceLocation)
        }
        return try PostgresURL(parsing: text)
    }

    /// Runs `body` with the URL of a new, empty database on the test server, dropped afterwards
    /// (also when `body` throws).
    public static func withDatabase<T>(sourceLocation: SourceLocation = #_sourceLocation,
                                       _ body: (PostgresURL) async throws -> T) async throws -> T {
        let server = try requireURL(sourceLocation: sourceLocation)
        let name = "pushy_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try await admin(server) { c, logger in
            _ = try await c.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger).collect()
        }
        // A generous wait for a connection: the whole suite runs in parallel on two cores, and a
        // call queued behind others must not fail as if the database were down.
        var database = server.with(database: name)
        database.connectTimeout = max(database.connectTimeout, 30)
        do {
            let value = try await body(database)
            await drop(name, on: server)
            return value
        } catch {
            await drop(name, on: server)
            throw error
        }
    }

    static func drop(_ name: String, on server: PostgresURL) async {
        // FORCE: a store the test left open (or a server it killed) must not keep the database.
        _ = try? await admin(server) { c, logger in
            _ = try await c.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: logger).collect()
        }
    }

    /// Runs `sql` on the database of `url` over a connection of its own (a test changing what a
    /// store would not, e.g. a schema version from the future).
    public static func execute(_ sql: String, on url: PostgresURL) async throws {
        try await admin(url) { c, logger in _ = try await c.query(PostgresQuery(unsafeSQL: sql), logger: logger).collect() }
    }

    /// One short connection to the database of `server` (the maintenance database for the server's URL).
    static func admin(_ server: PostgresURL, _ body: (PostgresConnection, Logger) async throws -> Void) async throws {
        let logger = Logger(label: "pushy-test-postgres", factory: { _ in SwiftLogNoOpLogHandler() })
        let config: PostgresConnection.Configuration =
            if let socket = server.socketPath {
                .init(unixSocketPath: socket, username: server.user, password: server.password, database: server.database)
            } else {
                .init(host: server.host ?? "127.0.0.1", port: server.port, username: server.user, password: server.password,
                      database: server.database, tls: .disable)
            }
        let connection = try await PostgresConnection.connect(configuration: config, id: 1, logger: logger)
        do {
            try await body(connection, logger)
        } catch {
            try? await connection.close()
            throw error
        }
        try? await connection.close()
    }
}

public struct TestPostgresError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
