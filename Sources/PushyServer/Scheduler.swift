import Foundation
import Logging
import PushyCore
import PushyProtocol
import PushyStore
import ServiceLifecycle
import Synchronization

/// Runs the stored schedules (issue 14). Each pass reads every schedule, asks its
/// `ScheduleMachine` what is due at `now`, takes each due run time by inserting its row (the
/// store's UNIQUE key: a run time another server or an earlier life of this one took is left
/// alone) and starts the job through `JobStarter` as the schedule's owner, with the owner's
/// rights and the template's rules as they are at that moment. A refused or failed start is
/// recorded in the history with the reason. Time comes from `clock`, so tests drive passes
/// by hand.
final class Scheduler: Sendable {
    let store: any PushyStore
    let engine: CommandEngine
    let clock: @Sendable () -> Date
    let logger: Logger
    /// The organization whose superusers act in every organization (a superuser's schedule in
    /// another org runs as them).
    let defaultOrg: String?
    /// Runs kept per schedule.
    static let historyKept = 200
    /// Each schedule's newest started job (id), for the overlap policy: the history alone can
    /// hold only skipped rows after a long job (and is pruned).
    let lastJob = Mutex<[String: String]>([:])

    init(store: any PushyStore, engine: CommandEngine, clock: @escaping @Sendable () -> Date = { Date() },
         logger: Logger = Logger(label: "pushy-scheduler"), defaultOrg: String? = nil) {
        self.defaultOrg = defaultOrg
        self.store = store
        self.engine = engine
        self.clock = clock
        self.logger = logger
    }

    var starter: JobStarter { JobStarter(store: store, engine: engine) }

    /// One pass over every schedule at `now` (the clock's time by default).
    func pass(now: Date? = nil) async {
        let now = now ?? clock()
        let all: [ScheduleRecord]
        do { all = try await store.allSchedules() } catch {
            // A read cut short by shutdown is not an error (the SIGTERM fault test saw it logged as one).
            if Task.isCancelled { return }
            logger.error("scheduler cannot read schedules", metadata: ["pushy.error": "\(error)"])
            return
        }
        for s in all where !Task.isCancelled { await step(s, now: now) }
    }

    func step(_ s: ScheduleRecord, now: Date) async {
        let spec: ScheduleSpec, machine: ScheduleMachine
        do {
            spec = try ScheduleSpec.parse(s.definition)
            machine = try Self.machine(spec)
        } catch {
            logger.error("stored schedule is unreadable; skipped", metadata: [
                "pushy.schedule": "\(s.org)/\(s.name)", "pushy.error": "\(error)",
            ])
            return
        }
        let running = await previousRunning(s)
        let before = ScheduleMachine.State(cursor: s.cursor, queued: s.queued)
        let (after, actions) = machine.step(before, now: now, paused: s.paused, previousRunning: running)
        for action in actions {
            switch action {
            case .fire(let tick, let note): await fire(s, spec, tick: tick, note: note, now: now)
            case .skip(let tick, let reason):
                _ = try? await store.claimScheduleRun(
                    ScheduleRunRecord(scheduleId: s.id, tick: tick, at: now, outcome: .skipped, reason: reason), keep: Self.historyKept)
            case .queue: break  // kept in the schedule's progress below
            }
        }
        if after != before {
            // Not written when the schedule was paused, resumed or edited since it was read: the
            // next pass starts from what the person set.
            do { try await store.setScheduleProgress(id: s.id, cursor: after.cursor, queued: after.queued, readUpdatedAt: s.updatedAt) } catch {
                logger.error("schedule progress not written", metadata: ["pushy.schedule": "\(s.org)/\(s.name)", "pushy.error": "\(error)"])
            }
        }
    }

