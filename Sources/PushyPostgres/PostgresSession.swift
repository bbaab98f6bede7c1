import Foundation
import Logging
import PostgresNIO
import PushyStore

/// One leased connection, inside a transaction or not, with the few calls the store makes.
/// Every result is read to the end, so the next statement on the connection never waits
/// behind an unread one.
struct PostgresSession {
    let connection: PostgresConnection
    let logger: Logger

    /// Runs `query` and returns its rows.
    func rows(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        try await connection.query(query, logger: logger).collect().map { $0.makeRandomAccess() }
    }

    /// Runs `query` and returns its rows as they came, for positional decoding of large results
    /// (`row.decode((A, B).self)` costs a fraction of a lookup by column name).
    func rawRows(_ query: PostgresQuery) async throws -> [PostgresRow] {
        try await connection.query(query, logger: logger).collect()
    }

    /// Runs `query` and returns how many rows it returned (a write with `RETURNING 1` counts
    /// the rows it changed).
    @discardableResult
    func run(_ query: PostgresQuery) async throws -> Int {
        try await connection.query(query, logger: logger).collect().count
    }

    /// Whether `query` returns a row.
    func exists(_ query: PostgresQuery) async throws -> Bool {
        try await run(query) > 0
    }

    /// The first column of every row as text.
    func strings(_ query: PostgresQuery) async throws -> [String] {
        try await connection.query(query, logger: logger).collect().map { row in
            try row.makeRandomAccess()[0].decode(String.self)
        }
    }

    func requireOrg(_ name: String) async throws {
        if try await !exists("SELECT 1 FROM orgs WHERE name = \(name)") {
            throw StoreError.notFound("organization '\(name)'")
        }
    }
}

/// Typed reads of a row's columns by name; a column that does not decode is a damaged row,
/// reported as `.io` by the store's error mapping.
extension PostgresRandomAccessRow {
    func string(_ column: String) throws -> String { try self[column].decode(String.self) }
    func optionalString(_ column: String) throws -> String? { try self[column].decode(String?.self) }
    func int(_ column: String) throws -> Int { try self[column].decode(Int.self) }
    func optionalInt(_ column: String) throws -> Int? { try self[column].decode(Int?.self) }
    func bool(_ column: String) throws -> Bool { try self[column].decode(Bool.self) }
    /// Dates are stored as seconds since 1970 (`DOUBLE PRECISION`), as in the SQLite store: exact round trips.
    func date(_ column: String) throws -> Date { Date(timeIntervalSince1970: try self[column].decode(Double.self)) }
    func optionalDate(_ column: String) throws -> Date? {
        try self[column].decode(Double?.self).map { Date(timeIntervalSince1970: $0) }
    }
    func bytes(_ column: String) throws -> [UInt8] {
        Array(try self[column].decode(ByteBuffer.self).readableBytesView)
    }
}
