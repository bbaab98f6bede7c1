#if canImport(Glibc)
import Glibc
#endif
import Foundation
import PushyPostgres

/// The PostgreSQL database of a cluster bench: a throwaway PostgreSQL 15 cluster the bench
/// starts with `scripts/pg-test-cluster.sh` (tuned by `options`), or a database given by URL.
/// One connection of its own reads the statistics (`pg_stat_statements`, the WAL position).
final class BenchPostgres: @unchecked Sendable {
    /// The URL the servers use (`pool_max_conns` set).
    let serverURL: PostgresURL
    /// The cluster's directory when the bench started it (nil: a database given by URL).
    let directory: String?
    /// pg_stat_statements is loaded and created in the database.
    private(set) var statements = false
    private let console: PostgresConsole

    /// The settings the bench runs its own PostgreSQL with, as an operator would for Pushy:
    /// durable commits (fsync, synchronous_commit and full-page writes on: the test script's
    /// defaults turn them off), connections for every server's pool, a larger buffer cache and
    /// WAL so no checkpoint falls in a measurement, and pg_stat_statements for the query counts.
    static func options(maxConnections: Int) -> String {
        ["fsync=on", "synchronous_commit=on", "full_page_writes=on", "max_connections=\(maxConnections)",
         "shared_buffers=512MB", "max_wal_size=8GB", "checkpoint_timeout=30min",
         "shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track=top",
         "pg_stat_statements.max=1000"].map { "-c " + $0 }.joined(separator: " ")
    }

    /// Starts a cluster with `script` (owned by this process: a later start sweeps it if the
    /// bench is killed) and creates the database `pushy_bench`, or opens `url`.
    static func open(url: String?, script: String, maxConnections: Int, poolPerServer: Int,
                     cleanup: BenchCleanup) async throws -> BenchPostgres {
        var directory: String?
        var admin: PostgresURL
        if let url {
            do { admin = try PostgresURL(parsing: url) } catch { throw BenchFailure("--postgres: \(error)") }
        } else {
            guard FileManager.default.isExecutableFile(atPath: script) || FileManager.default.fileExists(atPath: script) else {
                throw BenchFailure("\(script) not found: run from the repository's root or pass --pg-script (or --postgres URL)")
            }
            let out = try runScript(script, ["start", "\(getpid())"],
                                    environment: ["PG_EXTRA_OPTIONS": options(maxConnections: maxConnections)])
            func value(_ key: String) -> String? {
                out.split(separator: "\n").first { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) }
            }
            guard let dir = value("PUSHY_TEST_POSTGRES_DIR"), let text = value("PUSHY_TEST_POSTGRES_URL") else {
                throw BenchFailure("\(script) start printed no cluster: \(out)")
            }
            directory = dir
            cleanup.add("PostgreSQL \(dir)") { _ = try? runScript(script, ["stop", dir], environment: [:]) }
            admin = try PostgresURL(parsing: text)
            let maintenance = PostgresConsole(admin)
            do { try await maintenance.query("CREATE DATABASE pushy_bench") } catch {
                await maintenance.close()
                throw BenchFailure("cannot create the database pushy_bench: \(error)")
            }
            await maintenance.close()
            admin = admin.with(database: "pushy_bench")
        }
        var server = admin
        server.maxConnections = poolPerServer
        server.connectTimeout = max(server.connectTimeout, 10)
        let db = BenchPostgres(serverURL: server, directory: directory, console: PostgresConsole(admin))
        let created = (try? await db.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")) != nil
        let readable = (try? await db.execute("SELECT 1 FROM pg_stat_statements LIMIT 1")) != nil
        db.statements = created && readable
        return db
    }

    private init(serverURL: PostgresURL, directory: String?, console: PostgresConsole) {
        self.serverURL = serverURL
        self.directory = directory
        self.console = console
    }

    /// Runs `script ARGS` and returns its stdout; fails with its stderr.
    @discardableResult
    static func runScript(_ script: String, _ arguments: [String], environment: [String: String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [script] + arguments
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw BenchFailure("\(script) \(arguments.joined(separator: " ")) failed: \(errors)")
        }
        return text
    }