    /// Takes the run time, then starts its job as the owner; records what happened.
    func fire(_ s: ScheduleRecord, _ spec: ScheduleSpec, tick: Date, note: String?, now: Date) async {
        var run = ScheduleRunRecord(scheduleId: s.id, tick: tick, at: now, outcome: .starting, reason: note)
        do {
            guard try await store.claimScheduleRun(run, keep: Self.historyKept) else { return }
        } catch {
            logger.error("schedule run not claimed", metadata: ["pushy.schedule": "\(s.org)/\(s.name)", "pushy.error": "\(error)"])
            return
        }
        do {
            let owner = try await principal(s)
            let started = try await starter.start(Self.source(spec), as: owner, origin: "schedule:\(s.name)")
            run.outcome = .started
            run.jobId = started.id
            lastJob.withLock { $0[s.id] = started.id }
            let what = started.template.map { "template '\($0)' version \(started.templateVersion ?? 1)" } ?? "command '\(started.job.command)'"
            await audit(s, "schedule.run", target: "job:\(started.id)",
                        detail: "schedule '\(s.name)' run time \(WireTime.iso8601(tick)): \(what) on \(started.job.nodes.count) node(s)")
            logger.info("scheduled job started", metadata: ["pushy.schedule": "\(s.org)/\(s.name)", "pushy.job": "\(started.id)"])
        } catch {
            if case .forbidden = error { run.outcome = .refused } else { run.outcome = .failed }
            run.reason = (run.outcome == .refused ? "refused: " : "not started: ") + error.message
            await audit(s, run.outcome == .refused ? "schedule.refused" : "schedule.failed", target: "schedule:\(s.name)",
                        detail: "run time \(WireTime.iso8601(tick)): \(error.message)")
            logger.warning("scheduled run not started", metadata: [
                "pushy.schedule": "\(s.org)/\(s.name)", "pushy.reason": "\(error.message)",
            ])
        }
        do { try await store.updateScheduleRun(run) } catch {
            logger.error("schedule run outcome not written", metadata: ["pushy.schedule": "\(s.org)/\(s.name)", "pushy.error": "\(error)"])
        }
    }

    /// The owner as a principal of the schedule's org, as they are now.
    func principal(_ s: ScheduleRecord) async throws(APIError) -> Principal {
        do { return try await starter.currentPrincipal(org: s.org, name: s.owner, defaultOrg: defaultOrg) } catch {
            if case .forbidden = error { throw .forbidden("the owner '\(s.owner)' no longer exists in organization '\(s.org)'") }
            throw error
        }
    }

    /// Whether the schedule's newest started job is still going (remembered when started; after
    /// a restart, the newest history row with a job, whatever number of skipped rows came since).
    func previousRunning(_ s: ScheduleRecord) async -> Bool {
        var id = lastJob.withLock { $0[s.id] }
        if id == nil, let runs = try? await store.scheduleRuns(scheduleId: s.id, limit: Self.historyKept) {
            id = runs.first(where: { $0.jobId != nil })?.jobId
        }
        guard let id, let live = await engine.activeJobSnapshot(org: s.org, id: id) else { return false }
        return !live.view(includeNodes: false).status.isTerminal
    }

    func audit(_ s: ScheduleRecord, _ action: String, target: String, detail: String) async {
        let entry = AuditRecord(at: clock(), org: s.org, actor: s.owner, actorType: "schedule", action: action, target: target,
                                detail: detail, remoteAddress: "scheduler")
        do { try await store.appendAudit(entry) } catch {
            logger.error("audit entry not written", metadata: ["pushy.action": "\(action)", "pushy.error": "\(error)"])
        }
    }

    // MARK: From the spec

    struct InvalidSchedule: Error, CustomStringConvertible {
        let description: String
    }

    /// The spec's timing and policies; errors say what is wrong (the REST API answers 400 with them).
    static func machine(_ spec: ScheduleSpec) throws(JobValidationError) -> ScheduleMachine {
        ScheduleMachine(timing: try timing(spec), missedRuns: MissedRunPolicy(rawValue: spec.missedRuns) ?? .skip,
                        overlap: OverlapPolicy(rawValue: spec.overlap) ?? .skip)
    }

    static func timing(_ spec: ScheduleSpec) throws(JobValidationError) -> ScheduleTiming {
        switch spec.when {
        case .at(let d): return .at(d)
        case .cron(let text, let zoneName):
            guard let zone = TimeZone(identifier: zoneName) else {
                throw JobValidationError("invalid time_zone supplied: '\(zoneName)' (an IANA zone name such as Europe/Berlin, America/New_York or UTC)")
            }
            do { return .cron(try CronExpression.parse(text), zone: zone) } catch {
                throw JobValidationError("invalid cron supplied: \(error.message)")
            }
        }
    }

    static func source(_ spec: ScheduleSpec) -> JobStarter.Source {
        switch spec.run {
        case .template(let name, let parameters, let nodes): .template(name: name, parameters: parameters, nodes: nodes)
        case .job(let job): .spec(job, search: nil)
        }
    }
}

/// The scheduler's loop: a pass a second until shutdown.
struct SchedulerService: Service {
    let scheduler: Scheduler
    var period: Duration = .seconds(1)

    func run() async {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await scheduler.pass()
                try? await Task.sleep(for: period)
            }
        }
    }
}
