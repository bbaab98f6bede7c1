import Foundation
import GRDB
import PushyProtocol

/// Plans and plan runs (schema v8-plans, issue 14).
extension SQLiteStore {
    public func createPlan(_ p: PlanRecord) async throws(StoreError) {
        try await write { db in
            try Self.requireOrg(db, p.org)
            if try Self.exists(db, "SELECT 1 FROM plans WHERE org = ? AND name = ?", [p.org, p.name]) {
                throw StoreError.duplicate("plan '\(p.name)' in organization '\(p.org)'")
            }
            try db.execute(
                sql: "INSERT INTO plans (org, name, definition, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [p.org, p.name, p.definition.serialized(), p.createdBy, Self.seconds(p.createdAt), Self.seconds(p.updatedAt)])
        }
    }

    public func plan(org: String, name: String) async throws(StoreError) -> PlanRecord? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM plans WHERE org = ? AND name = ?", arguments: [org, name]).map(Self.planRecord)
        }
    }

    public func listPlans(org: String) async throws(StoreError) -> [PlanRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM plans WHERE org = ? ORDER BY name", arguments: [org]).map(Self.planRecord)
        }
    }

    public func deletePlan(org: String, name: String) async throws(StoreError) -> Bool {
        try await write { db in
            try db.execute(sql: "DELETE FROM plans WHERE org = ? AND name = ?", arguments: [org, name])
            return db.changesCount > 0
        }
    }

    public func savePlanRun(_ r: PlanRunRecord) async throws(StoreError) {
        try await write { db in
            try Self.requireOrg(db, r.org)
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO plan_runs (id, org, plan, definition, parameters, requestor, status, reason, steps,
                        created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [r.id, r.org, r.plan, r.definition.serialized(), r.parameters.serialized(), r.requestor, r.status,
                            r.reason, r.steps.serialized(), Self.seconds(r.createdAt), Self.seconds(r.updatedAt)])
        }
    }

    public func planRun(org: String, id: String) async throws(StoreError) -> PlanRunRecord? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM plan_runs WHERE org = ? AND id = ?", arguments: [org, id]).map(Self.planRunRecord)
        }
    }

    public func listPlanRuns(org: String, limit: Int) async throws(StoreError) -> [PlanRunRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM plan_runs WHERE org = ? ORDER BY created_at DESC, id DESC LIMIT ?",
                             arguments: [org, limit]).map(Self.planRunRecord)
        }
    }

    public func failUnfinishedPlanRuns(reason: String, at: Date) async throws(StoreError) -> [String] {
        try await write { db in
            let ids = try String.fetchAll(db, sql: "SELECT id FROM plan_runs WHERE status = 'running' ORDER BY created_at")
            try db.execute(sql: "UPDATE plan_runs SET status = 'failed', reason = ?, updated_at = ? WHERE status = 'running'",
                           arguments: [reason, Self.seconds(at)])
            return ids
        }
    }

    static func planRecord(_ row: Row) throws(StoreError) -> PlanRecord {
        PlanRecord(org: row["org"], name: row["name"], definition: try json(row["definition"], "definition"),
                   createdBy: row["created_by"], createdAt: date(row, "created_at"), updatedAt: date(row, "updated_at"))
    }

    static func planRunRecord(_ row: Row) throws(StoreError) -> PlanRunRecord {
        PlanRunRecord(
            id: row["id"], org: row["org"], plan: row["plan"], definition: try json(row["definition"], "definition"),
            parameters: try json(row["parameters"], "parameters"), requestor: row["requestor"], status: row["status"],
            reason: row["reason"], steps: try json(row["steps"], "steps"), createdAt: date(row, "created_at"),
            updatedAt: date(row, "updated_at"))
    }
}
