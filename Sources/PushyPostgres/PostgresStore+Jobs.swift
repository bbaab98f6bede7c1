import Foundation
import NIOCore
import PostgresNIO
import PushyProtocol
import PushyStore

/// Jobs, their nodes and their output. A job's nodes go in and change in one statement each,
/// whatever their number: the rows travel as array parameters and `unnest` them.
extension PostgresStore {
    public func insertJob(_ job: JobRecord, nodes: [JobNodeRecord]) async throws(StoreError) {
        let owner = serverId
        var seen = Set<String>()
        for n in nodes where !seen.insert(n.node).inserted {
            throw .duplicate("node '\(n.node)' in job '\(job.id)'")
        }
        try await transaction { s in
            try await s.requireOrg(job.org)
            if try await s.exists("SELECT 1 FROM jobs WHERE id = \(job.id)") {
                throw StoreError.duplicate("job '\(job.id)'")
            }
            try await s.run("""
                INSERT INTO jobs (id, org, command, quorum, run_timeout, status, status_reason, requestor, run_as_user, dir,
                    env, file, capture_output, created_at, updated_at, rate_control, rerun_of, template, template_version, origin, owner)
                VALUES (\(job.id), \(job.org), \(job.command), \(job.quorum), \(job.runTimeout), \(job.status.dbCode),
                    \(job.statusReason), \(job.requestor), \(job.user), \(job.dir), \(job.env?.serialized()), \(job.file),
                    \(job.captureOutput), \(Self.seconds(job.createdAt)), \(Self.seconds(job.updatedAt)),
                    \(job.rateControl?.json.serialized()), \(job.rerunOf), \(job.template), \(job.templateVersion), \(job.origin),
                    \(owner))
                """)
            guard !nodes.isEmpty else { return }
            try await s.run("""
                INSERT INTO job_nodes (job_id, node, status, reason, updated_at)
                SELECT \(job.id), u.node, u.status, CASE WHEN u.has_reason THEN u.reason END, u.at
                FROM unnest(\(nodes.map(\.node)), \(nodes.map(\.status.dbCode)), \(nodes.map { $0.reason ?? "" }),
                            \(nodes.map { $0.reason != nil }), \(nodes.map { Self.seconds($0.updatedAt) }))
                    AS u(node, status, reason, has_reason, at)
                """)
        }
    }

    /// In a cluster (registered: issue 17) only a live job changes: a job the dead-server sweep
    /// crashed keeps what the sweep wrote even if its owner, cut off meanwhile, still writes.
    public func updateJob(id: String, status: JobStatus, reason: String?, updatedAt: Date) async throws(StoreError) {
        let live = serverId == nil ? JobStatus.allCases.map(\.dbCode) : [JobStatus.new, .voting, .running].map(\.dbCode)
        try await transaction { s in
            let changed = try await s.run("""
                UPDATE jobs SET status = \(status.dbCode), status_reason = \(reason), updated_at = \(Self.seconds(updatedAt))
                WHERE id = \(id) AND status = ANY(\(live)) RETURNING 1
                """)
            if changed > 0 { return }
            if try await s.rawRows("SELECT 1 FROM jobs WHERE id = \(id)").isEmpty { throw StoreError.notFound("job '\(id)'") }
        }
    }

    /// One UPDATE for the whole batch. Changes to the same (job, node) are folded first, which
    /// gives what applying them in order gives: the last status and time, the last reason given.
    ///
    /// In a cluster a node the sweep crashed stays crashed unless the late write is the node's
    /// result (true news): a swept owner's queued "running" or "aborted" never lands over it.
    public func applyNodeUpdates(_ updates: [JobNodeUpdate]) async throws(StoreError) {
        guard !updates.isEmpty else { return }
        let folded = Self.fold(updates)
        let jobIds = folded.map(\.jobId), nodes = folded.map(\.node)
        let single = serverId == nil, crashed = NodeJobStatus.crashed.dbCode
        let results = [NodeJobStatus.succeeded, .failed].map(\.dbCode)
        try await transaction { s in
            // Only the count comes back (a row per changed node cost more than the update).
            let changed = try await s.rawRows("""
                WITH changed AS (
                    UPDATE job_nodes AS j SET status = u.status,
                        reason = CASE WHEN u.has_reason THEN u.reason ELSE j.reason END, updated_at = u.at
                    FROM unnest(\(jobIds), \(nodes), \(folded.map(\.status.dbCode)),
                                \(folded.map { $0.reason ?? "" }), \(folded.map { $0.reason != nil }),
                                \(folded.map { Self.seconds($0.at) }))
                        AS u(job_id, node, status, reason, has_reason, at)
                    WHERE j.job_id = u.job_id AND j.node = u.node
                        AND (\(single) OR j.status <> \(crashed) OR u.status = ANY(\(results)))
                    RETURNING 1)
                SELECT count(*) FROM changed
                """).first?.decode(Int.self) ?? 0
            guard changed != folded.count else { return }
            // Some (job, node) is unknown: name the first, and roll everything back.
            let missing = try await s.rawRows("""
                SELECT u.job_id, u.node FROM unnest(\(jobIds), \(nodes)) WITH ORDINALITY AS u(job_id, node, i)
                WHERE NOT EXISTS (SELECT 1 FROM job_nodes j WHERE j.job_id = u.job_id AND j.node = u.node)
                ORDER BY u.i LIMIT 1
                """).first?.decode((String, String).self)
            // Every row is there: the ones left alone were crashed by the sweep.
            guard let missing else { return }
            throw StoreError.notFound("node '\(missing.1)' in job '\(missing.0)'")
        }
    }

