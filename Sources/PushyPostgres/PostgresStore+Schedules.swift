import Foundation
import PostgresNIO
import PushyStore

/// Schedules and their run times. A run time is taken by inserting its row: the key
/// (schedule_id, tick) lets exactly one server (or one life of a server) take it.
extension PostgresStore {
    public func createSchedule(_ sc: ScheduleRecord) async throws(StoreError) {
        try await transaction { s in
            try await s.requireOrg(sc.org)
            if try await s.exists("SELECT 1 FROM schedules WHERE org = \(sc.org) AND name = \(sc.name)") {
                throw StoreError.duplicate("schedule '\(sc.name)' in organization '\(sc.org)'")
            }
            if try await s.exists("SELECT 1 FROM schedules WHERE id = \(sc.id)") {
                throw StoreError.duplicate("schedule id '\(sc.id)'")
            }
            try await s.run("""
                INSERT INTO schedules (id, org, name, owner, definition, paused, cursor, queued, created_at, updated_at)
                VALUES (\(sc.id), \(sc.org), \(sc.name), \(sc.owner), \(sc.definition.serialized()), \(sc.paused),
                        \(Self.seconds(sc.cursor)), \(sc.queued.map(Self.seconds)), \(Self.seconds(sc.createdAt)),
                        \(Self.seconds(sc.updatedAt)))
                """)
        }
    }

    public func schedule(org: String, name: String) async throws(StoreError) -> ScheduleRecord? {
        try await read { s in
            try await s.rows("SELECT * FROM schedules WHERE org = \(org) AND name = \(name)").first.map(Self.decodeSchedule)
        }
    }

    public func listSchedules(org: String) async throws(StoreError) -> [ScheduleRecord] {
        try await read { s in try await s.rows("SELECT * FROM schedules WHERE org = \(org) ORDER BY name").map(Self.decodeSchedule) }
    }

    public func allSchedules() async throws(StoreError) -> [ScheduleRecord] {
        try await read { s in try await s.rows("SELECT * FROM schedules ORDER BY org, name").map(Self.decodeSchedule) }
    }

    public func updateSchedule(_ sc: ScheduleRecord) async throws(StoreError) {
        try await transaction { s in
            let changed = try await s.run("""
                UPDATE schedules SET owner = \(sc.owner), definition = \(sc.definition.serialized()), paused = \(sc.paused),
                    cursor = \(Self.seconds(sc.cursor)), queued = \(sc.queued.map(Self.seconds)),
                    updated_at = \(Self.seconds(sc.updatedAt))
                WHERE id = \(sc.id) RETURNING 1
                """)
            if changed == 0 { throw StoreError.notFound("schedule '\(sc.name)' in organization '\(sc.org)'") }
        }
    }

    @discardableResult
    public func setScheduleProgress(id: String, cursor: Date, queued: Date?, readUpdatedAt: Date) async throws(StoreError) -> Bool {
        try await transaction { s in
            try await s.run("""
                UPDATE schedules SET cursor = \(Self.seconds(cursor)), queued = \(queued.map(Self.seconds))
                WHERE id = \(id) AND updated_at = \(Self.seconds(readUpdatedAt)) RETURNING 1
                """) > 0
        }
    }

    public func deleteSchedule(org: String, name: String) async throws(StoreError) -> Bool {
        try await transaction { s in
            try await s.run("DELETE FROM schedules WHERE org = \(org) AND name = \(name) RETURNING 1") > 0
        }
    }

    public func claimScheduleRun(_ r: ScheduleRunRecord, keep: Int) async throws(StoreError) -> Bool {
        try await transaction { s in
            guard try await s.exists("SELECT 1 FROM schedules WHERE id = \(r.scheduleId)") else {
                throw StoreError.notFound("schedule id '\(r.scheduleId)'")
            }
            let taken = try await s.run("""
                INSERT INTO schedule_runs (schedule_id, tick, at, outcome, job_id, reason)
                VALUES (\(r.scheduleId), \(Self.seconds(r.tick)), \(Self.seconds(r.at)), \(r.outcome.rawValue), \(r.jobId), \(r.reason))
                ON CONFLICT (schedule_id, tick) DO NOTHING RETURNING 1
                """) > 0
            guard taken else { return false }
            try await s.run("""
                DELETE FROM schedule_runs WHERE schedule_id = \(r.scheduleId) AND tick NOT IN
                    (SELECT tick FROM schedule_runs WHERE schedule_id = \(r.scheduleId) ORDER BY tick DESC LIMIT \(max(keep, 1)))
                """)
            return true
        }
    }

    public func updateScheduleRun(_ r: ScheduleRunRecord) async throws(StoreError) {
        try await transaction { s in
            let changed = try await s.run("""
                UPDATE schedule_runs SET outcome = \(r.outcome.rawValue), job_id = \(r.jobId), reason = \(r.reason),
                    at = \(Self.seconds(r.at))
                WHERE schedule_id = \(r.scheduleId) AND tick = \(Self.seconds(r.tick)) RETURNING 1
                """)
            if changed == 0 { throw StoreError.notFound("run \(r.tick) of schedule id '\(r.scheduleId)'") }
        }
    }

    public func scheduleRuns(scheduleId: String, limit: Int) async throws(StoreError) -> [ScheduleRunRecord] {
        try await read { s in
            try await s.rows("""
                SELECT * FROM schedule_runs WHERE schedule_id = \(scheduleId) ORDER BY tick DESC LIMIT \(max(0, limit))
                """).map(Self.decodeScheduleRun)
        }
    }
}
