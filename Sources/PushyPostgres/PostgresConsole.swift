import Foundation
import Logging
import PostgresNIO

/// One connection of its own that runs SQL text and returns every value as text (NULL as nil):
/// for tools beside the store (`pushy-bench cluster` reads statistics and presence with it), so
/// that postgres-nio stays inside this module. Write `::text` on columns that are not text.
/// Connects as the store does (`postgres_url`'s socket, TLS mode and timeout).
public final class PostgresConsole: Sendable {
    private let client: PostgresClient
    private let running: Task<Void, Never>
    private let logger = Logger(label: "pushy-postgres-console", factory: { _ in SwiftLogNoOpLogHandler() })

    public init(_ url: PostgresURL) {
        var config = PostgresStore.configuration(url)
        config.options.maximumConnections = 1
        config.options.additionalStartupParameters = [("application_name", "pushy-console")]
        let client = PostgresClient(configuration: config, backgroundLogger: logger)
        self.client = client
        running = Task { await client.run() }
    }

    /// Runs `sql` and returns its rows, each value as text.
    @discardableResult
    public func query(_ sql: String) async throws(PostgresConsoleError) -> [[String?]] {
        do {
            return try await client.query(PostgresQuery(unsafeSQL: sql), logger: logger).collect().map { row in
                try row.makeRandomAccess().map { try $0.decode(String?.self) }
            }
        } catch {
            throw PostgresConsoleError("\(sql.prefix(100)): \(String(reflecting: error))")
        }
    }

    /// Closes the connection; later queries fail.
    public func close() async {
        running.cancel()
        await running.value
    }
}

/// A console query that failed, with the database's reason.
public struct PostgresConsoleError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
