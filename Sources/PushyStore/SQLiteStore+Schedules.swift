import Foundation
import GRDB
import PushyProtocol

/// Schedules and their run times (schema v7-schedules, issue 14).
extension SQLiteStore {
    public func createSchedule(_ s: ScheduleRecord) async throws(StoreError) {
        try await write { db in
            try Self.requireOrg(db, s.org)
            if try Self.exists(db, "SELECT 1 FROM schedules WHERE org = ? AND name = ?", [s.org, s.name]) {
                throw StoreError.duplicate("schedule '\(s.name)' in organization '\(s.org)'")
            }
            if try Self.exists(db, "SELECT 1 FROM schedules WHERE id = ?", [s.id]) {
                throw StoreError.duplicate("schedule id '\(s.id)'")
            }
            try db.execute(
                sql: """
                    INSERT INTO schedules (id, org, name, owner, definition, paused, cursor, queued, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [s.id, s.org, s.name, s.owner, s.definition.serialized(), s.paused, Self.seconds(s.cursor),
                            s.queued.map(Self.seconds), Self.seconds(s.createdAt), Self.seconds(s.updatedAt)])
        }
    }

    public func schedule(org: String, name: String) async throws(StoreError) -> ScheduleRecord? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM schedules WHERE org = ? AND name = ?", arguments: [org, name])
                .map(Self.scheduleRecord)
        }
    }

    public func listSchedules(org: String) async throws(StoreError) -> [ScheduleRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM schedules WHERE org = ? ORDER BY name", arguments: [org]).map(Self.scheduleRecord)
        }
    }

    public func allSchedules() async throws(StoreError) -> [ScheduleRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM schedules ORDER BY org, name").map(Self.scheduleRecord)
        }
    }

    public func updateSchedule(_ s: ScheduleRecord) async throws(StoreError) {
        try await write { db in
            try db.execute(
                sql: """
                    UPDATE schedules SET owner = ?, definition = ?, paused = ?, cursor = ?, queued = ?, updated_at = ?
                    WHERE id = ?
                    """,
                arguments: [s.owner, s.definition.serialized(), s.paused, Self.seconds(s.cursor), s.queued.map(Self.seconds),
                            Self.seconds(s.updatedAt), s.id])
            if db.changesCount == 0 { throw StoreError.notFound("schedule '\(s.name)' in organization '\(s.org)'") }
        }
    }

    @discardableResult
    public func setScheduleProgress(id: String, cursor: Date, queued: Date?, readUpdatedAt: Date) async throws(StoreError) -> Bool {
        try await write { db in
            try db.execute(sql: "UPDATE schedules SET cursor = ?, queued = ? WHERE id = ? AND updated_at = ?",
                           arguments: [Self.seconds(cursor), queued.map(Self.seconds), id, Self.seconds(readUpdatedAt)])
            return db.changesCount > 0
        }
    }

    public func deleteSchedule(org: String, name: String) async throws(StoreError) -> Bool {
        try await write { db in
            try db.execute(sql: "DELETE FROM schedules WHERE org = ? AND name = ?", arguments: [org, name])
            return db.changesCount > 0
        }
    }

    public func claimScheduleRun(_ r: ScheduleRunRecord, keep: Int) async throws(StoreError) -> Bool {
        try await write { db in
            guard try Self.exists(db, "SELECT 1 FROM schedules WHERE id = ?", [r.scheduleId]) else {
                throw StoreError.notFound("schedule id '\(r.scheduleId)'")
            }
            try db.execute(
                sql: """
                    INSERT INTO schedule_runs (schedule_id, tick, at, outcome, job_id, reason) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (schedule_id, tick) DO NOTHING
                    """,
                arguments: [r.scheduleId, Self.seconds(r.tick), Self.seconds(r.at), r.outcome.rawValue, r.jobId, r.reason])
            guard db.changesCount > 0 else { return false }
            try db.execute(
                sql: """
                    DELETE FROM schedule_runs WHERE schedule_id = ? AND tick NOT IN
                        (SELECT tick FROM schedule_runs WHERE schedule_id = ? ORDER BY tick DESC LIMIT ?)
                    """,
                arguments: [r.scheduleId, r.scheduleId, max(keep, 1)])
            return true
        }
    }

    public func updateScheduleRun(_ r: ScheduleRunRecord) async throws(StoreError) {
        try await write { db in
            try db.execute(
                sql: "UPDATE schedule_runs SET outcome = ?, job_id = ?, reason = ?, at = ? WHERE schedule_id = ? AND tick = ?",
                arguments: [r.outcome.rawValue, r.jobId, r.reason, Self.seconds(r.at), r.scheduleId, Self.seconds(r.tick)])
            if db.changesCount == 0 { throw StoreError.notFound("run \(r.tick) of schedule id '\(r.scheduleId)'") }
        }
    }

    public func scheduleRuns(scheduleId: String, limit: Int) async throws(StoreError) -> [ScheduleRunRecord] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM schedule_runs WHERE schedule_id = ? ORDER BY tick DESC LIMIT ?",
                arguments: [scheduleId, limit]
            ).map(Self.scheduleRun)
        }
    }

    static func scheduleRecord(_ row: Row) throws(StoreError) -> ScheduleRecord {
        let queued: Double? = row["queued"]
        return ScheduleRecord(
            id: row["id"], org: row["org"], name: row["name"], owner: row["owner"],
            definition: try json(row["definition"], "definition"), paused: row["paused"], cursor: date(row, "cursor"),
            queued: queued.map { Date(timeIntervalSince1970: $0) }, createdAt: date(row, "created_at"),
            updatedAt: date(row, "updated_at"))
    }

    static func scheduleRun(_ row: Row) throws(StoreError) -> ScheduleRunRecord {
        let text: String = row["outcome"]
        guard let outcome = ScheduleRunOutcome(rawValue: text) else { throw .io("unknown schedule run outcome '\(text)'") }
        return ScheduleRunRecord(
            scheduleId: row["schedule_id"], tick: date(row, "tick"), at: date(row, "at"), outcome: outcome,
            jobId: row["job_id"], reason: row["reason"])
    }
}
