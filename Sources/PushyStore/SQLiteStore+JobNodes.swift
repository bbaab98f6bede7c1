import Foundation
import GRDB
import PushyProtocol

/// Job-node rows in bulk: a job over thousands of nodes is inserted and updated with one
/// statement per few hundred rows rather than one per row (the statement overhead, not
/// SQLite's B-tree work, was most of the writer's time).
extension SQLiteStore {
    /// Rows per multi-row INSERT (5 parameters each) and nodes per `IN (...)` of an UPDATE:
    /// well under SQLite's 32,766 parameters.
    static let insertChunk = 200, updateChunk = 500

    static func insertJobNodes(_ db: Database, jobId: String, _ nodes: [JobNodeRecord]) throws {
        for start in stride(from: 0, to: nodes.count, by: insertChunk) {
            let chunk = nodes[start..<min(start + insertChunk, nodes.count)]
            var arguments: [(any DatabaseValueConvertible)?] = []
            arguments.reserveCapacity(chunk.count * 5)
            for n in chunk {
                arguments += [jobId, n.node, n.status.dbCode, n.reason, seconds(n.updatedAt)]
            }
            let rows = Array(repeating: "(?, ?, ?, ?, ?)", count: chunk.count).joined(separator: ", ")
            try statement(db, chunk.count == insertChunk,
                          "INSERT INTO job_nodes (job_id, node, status, reason, updated_at) VALUES \(rows)")
                .execute(arguments: StatementArguments(arguments))
        }
    }

    /// Applies changes in order. When no (job, node) pair repeats, which is what the engine
    /// sends, changes that agree on job, status, reason and time share one UPDATE.
    static func applyJobNodeUpdates(_ db: Database, _ updates: [JobNodeUpdate]) throws {
        guard isUniquePerNode(updates) else {
            for u in updates { try applyJobNodeUpdates(db, [u], group: GroupKey(u)) }
            return
        }
        var groups: [GroupKey: [JobNodeUpdate]] = [:]
        var order: [GroupKey] = []
        for u in updates {
            let k = GroupKey(u)
            if groups[k] == nil { order.append(k) }
            groups[k, default: []].append(u)
        }
        for k in order {
            let members = groups[k]!
            for start in stride(from: 0, to: members.count, by: updateChunk) {
                try applyJobNodeUpdates(db, Array(members[start..<min(start + updateChunk, members.count)]), group: k)
            }
        }
    }

    private static func applyJobNodeUpdates(_ db: Database, _ members: [JobNodeUpdate], group k: GroupKey) throws {
        let marks = Array(repeating: "?", count: members.count).joined(separator: ", ")
        var arguments: [(any DatabaseValueConvertible)?] = [k.status, k.reason, k.at, k.jobId]
        arguments += members.map(\.node)
        try statement(db, members.count == updateChunk || members.count == 1, """
            UPDATE job_nodes SET status = ?, reason = COALESCE(?, reason), updated_at = ? \
            WHERE job_id = ? AND node IN (\(marks))
            """).execute(arguments: StatementArguments(arguments))
        guard db.changesCount != members.count else { return }
        let found = try Set(String.fetchAll(
            db, sql: "SELECT node FROM job_nodes WHERE job_id = ? AND node IN (\(marks))",
            arguments: StatementArguments([k.jobId] + members.map(\.node))))
        let missing = members.first { !found.contains($0.node) }?.node ?? "?"
        throw StoreError.notFound("node '\(missing)' in job '\(k.jobId)'")
    }

    /// The common chunk sizes are compiled once per connection; the odd remainder is not kept.
    private static func statement(_ db: Database, _ cached: Bool, _ sql: String) throws -> Statement {
        cached ? try db.cachedStatement(sql: sql) : try db.makeStatement(sql: sql)
    }

    /// True when no (job, node) pair appears twice. Compared by hash: a collision only sends
    /// the batch down the one-row-at-a-time path, which is right for any batch.
    private static func isUniquePerNode(_ updates: [JobNodeUpdate]) -> Bool {
        var seen = Set<Int>(minimumCapacity: updates.count)
        for u in updates {
            var h = Hasher()
            h.combine(u.jobId)
            h.combine(u.node)
            if !seen.insert(h.finalize()).inserted { return false }
        }
        return true
    }

    /// What the rows of one UPDATE have in common.
    struct GroupKey: Hashable {
        let jobId: String
        let status: Int
        let reason: String?
        let at: Double

        init(_ u: JobNodeUpdate) {
            jobId = u.jobId
            status = u.status.dbCode
            reason = u.reason
            at = SQLiteStore.seconds(u.at)
        }
    }
}
