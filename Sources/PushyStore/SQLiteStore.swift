import Foundation
import GRDB
import PushyProtocol

/// The embedded default store: one SQLite file in WAL mode through a GRDB `DatabasePool`
/// (one writer, concurrent readers). All access goes through GRDB's async API, so no
/// cooperative-pool thread blocks on the disk or on the write lock.
///
/// Durability: `synchronous = NORMAL`. In WAL mode a commit has reached the OS (the WAL file)
/// when it returns, so a kill -9 of the process at any moment loses no committed transaction;
/// only a power loss or kernel crash can drop the last few commits, and never corrupts the
/// file. FULL would add an fsync to every commit for that rarer case; the job engine batches
/// writes but still commits often, so NORMAL is the right price here.
public final class SQLiteStore: PushyStore {
    private let pool: DatabasePool

    /// Opens (creating if needed) the database file at `path` and migrates it to the current
    /// schema. The directory must exist.
    public init(path: String) throws(StoreError) {
        var config = Configuration()
        config.label = "pushy-store"
        config.foreignKeysEnabled = true
        // Another process (a backup, an admin's sqlite3 shell) may hold the lock briefly.
        config.busyMode = .timeout(10)
        do {
            pool = try DatabasePool(path: path, configuration: config)
            try pool.writeWithoutTransaction { db in
                // GRDB already does this for WAL pools; stated here because durability depends on it.
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
            }
            try Self.migrator.migrate(pool)
        } catch {
            throw .io("cannot open database at \(path): \(error)")
        }
    }

    /// Checkpoints and closes the file. Later calls fail with `.io`; dropping the last
    /// reference closes it too.
    public func close() throws(StoreError) {
        do { try pool.close() } catch { throw .io("close failed: \(error)") }
    }

    // MARK: Organizations

    public func createOrg(_ org: OrgRecord) async throws(StoreError) {
        try await write { db in
            if try Self.exists(db, "SELECT 1 FROM orgs WHERE name = ?", [org.name]) {
                throw StoreError.duplicate("organization '\(org.name)'")
            }
            if try Self.exists(db, "SELECT 1 FROM orgs WHERE guid = ?", [org.guid]) {
                throw StoreError.duplicate("organization guid '\(org.guid)'")
            }
            try db.execute(
                sql: "INSERT INTO orgs (name, guid, created_at) VALUES (?, ?, ?)",
                arguments: [org.name, org.guid, Self.seconds(org.createdAt)])
        }
    }