    /// One update per (job, node), in first-seen order, equal to applying `updates` in order.
    static func fold(_ updates: [JobNodeUpdate]) -> [JobNodeUpdate] {
        var index: [String: Int] = [:]
        var folded: [JobNodeUpdate] = []
        folded.reserveCapacity(updates.count)
        for u in updates {
            let key = u.jobId + "\u{0}" + u.node
            if let i = index[key] {
                let earlierReason = folded[i].reason
                folded[i] = u
                if u.reason == nil { folded[i].reason = earlierReason }
            } else {
                index[key] = folded.count
                folded.append(u)
            }
        }
        return folded
    }

    public func job(org: String, id: String) async throws(StoreError) -> JobRecord? {
        try await read { s in try await s.rows("SELECT * FROM jobs WHERE id = \(id) AND org = \(org)").first.map(Self.decodeJob) }
    }

    public func jobNodes(jobId: String) async throws(StoreError) -> [JobNodeRecord] {
        try await read { s in
            try await s.rawRows("""
                SELECT job_id, node, status, reason, updated_at FROM job_nodes WHERE job_id = \(jobId) ORDER BY node
                """).map { row in
                let (job, node, code, reason, at) = try row.decode((String, String, Int, String?, Double).self)
                guard let status = NodeJobStatus(dbCode: code) else { throw StoreError.io("unknown node status code \(code)") }
                return JobNodeRecord(jobId: job, node: node, status: status, reason: reason,
                                     updatedAt: Date(timeIntervalSince1970: at))
            }
        }
    }

    public func listJobs(org: String) async throws(StoreError) -> [JobRecord] {
        try await read { s in
            try await s.rows("SELECT * FROM jobs WHERE org = \(org) ORDER BY created_at DESC, id DESC").map(Self.decodeJob)
        }
    }

    public func crashUnfinishedJobs(reason: String, at: Date) async throws(StoreError) -> [String] {
        let live = [JobStatus.new, .voting, .running].map(\.dbCode)
        let liveNodes = NodeJobStatus.allCases.filter { !$0.isTerminal }.map(\.dbCode)
        return try await transaction { s in
            // Once across servers starting together; a live peer's jobs are not touched (issue 17).
            try await s.run("SELECT pg_advisory_xact_lock(\(Self.recoveryLock))")
            let ids = try await s.strings("""
                WITH crashed AS (
                    UPDATE jobs SET status = \(JobStatus.crashed.dbCode), status_reason = \(reason), updated_at = \(Self.seconds(at))
                    WHERE status = ANY(\(live)) AND (owner IS NULL OR owner NOT IN (
                        SELECT id FROM pushy_servers WHERE lease_until >= extract(epoch FROM clock_timestamp())))
                    RETURNING id, created_at)
                SELECT id FROM crashed ORDER BY created_at, id
                """)
            guard !ids.isEmpty else { return [] }
            try await s.run("""
                UPDATE job_nodes SET status = \(NodeJobStatus.crashed.dbCode), reason = \(reason), updated_at = \(Self.seconds(at))
                WHERE job_id = ANY(\(ids)) AND status = ANY(\(liveNodes))
                """)
            return ids
        }
    }

    // MARK: Output

    public func saveOutput(_ o: JobOutputRecord) async throws(StoreError) {
        try await transaction { s in
            _ = try await s.run("""
                INSERT INTO job_output (job_id, node, stdout, stderr, stdout_truncated, stderr_truncated)
                VALUES (\(o.jobId), \(o.node), \(ByteBuffer(bytes: o.stdout)), \(ByteBuffer(bytes: o.stderr)),
                        \(o.stdoutTruncated), \(o.stderrTruncated))
                ON CONFLICT (job_id, node) DO UPDATE SET stdout = excluded.stdout, stderr = excluded.stderr,
                    stdout_truncated = excluded.stdout_truncated, stderr_truncated = excluded.stderr_truncated
                """)
        }
    }

    public func output(jobId: String, node: String) async throws(StoreError) -> JobOutputRecord? {
        try await read { s in
            try await s.rows("SELECT * FROM job_output WHERE job_id = \(jobId) AND node = \(node)").first.map(Self.decodeOutput)
        }
    }

    public func outputs(jobId: String) async throws(StoreError) -> [JobOutputRecord] {
        try await read { s in try await s.rows("SELECT * FROM job_output WHERE job_id = \(jobId) ORDER BY node").map(Self.decodeOutput) }
    }
}
