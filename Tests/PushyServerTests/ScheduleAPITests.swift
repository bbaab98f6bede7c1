import Foundation
import PushyProtocol
@testable import PushyServer
import PushyStore
import Testing

/// Schedules (issue 14) at router level: REST create/list/show/pause/resume/delete/history,
/// the scheduler driven by hand with chosen times (no sleeps), a run time taken once across a
/// "restart" (a second scheduler over the same store), rights re-checked at run time, and
/// errors that say what to fix. (The same over real binaries and a real restart is
/// `ScheduleCLITests` in PushyIntegrationTests.)
@Suite(.timeLimit(.minutes(2))) struct ScheduleAPITests {
    static func at(_ d: Date) -> JSONValue { .string(WireTime.iso8601(d)) }

    /// The scheduler of the rig's engine and store; `now` is given to each pass.
    static func scheduler(_ rig: RouterRig) -> Scheduler { Scheduler(store: rig.store, engine: rig.engine) }

    static func history(_ caller: Caller, _ name: String) async throws -> [JSONValue] {
        try await caller.json("GET", "pushy/schedules/\(name)/history")["runs"]?.arrayValue ?? []
    }

    /// A superuser of the default org acts in every org (as in a signed request), so their
    /// schedules and plan steps elsewhere run as them; a name known nowhere is refused.
    @Test func theOwnerIsLookedUpAsASignedRequestWould() async throws {
        try await RouterRig.run { rig in
            try await rig.admin.createOrganization("other")
            let starter = JobStarter(store: rig.store, engine: rig.engine)
            let p = try await starter.currentPrincipal(org: "other", name: "admin", defaultOrg: "pushy")
            #expect(p.isSuperuser && p.org.name == "other")
            await #expect(throws: APIError.self) {
                _ = try await starter.currentPrincipal(org: "other", name: "admin", defaultOrg: nil)
            }
            await #expect(throws: APIError.self) {
                _ = try await starter.currentPrincipal(org: "pushy", name: "nobody", defaultOrg: "pushy")
            }
        }
    }

    @Test func aOneShotRunsOnceAcrossARestart() async throws {
        try await RouterRig.run { rig in
            let admin = rig.admin
            try await rig.startAgent("web1")
            let when = Date().addingTimeInterval(30).rounded()
            let created = try await admin.send("POST", "pushy/schedules", json: [
                "name": "once", "at": Self.at(when), "job": ["command": "ok", "nodes": ["web1"]],
            ])
            #expect(created.status == 201, "\(created.text)")
            #expect(created.header("Location")?.hasSuffix("/organizations/pushy/pushy/schedules/once") == true)
            let next = created.json?["next_runs"]?.arrayValue ?? []
            #expect(next.map { $0["at"] } == [Self.at(when)])

            let list = try await admin.json("GET", "pushy/schedules").arrayValue ?? []
            #expect(list.map { $0["name"] } == ["once"])
            #expect(list.first?["owner"] == "admin" && list.first?["next_runs"]?.arrayValue?.count == 1)

            // Before its time nothing runs; at its time one job starts, linked to the schedule.
            let first = Self.scheduler(rig)
            await first.pass(now: when.addingTimeInterval(-1))
            #expect(try await Self.history(admin, "once").isEmpty)
            await first.pass(now: when.addingTimeInterval(1))
            var runs = try await Self.history(admin, "once")
            #expect(runs.count == 1 && runs.first?["outcome"] == "started", "\(runs)")
            let jobId = try #require(runs.first?["job"]?.stringValue)
            let job = try await admin.waitFinished(jobId)
            #expect(job.status == .complete && job.origin == "schedule:once")

            // The same moment again, then a second scheduler (a restarted server) that has not
            // seen the cursor move: the run time's row is taken, nothing runs twice.
            await first.pass(now: when.addingTimeInterval(2))
            let once = try #require(try await rig.store.schedule(org: "pushy", name: "once"))
            try await rig.store.setScheduleProgress(id: once.id, cursor: when.addingTimeInterval(-60), queued: nil,
                                                    readUpdatedAt: once.updatedAt)
            await Self.scheduler(rig).pass(now: when.addingTimeInterval(3))
            runs = try await Self.history(admin, "once")
            #expect(runs.count == 1, "\(runs)")
            #expect(try await admin.jobs().filter { $0.origin == "schedule:once" }.count == 1)
            #expect(runs.first?["job_status"] == "complete")

            // Done: no more run times; show says so and keeps the last run.
            let shown = try await admin.json("GET", "pushy/schedules/once")
            #expect(shown["next_runs"]?.arrayValue?.isEmpty == true)
            #expect(shown["last_run"]?["job"]?.stringValue == jobId)
        }
    }

    @Test func cronRunsMissedRunsAndPause() async throws {
        try await RouterRig.run { rig in
            let admin = rig.admin
            try await rig.startAgent("web1")
            let created = try await admin.json("POST", "pushy/schedules", json: [
                "name": "minutely", "cron": "* * * * *", "time_zone": "Europe/Berlin",
                "job": ["command": "ok", "nodes": ["web1"]], "missed_runs": "run_once",
            ])
            #expect(created["next_runs"]?.arrayValue?.count == 5)
            #expect(created["next_runs"]?.arrayValue?.first?["local"]?.stringValue?.hasSuffix("Europe/Berlin") == true)
            let record = try #require(try await rig.store.schedule(org: "pushy", name: "minutely"))
            let minute = (record.cursor.timeIntervalSince1970 / 60).rounded(.down) * 60
            let t1 = Date(timeIntervalSince1970: minute + 60)
            let s = Self.scheduler(rig)
            await s.pass(now: t1.addingTimeInterval(5))
            var runs = try await Self.history(admin, "minutely")
            #expect(runs.map { $0["outcome"] } == ["started"])
            _ = try await admin.waitFinished(try #require(runs.first?["job"]?.stringValue))

            // Ten minutes later (the server was "down"): the missed run times are one skipped row,
            // and the one due now runs.
            await s.pass(now: t1.addingTimeInterval(600 + 70))
            runs = try await Self.history(admin, "minutely")
            #expect(runs.map { $0["outcome"] } == ["started", "skipped", "started"], "\(runs)")
            #expect(runs[1]["reason"]?.stringValue?.hasPrefix("missed 10 run(s) from ") == true, "\(runs[1])")
            #expect(runs[1]["reason"]?.stringValue?.hasSuffix("while the server was not running (a later run time is due now)") == true)
            _ = try await admin.waitFinished(try #require(runs.first?["job"]?.stringValue))

            // Paused: nothing runs and nothing is missed; resumed: the next run time runs.
            let paused = try await admin.json("PUT", "pushy/schedules/minutely/pause", json: [:])
            #expect(paused["paused"] == true && paused["next_runs"]?.arrayValue?.isEmpty == true)
            await s.pass(now: t1.addingTimeInterval(900))
            #expect(try await Self.history(admin, "minutely").count == 3)
            let resumed = try await admin.json("PUT", "pushy/schedules/minutely/resume", json: [:])
            #expect(resumed["paused"] == false)
            let after = try #require(try await rig.store.schedule(org: "pushy", name: "minutely"))
            let nextTick = Date(timeIntervalSince1970: (after.cursor.timeIntervalSince1970 / 60).rounded(.down) * 60 + 60)
            await s.pass(now: nextTick.addingTimeInterval(1))
            runs = try await Self.history(admin, "minutely")
            #expect(runs.count == 4 && runs.first?["outcome"] == "started", "\(runs)")
            _ = try await admin.waitFinished(try #require(runs.first?["job"]?.stringValue))

            let actions = try await admin.audit().compactMap { $0["action"]?.stringValue }
            #expect(Set(actions).isSuperset(of: ["schedule.created", "schedule.paused", "schedule.resumed", "schedule.run"]), "\(actions)")

            #expect(try await admin.send("DELETE", "pushy/schedules/minutely").status == 200)
            #expect(try await admin.send("GET", "pushy/schedules/minutely").status == 404)
            #expect(try await admin.audit().contains { $0["action"] == "schedule.deleted" })
        }
    }

    /// The owner's rights are checked at every run: rob may run the template when he creates
    /// the schedule; removed from its run access, his next run is refused with the reason.
    @Test func rightsAreCheckedAtEveryRun() async throws {
        try await RouterRig.run { rig in
            let admin = rig.admin
            try await admin.createUser("rob")
            try await admin.addGroupMember(group: "deployers", type: "user", name: "rob")
            try await admin.addGroupMember(group: "pushy_job_writers", type: "group", name: "admins")
            try await rig.startAgent("web1")
            _ = try await admin.ok("POST", "pushy/templates", json: [
                "name": "hello", "command": "ok", "nodes": ["web1"], "access": ["run": ["groups": ["deployers"]]],
            ])
            let rob = rig.caller("rob")
            // Not a job writer: a job-spec schedule is refused, the template's one allowed.
            let spec = try await rob.send("POST", "pushy/schedules", json: [
                "name": "raw", "cron": "@hourly", "job": ["command": "ok", "nodes": ["web1"]],
            ])
            #expect(spec.status == 403, "\(spec.text)")
            let created = try await rob.send("POST", "pushy/schedules", json: ["name": "hi", "cron": "* * * * *", "template": "hello"])
            #expect(created.status == 201, "\(created.text)")
            #expect(try await rob.send("PUT", "pushy/schedules/hi/pause", json: [:]).status == 200)
            #expect(try await rob.send("PUT", "pushy/schedules/hi/resume", json: [:]).status == 200)

            let record = try #require(try await rig.store.schedule(org: "pushy", name: "hi"))
            let t1 = Date(timeIntervalSince1970: (record.cursor.timeIntervalSince1970 / 60).rounded(.down) * 60 + 60)
            let s = Self.scheduler(rig)
            await s.pass(now: t1.addingTimeInterval(1))
            var runs = try await Self.history(admin, "hi")
            #expect(runs.first?["outcome"] == "started", "\(runs)")
            let job = try await admin.waitFinished(try #require(runs.first?["job"]?.stringValue))
            #expect(job.template == "hello" && job.origin == "schedule:hi")

            try await admin.removeGroupMember(group: "deployers", type: "user", name: "rob")
            await s.pass(now: t1.addingTimeInterval(61))
            runs = try await Self.history(admin, "hi")
            #expect(runs.first?["outcome"] == "refused", "\(runs)")
            #expect(runs.first?["reason"] == "refused: rob may not run template 'hello' (not in its run access, not a job writer)")
            #expect(try await admin.audit().contains { $0["action"] == "schedule.refused" && $0["actor"] == "rob" })
            // Rob may no longer change it either; an admin may.
            let denied = try await rob.send("PUT", "pushy/schedules/hi/pause", json: [:])
            #expect(denied.status == 403 && denied.text.contains("rob may not pause schedule 'hi' (not a job writer, not in the run access of its template 'hello')"), "\(denied.text)")
            #expect(try await admin.send("PUT", "pushy/schedules/hi/pause", json: [:]).status == 200)

            // A deleted owner: refused, and says why.
            try await admin.ok("PUT", "pushy/schedules/hi/resume", json: [:])
            try await admin.deleteUser("rob")
            let resumedAt = try #require(try await rig.store.schedule(org: "pushy", name: "hi")).cursor
            let t3 = Date(timeIntervalSince1970: (resumedAt.timeIntervalSince1970 / 60).rounded(.down) * 60 + 60)
            await s.pass(now: t3.addingTimeInterval(1))
            runs = try await Self.history(admin, "hi")
            #expect(runs.first?["reason"] == "refused: the owner 'rob' no longer exists in organization 'pushy'", "\(runs.first ?? nil)")
        }
    }

    /// Overlap `skip`: a run due while the previous job still runs is recorded as skipped.
    @Test func overlapSkipsWhileThePreviousJobRuns() async throws {
        try await RouterRig.run { rig in
            let admin = rig.admin
            try await rig.startAgent("web1")
            try await admin.ok("POST", "pushy/schedules", json: [
                "name": "slow", "cron": "* * * * *", "job": ["command": "sleep", "nodes": ["web1"]],
            ])
            let record = try #require(try await rig.store.schedule(org: "pushy", name: "slow"))
            let t1 = Date(timeIntervalSince1970: (record.cursor.timeIntervalSince1970 / 60).rounded(.down) * 60 + 60)
            let s = Self.scheduler(rig)
            await s.pass(now: t1.addingTimeInterval(1))
            let jobId = try #require(try await Self.history(admin, "slow").first?["job"]?.stringValue)
            await s.pass(now: t1.addingTimeInterval(61))
            let runs = try await Self.history(admin, "slow")
            #expect(runs.first?["outcome"] == "skipped" && runs.first?["reason"] == "the previous run was still going (overlap: skip)", "\(runs)")
            _ = try await admin.abortJob(jobId)
        }
    }

    static let badSchedules: [(JSONValue, Int, String)] = [
        (["name": "x", "cron": "61 * * * *", "job": ["command": "ok", "nodes": ["web1"]]], 400,
         "invalid cron supplied: invalid minute '61': 61 is outside 0-59"),
        (["name": "x", "cron": "* * * * *", "time_zone": "Mars/Olympus", "job": ["command": "ok", "nodes": ["web1"]]], 400,
         "invalid time_zone supplied: 'Mars/Olympus' (an IANA zone name such as Europe/Berlin"),
        (["name": "x", "at": "2020-01-01T00:00:00Z", "job": ["command": "ok", "nodes": ["web1"]]], 400, "is in the past"),
        (["name": "x", "at": "tomorrow", "job": ["command": "ok", "nodes": ["web1"]]], 400, "invalid at supplied: 'tomorrow'"),
        (["name": "x", "job": ["command": "ok", "nodes": ["web1"]]], 400, "a schedule needs 'cron'"),
        (["name": "x", "cron": "@daily"], 400, "a schedule needs 'template'"),
        (["name": "x", "cron": "@daily", "template": "nope"], 404, "template 'nope' not found"),
        (["name": "x", "cron": "@daily", "job": ["command": "ok", "nodes": ["ghost"]]], 400, "unknown node(s): ghost"),
        (["name": "x", "cron": "@daily", "job": ["command": "ok", "nodes": ["web1"]], "overlap": "wait"], 400,
         "invalid overlap supplied: 'wait' (skip or queue)"),
        (["name": "x", "cron": "@daily", "job": ["command": "ok", "nodes": ["web1"]], "missed_runs": "all"], 400,
         "invalid missed_runs supplied: 'all' (skip or run_once)"),
        (["name": "bad name", "cron": "@daily", "job": ["command": "ok", "nodes": ["web1"]]], 400, "invalid name supplied"),
        (["name": "x", "cron": "@daily", "job": ["command": "ok", "nodes": ["web1"]], "colour": "red"], 400, "invalid key supplied: 'colour'"),
        (["name": "dup", "cron": "@daily", "job": ["command": "ok", "nodes": ["web1"]]], 409, "schedule 'dup' already exists"),
    ]

    @Test func badSchedulesSayWhatIsWrong() async throws {
        try await RouterRig.run { rig in
            let admin = rig.admin
            try await rig.createNode("web1")
            try await admin.ok("POST", "pushy/schedules", json: ["name": "dup", "cron": "@daily", "job": ["command": "ok", "nodes": ["web1"]]])
            for (body, status, message) in Self.badSchedules {
                let r = try await admin.send("POST", "pushy/schedules", json: body)
                #expect(r.status == status && r.text.contains(message), "\(body.serialized()): \(r.status) \(r.text)")
            }
            #expect(try await admin.send("GET", "pushy/schedules/nope").status == 404)
            #expect(try await admin.send("GET", "pushy/schedules/dup/history?limit=0").status == 400)
        }
    }
}

extension Date {
    /// Whole seconds (run times are).
    func rounded() -> Date { Date(timeIntervalSince1970: timeIntervalSince1970.rounded(.down)) }
}
