import Foundation
import PostgresNIO
import PushyStore

/// Orchestration plans and their runs.
extension PostgresStore {
    public func createPlan(_ p: PlanRecord) async throws(StoreError) {
        try await transaction { s in
            try await s.requireOrg(p.org)
            if try await s.exists("SELECT 1 FROM plans WHERE org = \(p.org) AND name = \(p.name)") {
                throw StoreError.duplicate("plan '\(p.name)' in organization '\(p.org)'")
            }
            try await s.run("""
                INSERT INTO plans (org, name, definition, created_by, created_at, updated_at)
                VALUES (\(p.org), \(p.name), \(p.definition.serialized()), \(p.createdBy), \(Self.seconds(p.createdAt)),
                        \(Self.seconds(p.updatedAt)))
                """)
        }
    }

    public func plan(org: String, name: String) async throws(StoreError) -> PlanRecord? {
        try await read { s in try await s.rows("SELECT * FROM plans WHERE org = \(org) AND name = \(name)").first.map(Self.decodePlan) }
    }

    public func listPlans(org: String) async throws(StoreError) -> [PlanRecord] {
        try await read { s in try await s.rows("SELECT * FROM plans WHERE org = \(org) ORDER BY name").map(Self.decodePlan) }
    }

    public func deletePlan(org: String, name: String) async throws(StoreError) -> Bool {
        try await transaction { s in try await s.run("DELETE FROM plans WHERE org = \(org) AND name = \(name) RETURNING 1") > 0 }
    }

    public func savePlanRun(_ r: PlanRunRecord) async throws(StoreError) {
        let owner = serverId
        try await transaction { s in
            try await s.requireOrg(r.org)
            try await s.run("""
                INSERT INTO plan_runs (id, org, plan, definition, parameters, requestor, status, reason, steps, created_at, updated_at,
                                       owner)
                VALUES (\(r.id), \(r.org), \(r.plan), \(r.definition.serialized()), \(r.parameters.serialized()), \(r.requestor),
                        \(r.status), \(r.reason), \(r.steps.serialized()), \(Self.seconds(r.createdAt)), \(Self.seconds(r.updatedAt)),
                        \(owner))
                ON CONFLICT (id) DO UPDATE SET org = excluded.org, plan = excluded.plan, definition = excluded.definition,
                    parameters = excluded.parameters, requestor = excluded.requestor, status = excluded.status,
                    reason = excluded.reason, steps = excluded.steps, created_at = excluded.created_at,
                    updated_at = excluded.updated_at
                """)
        }
    }

    public func planRun(org: String, id: String) async throws(StoreError) -> PlanRunRecord? {
        try await read { s in try await s.rows("SELECT * FROM plan_runs WHERE org = \(org) AND id = \(id)").first.map(Self.decodePlanRun) }
    }

    public func listPlanRuns(org: String, limit: Int) async throws(StoreError) -> [PlanRunRecord] {
        try await read { s in
            try await s.rows("""
                SELECT * FROM plan_runs WHERE org = \(org) ORDER BY created_at DESC, id DESC LIMIT \(max(0, limit))
                """).map(Self.decodePlanRun)
        }
    }

    public func failUnfinishedPlanRuns(reason: String, at: Date) async throws(StoreError) -> [String] {
        try await transaction { s in
            // Once across servers starting together; a live peer's runs are not touched (issue 17).
            try await s.run("SELECT pg_advisory_xact_lock(\(Self.recoveryLock))")
            return try await s.strings("""
                WITH failed AS (
                    UPDATE plan_runs SET status = 'failed', reason = \(reason), updated_at = \(Self.seconds(at))
                    WHERE status = 'running' AND (owner IS NULL OR owner NOT IN (
                        SELECT id FROM pushy_servers WHERE lease_until >= extract(epoch FROM clock_timestamp())))
                    RETURNING id, created_at)
                SELECT id FROM failed ORDER BY created_at, id
                """)
        }
    }
}
