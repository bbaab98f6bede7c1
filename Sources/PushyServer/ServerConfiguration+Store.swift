import Foundation
import Logging
import PushyPostgres
import PushyStore

extension ServerConfiguration {
    /// The store the settings name: the PostgreSQL database of `postgres_url` (migrated to the
    /// current schema), else the SQLite file `DATA_DIR/pushy.sqlite`. A database that cannot be
    /// used is a start error that says which one and why.
    public func openStore(logger: Logger) async throws -> any PushyStore {
        guard let text = postgresURL else { return try SQLiteStore(path: databasePath) }
        let url: PostgresURL
        do { url = try PostgresURL(parsing: text) } catch {
            throw ServerStartError("postgres_url = \(PostgresURL.redact(text)): \(error)")
        }
        var storeLogger = logger
        storeLogger[metadataKey: "pushy.store"] = "postgres"
        do {
            return try await PostgresStore.open(url: url, logger: storeLogger)
        } catch {
            let prefix = "storage error: "
            let m = error.message.hasPrefix(prefix) ? String(error.message.dropFirst(prefix.count)) : error.message
            throw ServerStartError("\(m) (postgres_url = \(url))")
        }
    }

    /// Where the data lives, for people: `PostgreSQL USER@HOST:PORT/DATABASE` or `SQLite PATH`.
    public var databaseDescription: String {
        if let text = postgresURL {
            return "PostgreSQL " + ((try? PostgresURL(parsing: text))?.location ?? PostgresURL.redact(text))
        }
        return "SQLite \(databasePath)"
    }
}