    public func org(named name: String) async throws(StoreError) -> OrgRecord? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM orgs WHERE name = ?", arguments: [name]).map(Self.org)
        }
    }

    public func listOrgs() async throws(StoreError) -> [OrgRecord] {
        try await read { db in try Row.fetchAll(db, sql: "SELECT * FROM orgs ORDER BY name").map(Self.org) }
    }

    public func deleteOrg(named name: String) async throws(StoreError) -> Bool {
        // Everything else hangs off orgs(name) with ON DELETE CASCADE.
        try await write { db in
            try db.execute(sql: "DELETE FROM orgs WHERE name = ?", arguments: [name])
            return db.changesCount > 0
        }
    }

    // MARK: Principals

    public func createPrincipal(_ p: PrincipalRecord) async throws(StoreError) {
        try await write { db in
            try Self.requireOrg(db, p.org)
            if try Self.exists(db, "SELECT 1 FROM principals WHERE org = ? AND name = ?", [p.org, p.name]) {
                throw StoreError.duplicate("principal '\(p.name)' in organization '\(p.org)'")
            }
            try db.execute(
                sql: """
                    INSERT INTO principals (org, name, type, public_key, is_admin, is_superuser, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [p.org, p.name, p.type.rawValue, p.publicKey, p.isAdmin, p.isSuperuser,
                            Self.seconds(p.createdAt)])
            if p.isAdmin {
                try Self.insertMember(db, org: p.org, group: "admins", member: GroupMember(p.type.groupMemberType, p.name))
            }
        }
    }

    public func principal(org: String, name: String) async throws(StoreError) -> PrincipalRecord? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM principals WHERE org = ? AND name = ?", arguments: [org, name])
                .map { (row) throws(StoreError) in try Self.principal(row) }
        }
    }

    public func orgAndPrincipal(org: String, name: String) async throws(StoreError) -> (org: OrgRecord?, principal: PrincipalRecord?) {
        try await read { db in
            let o = try Row.fetchOne(db, sql: "SELECT * FROM orgs WHERE name = ?", arguments: [org]).map(Self.org)
            let p = try Row.fetchOne(db, sql: "SELECT * FROM principals WHERE org = ? AND name = ?", arguments: [org, name])
                .map { (row) throws(StoreError) in try Self.principal(row) }
            return (o, p)
        }
    }

    public func listPrincipals(org: String, type: PrincipalType?) async throws(StoreError) -> [PrincipalRecord] {
        try await read { db in
            let rows =
                if let type {
                    try Row.fetchAll(
                        db, sql: "SELECT * FROM principals WHERE org = ? AND type = ? ORDER BY name",
                        arguments: [org, type.rawValue])
                } else {
                    try Row.fetchAll(db, sql: "SELECT * FROM principals WHERE org = ? ORDER BY name", arguments: [org])
                }
            return try rows.map { (row) throws(StoreError) in try Self.principal(row) }
        }
    }

    public func deletePrincipal(org: String, name: String) async throws(StoreError) -> Bool {
        try await write { db in
            try db.execute(sql: "DELETE FROM principals WHERE org = ? AND name = ?", arguments: [org, name])
            let deleted = db.changesCount > 0
            try db.execute(
                sql: "DELETE FROM group_members WHERE org = ? AND member_type IN ('user', 'client') AND member_name = ?",
                arguments: [org, name])
            return deleted
        }
    }

    // MARK: Nodes

    public func upsertNode(_ n: NodeRecord) async throws(StoreError) {
        try await write { db in
            try Self.requireOrg(db, n.org)
            try db.execute(
                sql: """
                    INSERT INTO nodes (org, name, environment, roles, tags, attributes, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (org, name) DO UPDATE SET
                        environment = excluded.environment, roles = excluded.roles, tags = excluded.tags,
                        attributes = excluded.attributes, updated_at = excluded.updated_at
                    """,
                arguments: [
                    n.org, n.name, n.environment, Self.stringsText(n.roles), Self.stringsText(n.tags),
                    n.attributes.serialized(), Self.seconds(n.updatedAt),
                ])
        }
    }

    public func node(org: String, name: String) async throws(StoreError) -> NodeRecord? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM nodes WHERE org = ? AND name = ?", arguments: [org, name])
                .map { (row) throws(StoreError) in try Self.node(row) }
        }
    }

    public func listNodes(org: String) async throws(StoreError) -> [NodeRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM nodes WHERE org = ? ORDER BY name", arguments: [org])
                .map { (row) throws(StoreError) in try Self.node(row) }
        }
    }

    public func knownNodeNames(org: String, among names: [String]) async throws(StoreError) -> Set<String> {
        guard !names.isEmpty else { return [] }
        return try await read { db in
            var known = Set<String>()
            // SQLite limits bound parameters; 500 names per statement stays well inside.
            var start = 0
            while start < names.count {
                let chunk = Array(names[start..<min(start + 500, names.count)])
                start += chunk.count
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
                let sql = """
                    SELECT name FROM principals WHERE org = ? AND type = 'client' AND name IN (\(marks))
                    UNION SELECT name FROM nodes WHERE org = ? AND name IN (\(marks))
                    """
                let args = StatementArguments([org] + chunk + [org] + chunk)
                for n in try String.fetchAll(db, sql: sql, arguments: args) { known.insert(n) }
            }
            return known
        }
    }

    // MARK: Jobs

    public func insertJob(_ job: JobRecord, nodes: [JobNodeRecord]) async throws(StoreError) {
        try await write { db in
            try Self.requireOrg(db, job.org)
            if try Self.exists(db, "SELECT 1 FROM jobs WHERE id = ?", [job.id]) {
                throw StoreError.duplicate("job '\(job.id)'")
            }
            try db.execute(
                sql: """
                    INSERT INTO jobs (id, org, command, quorum, run_timeout, status, status_reason, requestor,
                        run_as_user, dir, env, file, capture_output, created_at, updated_at, rate_control, rerun_of,
                        template, template_version, origin)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    job.id, job.org, job.command, job.quorum, job.runTimeout, job.status.dbCode, job.statusReason,
                    job.requestor, job.user, job.dir, job.env?.serialized(), job.file, job.captureOutput,
                    Self.seconds(job.createdAt), Self.seconds(job.updatedAt), job.rateControl?.json.serialized(),
                    job.rerunOf, job.template, job.templateVersion, job.origin,
                ])
            var seen = Set<String>()
            for n in nodes where !seen.insert(n.node).inserted {
                throw StoreError.duplicate("node '\(n.node)' in job '\(job.id)'")
            }
            try Self.insertJobNodes(db, jobId: job.id, nodes)
        }
    }

    public func updateJob(id: String, status: JobStatus, reason: String?, updatedAt: Date) async throws(StoreError) {
        try await write { db in
            try db.execute(
                sql: "UPDATE jobs SET status = ?, status_reason = ?, updated_at = ? WHERE id = ?",
                arguments: [status.dbCode, reason, Self.seconds(updatedAt), id])
            if db.changesCount == 0 { throw StoreError.notFound("job '\(id)'") }
        }
    }

    public func applyNodeUpdates(_ updates: [JobNodeUpdate]) async throws(StoreError) {
        guard !updates.isEmpty else { return }
        try await write { db in try Self.applyJobNodeUpdates(db, updates) }
    }

    public func job(org: String, id: String) async throws(StoreError) -> JobRecord? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM jobs WHERE id = ? AND org = ?", arguments: [id, org])
                .map { (row) throws(StoreError) in try Self.job(row) }
        }
    }

    public func jobNodes(jobId: String) async throws(StoreError) -> [JobNodeRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM job_nodes WHERE job_id = ? ORDER BY node", arguments: [jobId])
                .map { (row) throws(StoreError) in try Self.jobNode(row) }
        }
    }

    public func listJobs(org: String) async throws(StoreError) -> [JobRecord] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM jobs WHERE org = ? ORDER BY created_at DESC, id DESC", arguments: [org]
            )
            .map { (row) throws(StoreError) in try Self.job(row) }
        }
    }

    public func saveOutput(_ o: JobOutputRecord) async throws(StoreError) {
        try await write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO job_output (job_id, node, stdout, stderr, stdout_truncated, stderr_truncated)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [o.jobId, o.node, Data(o.stdout), Data(o.stderr), o.stdoutTruncated, o.stderrTruncated])
        }
    }

    public func output(jobId: String, node: String) async throws(StoreError) -> JobOutputRecord? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM job_output WHERE job_id = ? AND node = ?", arguments: [jobId, node])
                .map(Self.outputRecord)
        }
    }

    public func outputs(jobId: String) async throws(StoreError) -> [JobOutputRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM job_output WHERE job_id = ? ORDER BY node", arguments: [jobId])
                .map(Self.outputRecord)
        }
    }

    static func outputRecord(_ row: Row) -> JobOutputRecord {
        JobOutputRecord(
            jobId: row["job_id"], node: row["node"], stdout: [UInt8](row["stdout"] as Data),
            stderr: [UInt8](row["stderr"] as Data), stdoutTruncated: row["stdout_truncated"],
            stderrTruncated: row["stderr_truncated"])
    }

    public func crashUnfinishedJobs(reason: String, at: Date) async throws(StoreError) -> [String] {
        let live = [JobStatus.new, .voting, .running].map(\.dbCode)
        let liveNodes = NodeJobStatus.allCases.filter { !$0.isTerminal }.map(\.dbCode)
        return try await write { db in
            let ids = try String.fetchAll(
                db, sql: "SELECT id FROM jobs WHERE status IN (?, ?, ?) ORDER BY created_at, id",
                arguments: StatementArguments(live))
            let crashJob = try db.cachedStatement(
                sql: "UPDATE jobs SET status = ?, status_reason = ?, updated_at = ? WHERE id = ?")
            let crashNodes = try db.cachedStatement(
                sql: """
                    UPDATE job_nodes SET status = ?, reason = ?, updated_at = ?
                    WHERE job_id = ? AND status IN (\(liveNodes.map { _ in "?" }.joined(separator: ", ")))
                    """)
            for id in ids {
                try crashJob.execute(arguments: [JobStatus.crashed.dbCode, reason, Self.seconds(at), id])
                try crashNodes.execute(
                    arguments: [NodeJobStatus.crashed.dbCode, reason, Self.seconds(at), id]
                        + StatementArguments(liveNodes))
            }
            return ids
        }
    }

    // MARK: Plumbing

    /// Runs `body` in one write transaction and turns every failure into a `StoreError`.
    func write<T: Sendable>(_ body: @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        do {
            return try await pool.write(body)
        } catch {
            throw Self.storeError(error)
        }
    }

    /// Runs `body` on a reader connection (a consistent snapshot, concurrent with the writer).
    func read<T: Sendable>(_ body: @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        do {
            return try await pool.read(body)
        } catch {
            throw Self.storeError(error)
        }
    }

    private static func storeError(_ error: any Error) -> StoreError {
        if let error = error as? StoreError { return error }
        if let error = error as? DatabaseError {
            switch error.extendedResultCode {
            case .SQLITE_CONSTRAINT_PRIMARYKEY, .SQLITE_CONSTRAINT_UNIQUE:
                return .duplicate(error.message ?? "record")
            case .SQLITE_CONSTRAINT_FOREIGNKEY:
                return .notFound("referenced record (\(error.message ?? "foreign key"))")
            default:
                break
            }
            // Say what went wrong in words, without the SQL (a full disk must not read like a bug).
            let detail = "SQLite error \(error.resultCode.rawValue): \(error.message ?? "\(error.resultCode)")"
            switch error.resultCode {
            case .SQLITE_FULL: return .io("the database cannot be written: the disk is full (\(detail))")
            case .SQLITE_READONLY: return .io("the database cannot be written: it is read-only (\(detail))")
            case .SQLITE_IOERR: return .io("the database cannot be read or written: I/O error (\(detail))")
            case .SQLITE_CANTOPEN: return .io("the database file cannot be opened (\(detail))")
            case .SQLITE_CORRUPT, .SQLITE_NOTADB: return .io("the database file is damaged (\(detail))")
            default: break
            }
        }
        return .io(String(describing: error))
    }

    static func exists(_ db: Database, _ sql: String, _ arguments: StatementArguments) throws -> Bool {
        try Row.fetchOne(db, sql: sql, arguments: arguments) != nil
    }

    static func requireOrg(_ db: Database, _ name: String) throws {
        if try !exists(db, "SELECT 1 FROM orgs WHERE name = ?", [name]) {
            throw StoreError.notFound("organization '\(name)'")
        }
    }
}
