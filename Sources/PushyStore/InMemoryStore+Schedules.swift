import Foundation

/// Schedules and their run times (issue 14).
extension InMemoryStore {
    public func createSchedule(_ s: ScheduleRecord) throws(StoreError) {
        try requireOrg(s.org)
        if schedules.values.contains(where: { $0.org == s.org && $0.name == s.name }) {
            throw .duplicate("schedule '\(s.name)' in organization '\(s.org)'")
        }
        if schedules[s.id] != nil { throw .duplicate("schedule id '\(s.id)'") }
        schedules[s.id] = s
    }

    public func schedule(org: String, name: String) -> ScheduleRecord? {
        schedules.values.first { $0.org == org && $0.name == name }
    }

    public func listSchedules(org: String) -> [ScheduleRecord] {
        schedules.values.filter { $0.org == org }.sorted { byteOrder($0.name, $1.name) }
    }

    public func allSchedules() -> [ScheduleRecord] {
        schedules.values.sorted { $0.org == $1.org ? byteOrder($0.name, $1.name) : byteOrder($0.org, $1.org) }
    }

    public func updateSchedule(_ s: ScheduleRecord) throws(StoreError) {
        guard var current = schedules[s.id] else { throw .notFound("schedule '\(s.name)' in organization '\(s.org)'") }
        current.owner = s.owner
        current.definition = s.definition
        current.paused = s.paused
        current.cursor = s.cursor
        current.queued = s.queued
        current.updatedAt = s.updatedAt
        schedules[s.id] = current
    }

    @discardableResult
    public func setScheduleProgress(id: String, cursor: Date, queued: Date?, readUpdatedAt: Date) -> Bool {
        guard schedules[id]?.updatedAt == readUpdatedAt else { return false }
        schedules[id]?.cursor = cursor
        schedules[id]?.queued = queued
        return true
    }

    public func deleteSchedule(org: String, name: String) -> Bool {
        guard let s = schedule(org: org, name: name) else { return false }
        schedules[s.id] = nil
        scheduleRunTable[s.id] = nil
        return true
    }

    public func claimScheduleRun(_ r: ScheduleRunRecord, keep: Int) throws(StoreError) -> Bool {
        guard schedules[r.scheduleId] != nil else { throw .notFound("schedule id '\(r.scheduleId)'") }
        var runs = scheduleRunTable[r.scheduleId] ?? [:]
        guard runs[r.tick] == nil else { return false }
        runs[r.tick] = r
        for old in runs.keys.sorted(by: >).dropFirst(max(keep, 1)) { runs[old] = nil }
        scheduleRunTable[r.scheduleId] = runs
        return true
    }

    public func updateScheduleRun(_ r: ScheduleRunRecord) throws(StoreError) {
        guard scheduleRunTable[r.scheduleId]?[r.tick] != nil else {
            throw .notFound("run \(r.tick) of schedule id '\(r.scheduleId)'")
        }
        scheduleRunTable[r.scheduleId]![r.tick] = r
    }

    public func scheduleRuns(scheduleId: String, limit: Int) -> [ScheduleRunRecord] {
        (scheduleRunTable[scheduleId] ?? [:]).values.sorted { $0.tick > $1.tick }.prefix(limit).map { $0 }
    }
}
