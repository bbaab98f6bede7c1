import Foundation
import Logging
import NIOSSL
import PostgresNIO
import PushyProtocol
import PushyStore
import Synchronization

/// The PostgreSQL store (issue 17): the same `PushyStore` as `SQLiteStore`, in a PostgreSQL
/// database, through postgres-nio's pooled `PostgresClient`.
///
/// - The store runs its client itself (`open` starts it, `shutdown` stops it), so it can migrate
///   the schema and answer calls before the server's services start.
/// - Nothing is kept in this process that another server on the same database would need: ids
///   come from the callers (random) or the database (audit ids), and every multi-row change is
///   one transaction, with the database's constraints catching a racing writer.
/// - A lost database fails calls with `.io` (HTTP 503) after at most `connect_timeout` seconds,
///   and the pool reconnects by itself when the database is back; no restart is needed.
public final class PostgresStore: PushyStore {
    let client: PostgresClient
    let url: PostgresURL
    let logger: Logger
    private let running: Task<Void, Never>
    private let leaseTimeout: Duration
    /// This server's id once it registered (`ClusterStore.register`): the owner of the jobs it inserts.
    private let owner = Mutex<String?>(nil)
    var serverId: String? {
        get { owner.withLock { $0 } }
        set { owner.withLock { $0 = newValue } }
    }

    /// Connects to `url`, waits for the database (at most its `connect_timeout`) and migrates it
    /// to the current schema. Fails with `.io` and a message naming the database when it cannot.
    public static func open(url: PostgresURL, logger: Logger = Logger(label: "pushy-postgres")) async throws(StoreError)
        -> PostgresStore {
        let store = PostgresStore(url: url, logger: logger)
        do {
            try await store.migrate()
        } catch {
            await store.shutdown()
            throw StoreError.io("cannot use the PostgreSQL database \(url.location): \(error.detail)")
        }
        return store
    }

    /// As `open(url:)`, from the text of a `postgres_url`.
    public static func open(url text: String, logger: Logger = Logger(label: "pushy-postgres")) async throws(StoreError)
        -> PostgresStore {
        let url: PostgresURL
        do { url = try PostgresURL(parsing: text) } catch { throw .io("postgres_url: \(error)") }
        return try await open(url: url, logger: logger)
    }

    private init(url: PostgresURL, logger: Logger) {
        self.url = url
        self.logger = logger
        leaseTimeout = .milliseconds(Int(url.connectTimeout * 1000))
        let client = PostgresClient(configuration: Self.configuration(url), backgroundLogger: logger)
        self.client = client
        running = Task { await client.run() }
    }

    /// Stops the client and closes its connections; later calls fail with `.io`. The server
    /// calls it when it stops. Waits for the pool to close at most `closeTimeout`: a connection
    /// still being made (or backing off) after the database was away can hold the pool's stop,
    /// and a server's stop must not hang on it (the process ending closes what is left).
    public func shutdown() async {
        running.cancel()
        let running = self.running
        if await !awaitAtMost(Self.closeTimeout, { await running.value }) {
            logger.warning("the PostgreSQL client did not close within \(Self.closeTimeout); stopping without it", metadata: [
                "pushy.database": "\(url.location)"])
        }
    }

    /// How long `shutdown` waits for the connection pool to close.
    static let closeTimeout = Duration.seconds(5)

    static func configuration(_ url: PostgresURL) -> PostgresClient.Configuration {
        var config: PostgresClient.Configuration
        if let socket = url.socketPath {
            config = .init(unixSocketPath: socket, username: url.user, password: url.password, database: url.database)
        } else {
            var tls = TLSConfiguration.makeClientConfiguration()
            if url.tlsMode == .verifyFull {
                if let ca = url.rootCertificate { tls.trustRoots = .file(ca) }
            } else {
                // libpq's prefer and require: encrypted, the certificate not checked.
                tls.certificateVerification = .none
            }
            let mode: PostgresClient.Configuration.TLS =
                switch url.tlsMode {
                case .disable: .disable
                case .prefer: .prefer(tls)
                case .require, .verifyFull: .require(tls)
                }
            config = .init(host: url.host ?? "localhost", port: url.port, username: url.user, password: url.password,
                           database: url.database, tls: mode)
        }
        config.options.maximumConnections = url.maxConnections
        config.options.connectTimeout = .milliseconds(Int(url.connectTimeout * 1000))
        config.options.additionalStartupParameters = [("application_name", "pushy-server")]
        return config
    }

    // MARK: Plumbing

    /// Runs `body` in one transaction (`BEGIN` … `COMMIT`; rolled back when it throws).
    func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresSession) async throws -> T) async throws(StoreError) -> T {
        try await withSession(retryLostConnection: false) { session in
            try await session.run("BEGIN")
            do {
                let value = try await body(session)
                try await session.run("COMMIT")
                return value
            } catch {
                do {
                    try await session.run("ROLLBACK")
                } catch {
                    // Lost, or cancelled mid-way: the connection must not go back to the pool
                    // inside a transaction. Closed, the pool drops it (and the server the transaction).
                    try? await session.connection.close()
                }
                throw error
            }
        }
    }

    /// Runs `body` (reads) on a pooled connection. A connection the database closed while it
    /// sat in the pool (a database restart) fails its first query; the read is then tried once
    /// more on a fresh connection.
    func read<T: Sendable>(_ body: @escaping @Sendable (PostgresSession) async throws -> T) async throws(StoreError) -> T {
        try await withSession(retryLostConnection: true, body)
    }

    private func withSession<T: Sendable>(retryLostConnection: Bool,
                                          _ body: @escaping @Sendable (PostgresSession) async throws -> T) async throws(StoreError) -> T {
        do {
            return try await leased(body)
        } catch {
            let mapped = Self.storeError(error, url: url)
            guard retryLostConnection, Self.isLostConnection(error) else { throw mapped }
            do { return try await leased(body) } catch { throw Self.storeError(error, url: url) }
        }
    }

    /// Leases a connection for `body`, waiting at most `connect_timeout` for it: while the
    /// database is down the pool queues requests (for up to a minute), and a REST call should
    /// rather fail at once with a clear 503.
    private func leased<T: Sendable>(_ body: @escaping @Sendable (PostgresSession) async throws -> T) async throws -> T {
        let gotConnection = LeaseFlag()
        let client = client, logger = logger, timeout = leaseTimeout
        return try await withThrowingTaskGroup(of: LeaseOutcome<T>.self) { group in
            group.addTask {
                .value(try await client.withConnection { connection in
                    gotConnection.set()
                    return try await Self.unlessSilent(connection, logger: logger) {
                        try await body(PostgresSession(connection: connection, logger: logger))
                    }
                })
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return gotConnection.isSet ? .leasedInTime : .timedOut
            }
            defer { group.cancelAll() }
            while let outcome = try await group.next() {
                switch outcome {
                case .value(let v): return v
                case .leasedInTime: continue
                case .timedOut: throw LeaseTimeout()
                }
            }
            throw CancellationError()
        }
    }
}

/// Set once a call has its connection (read by the lease deadline).
final class LeaseFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}

enum LeaseOutcome<T: Sendable>: Sendable {
    case value(T)
    case leasedInTime
    case timedOut
}

/// No connection within `connect_timeout`.
struct LeaseTimeout: Error {}