    func close() async { await console.close() }

    /// Rows of `sql`, every value as text.
    @discardableResult
    func execute(_ sql: String) async throws -> [[String?]] {
        do { return try await console.query(Self.tag + sql) } catch { throw BenchFailure("PostgreSQL: \(error)") }
    }

    /// A name as an SQL literal (node and server names here are letters, digits and '-').
    static func literal(_ s: String) -> String { "'" + s.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" } + "'" }

    /// The postmaster's pid when the bench started the cluster (its first line of postmaster.pid).
    var postmasterPid: Int32? {
        guard let directory, let text = try? String(contentsOfFile: directory + "/data/postmaster.pid", encoding: .utf8),
              let first = text.split(separator: "\n").first else { return nil }
        return Int32(first.trimmingCharacters(in: .whitespaces))
    }

    // MARK: What the cluster asks of the database

    /// Agents available on a live server (node_presence joined with live leases), by server id.
    func availableByServer() async throws -> [String: Int] {
        var out: [String: Int] = [:]
        for row in try await execute("""
            SELECT p.server, count(*)::text FROM node_presence p JOIN pushy_servers s ON s.id = p.server
            WHERE p.available AND s.lease_until >= extract(epoch FROM clock_timestamp()) GROUP BY p.server
            """) where row.count == 2 {
            if let server = row[0], let n = row[1].flatMap({ Int($0) }) { out[server] = n }
        }
        return out
    }

    /// Live servers: id → command address.
    func servers() async throws -> [String: String] {
        var out: [String: String] = [:]
        for row in try await execute("SELECT id, command_address FROM pushy_servers WHERE lease_until >= extract(epoch FROM clock_timestamp())")
        where row.count == 2 {
            if let id = row[0], let address = row[1] { out[id] = address }
        }
        return out
    }

    /// Whether server `id` still has a row (the sweep deletes a dead server's).
    func hasRow(server id: String) async throws -> Bool {
        try await !execute("SELECT 'yes' FROM pushy_servers WHERE id = \(Self.literal(id))").isEmpty
    }

    /// Nodes whose presence row names `server`.
    func nodes(heldBy server: String) async throws -> [String] {
        try await execute("SELECT node FROM node_presence WHERE server = \(Self.literal(server))").compactMap { $0.first ?? nil }
    }

    /// How many of `nodes` are available on a live server other than `except`.
    func availableElsewhere(_ nodes: [String], except server: String) async throws -> Int {
        let list = nodes.map(Self.literal).joined(separator: ",")
        let rows = try await execute("""
            SELECT count(*)::text FROM node_presence p JOIN pushy_servers s ON s.id = p.server
            WHERE p.node = ANY(ARRAY[\(list)]::text[]) AND p.available AND p.server <> \(Self.literal(server))
                AND s.lease_until >= extract(epoch FROM clock_timestamp())
            """)
        guard let first = rows.first?.first, let text = first else { return 0 }
        return Int(text) ?? 0
    }

    // MARK: Statistics

    /// What the database did between two snapshots.
    struct Snapshot {
        /// pg_stat_statements per statement (query id → calls, rows, text); empty without it.
        var statements: [Int64: (calls: Int, rows: Int, query: String)] = [:]
        /// WAL written so far (bytes since 0/0).
        var wal: Double = 0
        /// Bytes on the database's TCP connections: (received by the database, sent by it).
        var network: (received: Int, sent: Int)?
        var at = ContinuousClock.now
    }

    /// Marks the bench's own statements (pg_stat_statements keeps comments), which the
    /// figures leave out.
    static let tag = "/* pushy-bench */ "

    func snapshot() async throws -> Snapshot {
        var s = Snapshot()
        if statements {
            for row in try await execute("""
                SELECT queryid::text, calls::text, rows::text, query FROM pg_stat_statements
                WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND queryid IS NOT NULL
                """) where row.count == 4 {
                guard let id = row[0].flatMap({ Int64($0) }), let calls = row[1].flatMap({ Int($0) }),
                      let rows = row[2].flatMap({ Int($0) }), let query = row[3],
                      !query.hasPrefix(Self.tag) else { continue }
                s.statements[id] = (calls, rows, query)
            }
        }
        if let text = try await execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text").first?.first ?? nil {
            s.wal = Double(text) ?? 0
        }
        s.network = Self.socketBytes(port: serverURL.port)
        s.at = .now
        return s
    }

