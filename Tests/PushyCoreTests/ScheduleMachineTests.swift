import Foundation
import Testing

@testable import PushyCore

/// The scheduler's decisions with the clock as a value: on time, paused, missed runs (skip,
/// run_once), overlap (skip, queue), one-shot, DST notes, a long outage.
@Suite(.timeLimit(.minutes(1)))
struct ScheduleMachineTests {
    typealias Action = ScheduleMachine.Action

    func cron(_ e: String, _ z: String = "UTC") throws -> ScheduleTiming { .cron(try CronExpression.parse(e), zone: zone(z)) }

    func step(_ m: ScheduleMachine, cursor: String, queued: String? = nil, now: String, paused: Bool = false,
              running: Bool = false) -> (ScheduleMachine.State, [Action]) {
        m.step(ScheduleMachine.State(cursor: utc(cursor), queued: queued.map(utc)), now: utc(now), paused: paused,
               previousRunning: running)
    }

    @Test func firesOnTimeOnce() throws {
        let m = ScheduleMachine(timing: try cron("* * * * *"))
        let (s0, a0) = step(m, cursor: "2026-01-01T10:00:00Z", now: "2026-01-01T10:00:59Z")
        #expect(a0.isEmpty && s0.cursor == utc("2026-01-01T10:00:00Z"))
        let (s1, a1) = step(m, cursor: "2026-01-01T10:00:00Z", now: "2026-01-01T10:01:00Z")
        #expect(a1 == [.fire(tick: utc("2026-01-01T10:01:00Z"), note: nil)])
        #expect(s1.cursor == utc("2026-01-01T10:01:00Z"))
        // The same moment again: the tick is behind the cursor, nothing fires twice.
        let (_, a2) = m.step(s1, now: utc("2026-01-01T10:01:30Z"), paused: false, previousRunning: false)
        #expect(a2.isEmpty)
    }

    @Test func pausedDropsRunTimes() throws {
        let m = ScheduleMachine(timing: try cron("*/5 * * * *"))
        let (s, a) = step(m, cursor: "2026-01-01T10:00:00Z", queued: "2026-01-01T10:00:00Z", now: "2026-01-01T11:02:00Z", paused: true)
        #expect(a.isEmpty)
        #expect(s == ScheduleMachine.State(cursor: utc("2026-01-01T11:00:00Z"), queued: nil))
        // Resumed: the next run time runs; the paused hour is not "missed".
        let (_, after) = m.step(s, now: utc("2026-01-01T11:05:10Z"), paused: false, previousRunning: false)
        #expect(after == [.fire(tick: utc("2026-01-01T11:05:00Z"), note: nil)])
    }

