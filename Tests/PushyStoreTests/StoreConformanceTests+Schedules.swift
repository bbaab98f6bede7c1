import Foundation
import PushyProtocol
import PushyStore
import Testing

/// Schedules (issue 14): CRUD, org scoping, progress, and run times that are taken once.
extension StoreConformanceTests {
    static func schedule(_ org: String, _ name: String, id: String, owner: String = "amy") -> ScheduleRecord {
        ScheduleRecord(id: id, org: org, name: name, owner: owner,
                       definition: ["name": .string(name), "cron": "* * * * *", "template": "deploy"],
                       cursor: Fixture.at(0), createdAt: Fixture.at(0))
    }

    @Test(arguments: StoreKind.allCases)
    func schedulesAreStored(kind: StoreKind) async throws {
        try await kind.withStore { store in
            try await store.createOrg(Fixture.org("acme", guidDigit: "a"))
            try await store.createOrg(Fixture.org("beta", guidDigit: "b"))
            let nightly = Self.schedule("acme", "nightly", id: String(repeating: "1", count: 32))
            try await store.createSchedule(nightly)
            await expectStoreError(.duplicate) { try await store.createSchedule(nightly) }
            await expectStoreError(.duplicate) {
                try await store.createSchedule(Self.schedule("acme", "other", id: nightly.id))
            }
            await expectStoreError(.notFound) {
                try await store.createSchedule(Self.schedule("gamma", "x", id: String(repeating: "9", count: 32)))
            }
            try await store.createSchedule(Self.schedule("acme", "backup", id: String(repeating: "2", count: 32)))
            try await store.createSchedule(Self.schedule("beta", "nightly", id: String(repeating: "3", count: 32)))
            #expect(try await store.schedule(org: "acme", name: "nightly") == nightly)
            #expect(try await store.schedule(org: "acme", name: "nope") == nil)
            #expect(try await store.listSchedules(org: "acme").map(\.name) == ["backup", "nightly"])
            #expect(try await store.allSchedules().map { "\($0.org)/\($0.name)" } == ["acme/backup", "acme/nightly", "beta/nightly"])

            // An update replaces what people change; progress only what the scheduler changes.
            var paused = nightly
            paused.paused = true
            paused.owner = "bob"
            paused.updatedAt = Fixture.at(10)
            try await store.updateSchedule(paused)
            // Progress computed from a read before that update is not written: the pause wins.
            #expect(try await store.setScheduleProgress(id: nightly.id, cursor: Fixture.at(30), queued: Fixture.at(40),
                                                        readUpdatedAt: nightly.updatedAt) == false)
            #expect(try await store.schedule(org: "acme", name: "nightly")?.cursor == nightly.cursor)
            #expect(try await store.setScheduleProgress(id: nightly.id, cursor: Fixture.at(60), queued: Fixture.at(120),
                                                        readUpdatedAt: Fixture.at(10)))
            let read = try #require(try await store.schedule(org: "acme", name: "nightly"))
            #expect(read.paused && read.owner == "bob" && read.updatedAt == Fixture.at(10))
            #expect(read.cursor == Fixture.at(60) && read.queued == Fixture.at(120))
            try await store.setScheduleProgress(id: nightly.id, cursor: Fixture.at(180), queued: nil, readUpdatedAt: Fixture.at(10))
            #expect(try await store.schedule(org: "acme", name: "nightly")?.queued == nil)
            #expect(try await store.schedule(org: "acme", name: "nightly")?.paused == true)
            // A change time with a fraction of a second, as the API writes it, compares equal
            // once read back (the compare and set must not depend on whole seconds).
            var edited = try #require(try await store.schedule(org: "acme", name: "backup"))
            edited.updatedAt = Date(timeIntervalSince1970: 1_764_000_000.123_456_7)
            try await store.updateSchedule(edited)
            let readBack = try #require(try await store.schedule(org: "acme", name: "backup"))
            #expect(try await store.setScheduleProgress(id: readBack.id, cursor: Fixture.at(5), queued: nil,
                                                        readUpdatedAt: readBack.updatedAt))
            // Progress of a schedule deleted meanwhile is dropped quietly.
            #expect(try await store.setScheduleProgress(id: String(repeating: "f", count: 32), cursor: Fixture.at(1), queued: nil,
                                                        readUpdatedAt: Fixture.at(10)) == false)
            await expectStoreError(.notFound) {
                try await store.updateSchedule(Self.schedule("acme", "gone", id: String(repeating: "e", count: 32)))
            }

            #expect(try await store.deleteSchedule(org: "acme", name: "nightly"))
            #expect(try await store.deleteSchedule(org: "acme", name: "nightly") == false)
            #expect(try await store.listSchedules(org: "acme").map(\.name) == ["backup"])
            #expect(try await store.deleteOrg(named: "beta"))
            #expect(try await store.allSchedules().map(\.name) == ["backup"])
        }
    }

    /// A run time is taken once: the second claim of the same (schedule, tick) fails, whoever
    /// makes it; the history keeps the newest `keep` rows, newest first.
    @Test(arguments: StoreKind.allCases)
    func scheduleRunsAreTakenOnce(kind: StoreKind) async throws {
        try await kind.withStore { store in
            try await store.createOrg(Fixture.org("acme", guidDigit: "a"))
            let s = Self.schedule("acme", "nightly", id: String(repeating: "1", count: 32))
            try await store.createSchedule(s)
            let first = ScheduleRunRecord(scheduleId: s.id, tick: Fixture.at(60), at: Fixture.at(61), outcome: .starting)
            #expect(try await store.claimScheduleRun(first, keep: 3))
            #expect(try await store.claimScheduleRun(first, keep: 3) == false)
            var other = first
            other.outcome = .skipped
            #expect(try await store.claimScheduleRun(other, keep: 3) == false)
            #expect(try await store.scheduleRuns(scheduleId: s.id, limit: 10) == [first])

            var started = first
            started.outcome = .started
            started.jobId = String(repeating: "a", count: 32)
            try await store.updateScheduleRun(started)
            #expect(try await store.scheduleRuns(scheduleId: s.id, limit: 10) == [started])
            await expectStoreError(.notFound) {
                try await store.updateScheduleRun(ScheduleRunRecord(scheduleId: s.id, tick: Fixture.at(999), at: Fixture.at(0), outcome: .failed))
            }

            for minute in 2...5 {
                let r = ScheduleRunRecord(scheduleId: s.id, tick: Fixture.at(Double(60 * minute)), at: Fixture.at(0),
                                          outcome: .skipped, reason: "missed \(minute)")
                #expect(try await store.claimScheduleRun(r, keep: 3))
            }
            let runs = try await store.scheduleRuns(scheduleId: s.id, limit: 10)
            #expect(runs.map(\.tick) == [Fixture.at(300), Fixture.at(240), Fixture.at(180)])
            #expect(runs.first?.reason == "missed 5")
            #expect(try await store.scheduleRuns(scheduleId: s.id, limit: 1).count == 1)
            // A pruned run time is not taken again by accident: the caller's cursor is past it,
            // and claiming needs the schedule.
            await expectStoreError(.notFound) {
                _ = try await store.claimScheduleRun(ScheduleRunRecord(scheduleId: String(repeating: "0", count: 32), tick: Fixture.at(1), at: Fixture.at(1), outcome: .starting), keep: 3)
            }
            // Deleting the schedule deletes its history; the same name starts afresh.
            #expect(try await store.deleteSchedule(org: "acme", name: "nightly"))
            #expect(try await store.scheduleRuns(scheduleId: s.id, limit: 10).isEmpty)
        }
    }
}