    /// Bytes received and sent by the sockets listening side on `port` (the database's end of
    /// every TCP connection), from `ss -ti` (the kernel's per-socket counters); nil without `ss`.
    static func socketBytes(port: Int) -> (received: Int, sent: Int)? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/ss")
        p.arguments = ["-tinH", "state", "established", "( sport = :\(port) )"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return nil }
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { return nil }
        var received = 0, sent = 0
        for word in text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }) {
            if word.hasPrefix("bytes_received:") { received += Int(word.dropFirst("bytes_received:".count)) ?? 0 }
            if word.hasPrefix("bytes_sent:") { sent += Int(word.dropFirst("bytes_sent:".count)) ?? 0 }
        }
        return (received, sent)
    }
}

/// The database's work between two snapshots.
struct DatabaseWork {
    var statements = 0
    var transactions = 0
    var rows = 0
    var walBytes = 0.0
    var networkBytes: Int?
    var seconds = 0.0
    /// The statements that ran most, with their calls and rows (a profile of where the work goes).
    var top: [(query: String, calls: Int, rows: Int)] = []
    var measured = false

    init() {}

    init(from a: BenchPostgres.Snapshot, to b: BenchPostgres.Snapshot) {
        var all: [(query: String, calls: Int, rows: Int)] = []
        for (id, after) in b.statements {
            let before = a.statements[id]
            let calls = after.calls - (before?.calls ?? 0), rows = after.rows - (before?.rows ?? 0)
            guard calls > 0 else { continue }
            all.append((after.query, calls, rows))
        }
        measured = !b.statements.isEmpty
        statements = all.reduce(0) { $0 + $1.calls }
        // Every transaction the servers run ends in COMMIT or ROLLBACK (postgres-nio sends them as statements).
        transactions = all.filter { ["COMMIT", "ROLLBACK"].contains($0.query.uppercased().trimmingCharacters(in: .whitespaces)) }
            .reduce(0) { $0 + $1.calls }
        rows = all.reduce(0) { $0 + $1.rows }
        walBytes = b.wal - a.wal
        if let x = a.network, let y = b.network { networkBytes = (y.received - x.received) + (y.sent - x.sent) }
        let d = a.at.duration(to: b.at)
        seconds = Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        top = Array(all.sorted { $0.calls > $1.calls }.prefix(8))
    }

    /// "N statements (M transactions), R rows, W of WAL, B over the network".
    var summary: String {
        guard measured else { return "n/a (pg_stat_statements not loaded)" }
        return "\(statements) statements (\(transactions) transactions), \(rows) rows, "
            + "\(Self.bytes(walBytes)) WAL, \(networkBytes.map { Self.bytes(Double($0)) } ?? "?") on the wire"
    }

    /// Per second (the background of lease renewals, membership looks and polling).
    var rateSummary: String {
        guard measured, seconds > 0 else { return "n/a" }
        return String(format: "%.1f statements/s (%.1f transactions/s), %@/s WAL, %@/s on the wire",
                      Double(statements) / seconds, Double(transactions) / seconds, Self.bytes(walBytes / seconds),
                      networkBytes.map { Self.bytes(Double($0) / seconds) } ?? "?")
    }

    static func bytes(_ v: Double) -> String {
        if v >= 1_048_576 { return String(format: "%.1f MB", v / 1_048_576) }
        if v >= 1024 { return String(format: "%.1f KB", v / 1024) }
        return String(format: "%.0f B", v)
    }
}