    @Test func missedRunsSkipByDefault() throws {
        let m = ScheduleMachine(timing: try cron("0 * * * *"))
        let (s, a) = step(m, cursor: "2026-01-01T09:00:00Z", now: "2026-01-01T12:30:00Z")
        #expect(a == [.skip(tick: utc("2026-01-01T12:00:00Z"),
                            reason: "missed 3 run(s) from 2026-01-01T10:00:00Z to 2026-01-01T12:00:00Z while the server was not running (missed_runs: skip)")])
        #expect(s.cursor == utc("2026-01-01T12:00:00Z"))
        let (_, one) = step(m, cursor: "2026-01-01T09:00:00Z", now: "2026-01-01T10:30:00Z")
        #expect(one == [.skip(tick: utc("2026-01-01T10:00:00Z"),
                              reason: "missed 1 run(s) at 2026-01-01T10:00:00Z while the server was not running (missed_runs: skip)")])
    }

    @Test func missedRunsRunOnce() throws {
        let m = ScheduleMachine(timing: try cron("0 * * * *"), missedRuns: .runOnce)
        let (s, a) = step(m, cursor: "2026-01-01T09:00:00Z", now: "2026-01-01T12:30:00Z")
        #expect(a == [
            .skip(tick: utc("2026-01-01T11:00:00Z"),
                  reason: "missed 2 earlier run(s) from 2026-01-01T10:00:00Z to 2026-01-01T11:00:00Z while the server was not running; only the latest runs (missed_runs: run_once)"),
            .fire(tick: utc("2026-01-01T12:00:00Z"), note: nil),
        ])
        #expect(s.cursor == utc("2026-01-01T12:00:00Z"))
        let (_, single) = step(m, cursor: "2026-01-01T09:00:00Z", now: "2026-01-01T10:30:00Z")
        #expect(single == [.fire(tick: utc("2026-01-01T10:00:00Z"), note: nil)])
    }

    /// Missed runs and an on-time one: the missed are skipped whatever the policy, the on-time one runs.
    @Test func missedThenOnTime() throws {
        for policy in MissedRunPolicy.allCases {
            let m = ScheduleMachine(timing: try cron("*/10 * * * *"), missedRuns: policy)
            let (_, a) = step(m, cursor: "2026-01-01T10:00:00Z", now: "2026-01-01T10:30:20Z")
            #expect(a == [
                .skip(tick: utc("2026-01-01T10:20:00Z"),
                      reason: "missed 2 run(s) from 2026-01-01T10:10:00Z to 2026-01-01T10:20:00Z while the server was not running (a later run time is due now)"),
                .fire(tick: utc("2026-01-01T10:30:00Z"), note: nil),
            ])
        }
    }

    @Test func overlapSkip() throws {
        let m = ScheduleMachine(timing: try cron("0 * * * *"))
        let (s, a) = step(m, cursor: "2026-01-01T10:00:00Z", now: "2026-01-01T11:00:05Z", running: true)
        #expect(a == [.skip(tick: utc("2026-01-01T11:00:00Z"), reason: "the previous run was still going (overlap: skip)")])
        #expect(s.cursor == utc("2026-01-01T11:00:00Z") && s.queued == nil)
    }

    @Test func overlapQueueKeepsOne() throws {
        let m = ScheduleMachine(timing: try cron("0 * * * *"), overlap: .queue)
        let (s1, a1) = step(m, cursor: "2026-01-01T10:00:00Z", now: "2026-01-01T11:00:05Z", running: true)
        #expect(a1 == [.queue(tick: utc("2026-01-01T11:00:00Z"))])
        #expect(s1.queued == utc("2026-01-01T11:00:00Z"))
        // Still running at the next hour: one waits already, this one is skipped.
        let (s2, a2) = m.step(s1, now: utc("2026-01-01T12:00:01Z"), paused: false, previousRunning: true)
        #expect(a2 == [.skip(tick: utc("2026-01-01T12:00:00Z"),
                             reason: "a run was already waiting for the previous one to end (overlap: queue keeps one)")])
        // The previous job ended: the queued run starts.
        let (s3, a3) = m.step(s2, now: utc("2026-01-01T12:10:00Z"), paused: false, previousRunning: false)
        #expect(a3 == [.fire(tick: utc("2026-01-01T11:00:00Z"), note: "waited for the previous run to end (overlap: queue)")])
        #expect(s3.queued == nil)
        // The queued run starting and a new run time at once: the new one queues behind it.
        let (s4, a4) = m.step(s2, now: utc("2026-01-01T13:00:02Z"), paused: false, previousRunning: false)
        #expect(a4 == [.fire(tick: utc("2026-01-01T11:00:00Z"), note: "waited for the previous run to end (overlap: queue)"),
                       .queue(tick: utc("2026-01-01T13:00:00Z"))])
        #expect(s4.queued == utc("2026-01-01T13:00:00Z"))
    }

    @Test func oneShot() throws {
        let at = utc("2026-01-01T10:00:05Z")
        let m = ScheduleMachine(timing: .at(at))
        #expect(step(m, cursor: "2026-01-01T09:59:00Z", now: "2026-01-01T10:00:04Z").1.isEmpty)
        let (s, a) = step(m, cursor: "2026-01-01T09:59:00Z", now: "2026-01-01T10:00:06Z")
        #expect(a == [.fire(tick: at, note: nil)])
        #expect(m.step(s, now: utc("2026-01-02T00:00:00Z"), paused: false, previousRunning: false).1.isEmpty)
        #expect(m.timing.next(after: s.cursor) == nil)
        // Missed while the server was down: skipped by default, run with run_once.
        #expect(step(m, cursor: "2026-01-01T09:59:00Z", now: "2026-01-01T11:00:00Z").1
            == [.skip(tick: at, reason: "missed 1 run(s) at 2026-01-01T10:00:05Z while the server was not running (missed_runs: skip)")])
        let late = ScheduleMachine(timing: .at(at), missedRuns: .runOnce)
        #expect(step(late, cursor: "2026-01-01T09:59:00Z", now: "2026-01-01T11:00:00Z").1 == [.fire(tick: at, note: nil)])
    }

    @Test func daylightSavingGapNotePassesThrough() throws {
        let m = ScheduleMachine(timing: try cron("30 2 * * *", "Europe/Berlin"))
        let (_, a) = step(m, cursor: "2026-03-29T00:00:00Z", now: "2026-03-29T01:00:30Z")
        #expect(a == [.fire(tick: utc("2026-03-29T01:00:00Z"),
                            note: "02:30 does not exist on 2026-03-29 in Europe/Berlin (the clocks skip from 02:00 to 03:00); run once at 03:00")])
    }

    /// Every minute, the server down for a month: one skip row, the on-time run, found quickly.
    @Test func longOutage() throws {
        let m = ScheduleMachine(timing: try cron("* * * * *"))
        let (s, a) = step(m, cursor: "2026-01-01T00:00:00Z", now: "2026-02-01T00:00:30Z")
        #expect(a.count == 2)
        if case .skip(_, let reason) = a.first {
            #expect(reason == "missed more than 1000 run(s) from 2026-01-01T00:01:00Z on while the server was not running (a later run time is due now)")
        } else { Issue.record("expected a skip first: \(a)") }
        #expect(a.last == .fire(tick: utc("2026-02-01T00:00:00Z"), note: nil))
        #expect(s.cursor == utc("2026-02-01T00:00:00Z"))
    }

    @Test func upcomingRunTimes() throws {
        let t = try cron("0 9 * * mon-fri", "America/New_York")
        #expect(t.upcoming(after: utc("2026-01-02T15:00:00Z"), count: 3).map { ScheduleMachine.stamp($0.at) }
            == ["2026-01-05T14:00:00Z", "2026-01-06T14:00:00Z", "2026-01-07T14:00:00Z"])
        #expect(ScheduleTiming.at(utc("2026-01-01T00:00:00Z")).upcoming(after: utc("2026-01-02T00:00:00Z"), count: 3).isEmpty)
    }
}
