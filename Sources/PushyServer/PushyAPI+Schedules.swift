import Foundation
import Hummingbird
import PushyCore
import PushyProtocol
import PushyStore

/// Schedules (issue 14): a template or a job spec run on a cron expression in a time zone, or
/// once at an instant, as its owner. Readers read; job writers, admins and the principals who
/// may run the schedule's template create and change them.
extension PushyAPI {
    /// How many run times `GET` shows ahead.
    static let nextRunsShown = 5

    // MARK: Views

    /// The schedule as stored, plus owner, state and its next run times after `now`.
    static func scheduleJSON(_ s: ScheduleRecord, spec: ScheduleSpec?, now: Date, upcoming: Int) -> JSONValue {
        var o = spec?.json.objectValue ?? [("name", .string(s.name))]
        o += [("owner", .string(s.owner)), ("paused", .bool(s.paused)),
              ("created_at", .string(WireTime.iso8601(s.createdAt))), ("updated_at", .string(WireTime.iso8601(s.updatedAt)))]
        if let q = s.queued { o.append(("queued", .string(WireTime.iso8601(q)))) }
        var next: [JSONValue] = []
        if let spec, !s.paused, let timing = try? Scheduler.timing(spec) {
            for r in timing.upcoming(after: max(s.cursor, now), count: upcoming) {
                var run: [(String, JSONValue)] = [("at", .string(WireTime.iso8601(r.at)))]
                if case .cron(_, let zone) = spec.when {
                    run.append(("local", .string("\(r.local) \(zone)")))
                }
                if let note = r.note { run.append(("note", .string(note))) }
                next.append(.object(run))
            }
        }
        o.append(("next_runs", .array(next)))
        return .object(o)
    }

    func loadSchedule(org: String, name: String) async throws(APIError) -> (ScheduleRecord, ScheduleSpec) {
        let record: ScheduleRecord?
        do { record = try await store.schedule(org: org, name: name) } catch { throw .from(error) }
        guard let record else { throw .notFound("schedule '\(name)' not found in organization '\(org)'") }
        do { return (record, try ScheduleSpec.parse(record.definition)) } catch {
            throw .internalError("stored schedule '\(name)' is unreadable: \(error.message)")
        }
    }

    // MARK: Rights

    /// Creating and changing a schedule: job writers and admins; for a template schedule also
    /// those who may run the template (its rules as they are now).
    func requireScheduleWriter(_ p: Principal, _ spec: ScheduleSpec, action: String) async throws(APIError) {
        if p.isSuperuser { return }
        let rules = try await accessRules(p.org.name)
        if rules.canWrite(p.member) || rules.isAdmin(p.member) { return }
        // A job-spec schedule is a job writer's business, as POST /jobs is (the reference's 403).
        guard case .template(let name, _, _) = spec.run else { throw denied(p) }
        let (record, t) = try await starter.loadTemplate(org: p.org.name, name: name)
        guard TemplateRights(p, t, createdBy: record.createdBy, rules: rules).mayRun else {
            throw .forbidden("\(p.name) may not \(action) schedule '\(spec.name)' (not a job writer, not in the run access of its template '\(name)')")
        }
    }

    /// Reading: job readers, plus whoever may change the schedule.
    func requireScheduleReader(_ p: Principal, _ spec: ScheduleSpec) async throws(APIError) {
        if p.isSuperuser { return }
        if try await accessRules(p.org.name).canRead(p.member) { return }
        do { try await requireScheduleWriter(p, spec, action: "read") } catch { throw denied(p) }
    }

    // MARK: Handlers

    /// `GET .../schedules`: every schedule with its next run time.
    func listSchedules(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org")
        try await requireReader(try await authenticate(request, org: orgName, body: body))
        let records: [ScheduleRecord]
        do { records = try await store.listSchedules(org: orgName) } catch { throw .from(error) }
        let now = Date()
        return .json(.array(records.map { r in
            Self.scheduleJSON(r, spec: try? ScheduleSpec.parse(r.definition), now: now, upcoming: 1)
        }))
    }

    /// `POST .../schedules`: a new schedule owned by the caller.
    func createSchedule(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org")
        let p = try await authenticate(request, org: orgName, body: body)
        try requireJSONBody(request)
        let spec: ScheduleSpec
        let timing: ScheduleTiming
        do {
            spec = try ScheduleSpec.parse(body)
            timing = try Scheduler.timing(spec)
        } catch { throw .validation(error.message) }
        try await requireScheduleWriter(p, spec, action: "create")
        let now = Date()
        // What would fail at run time for a reason the caller can fix now fails now.
        switch spec.run {
        case .template(let name, let parameters, _):
            let (_, t) = try await starter.authorizeTemplate(name: name, org: orgName, as: p)
            do { _ = try t.instantiate(parameters) } catch { throw .validation(error.message) }
        case .job(let job):
            try await starter.authorizeSpec(p)
            try await checkNodesKnown(org: orgName, job.nodes)
        }
        if case .at(let d) = spec.when, d <= now {
            throw .validation("at \(WireTime.iso8601(d)) is in the past (now is \(WireTime.iso8601(now))); give a later time")
        }
        guard timing.next(after: now) != nil else { throw .validation("the schedule would never run") }
        let record = ScheduleRecord(
            id: UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased(), org: orgName, name: spec.name,
            owner: p.name, definition: spec.json, cursor: now, createdAt: now)
        do { try await store.createSchedule(record) } catch {
            if error.kind == .duplicate { throw .conflict("schedule '\(spec.name)' already exists in organization '\(orgName)' (delete it first, or pick another name)") }
            throw .from(error)
        }
        await audit(p, request, context, "schedule.created", target: "schedule:\(spec.name)", detail: Self.summary(spec))
        let uri = jobURI(request, org: orgName, id: "").replacingOccurrences(of: "/pushy/jobs/", with: "/pushy/schedules/") + spec.name
        return .json(Self.scheduleJSON(record, spec: spec, now: now, upcoming: Self.nextRunsShown), status: .created,
                     headers: [.location: uri])
    }

    /// One line for the audit log: when and what.
    static func summary(_ spec: ScheduleSpec) -> String {
        let when: String
        switch spec.when {
        case .cron(let e, let z): when = "cron '\(e)' in \(z)"
        case .at(let d): when = "once at \(WireTime.iso8601(d))"
        }
        let what: String
        switch spec.run {
        case .template(let name, let p, _):
            what = "template '\(name)'" + (p.isEmpty ? "" : " (" + p.map { "\($0.0)=\($0.1.stringValue ?? $0.1.serialized())" }.joined(separator: " ") + ")")
        case .job(let j): what = "command '\(j.command)' on \(j.nodes.count) node(s)"
        }
        return "\(when): \(what); missed_runs \(spec.missedRuns), overlap \(spec.overlap)"
    }

    /// `GET .../schedules/{name}`: the schedule and its next run times.
    func getSchedule(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org"), name = param(context, "name")
        let p = try await authenticate(request, org: orgName, body: body)
        let (record, spec) = try await loadSchedule(org: orgName, name: name)
        try await requireScheduleReader(p, spec)
        var o = Self.scheduleJSON(record, spec: spec, now: Date(), upcoming: Self.nextRunsShown).objectValue ?? []
        if let last = try? await store.scheduleRuns(scheduleId: record.id, limit: 1).first {
            o.append(("last_run", await runJSON(last, org: orgName)))
        }
        return .json(.object(o))
    }

    /// `DELETE .../schedules/{name}`: the schedule and its history (its jobs stay).
    func deleteSchedule(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org"), name = param(context, "name")
        let p = try await authenticate(request, org: orgName, body: body)
        let (_, spec) = try await loadSchedule(org: orgName, name: name)
        try await requireScheduleWriter(p, spec, action: "delete")
        do { _ = try await store.deleteSchedule(org: orgName, name: name) } catch { throw .from(error) }
        await audit(p, request, context, "schedule.deleted", target: "schedule:\(name)", detail: Self.summary(spec))
        return .json(["name": .string(name), "deleted": true])
    }

    /// `PUT .../schedules/{name}/pause`: no run starts until resumed; run times meanwhile are dropped.
    func pauseSchedule(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        try await setPaused(true, request, context, body)
    }

    /// `PUT .../schedules/{name}/resume`: runs again from the next run time after now.
    func resumeSchedule(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        try await setPaused(false, request, context, body)
    }

    func setPaused(_ paused: Bool, _ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org"), name = param(context, "name")
        let p = try await authenticate(request, org: orgName, body: body)
        var (record, spec) = try await loadSchedule(org: orgName, name: name)
        try await requireScheduleWriter(p, spec, action: paused ? "pause" : "resume")
        let now = Date()
        if record.paused != paused {
            record.paused = paused
            record.updatedAt = now
            // Resuming starts from now: the paused time is not "missed".
            if !paused { record.cursor = max(record.cursor, now) }
            record.queued = nil
            do { try await store.updateSchedule(record) } catch { throw .from(error) }
            await audit(p, request, context, paused ? "schedule.paused" : "schedule.resumed", target: "schedule:\(name)")
        }
        return .json(Self.scheduleJSON(record, spec: spec, now: now, upcoming: Self.nextRunsShown))
    }

    /// `GET .../schedules/{name}/history[?limit=N]`: the newest runs first, each with its job's status.
    func scheduleHistory(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org"), name = param(context, "name")
        let p = try await authenticate(request, org: orgName, body: body)
        let (record, spec) = try await loadSchedule(org: orgName, name: name)
        try await requireScheduleReader(p, spec)
        var limit = 20
        if let text = request.uri.queryParameters.get("limit") {
            guard let n = Int(String(text)), n >= 1, n <= Scheduler.historyKept else {
                throw .badRequest("'limit' must be a whole number from 1 to \(Scheduler.historyKept)")
            }
            limit = n
        }
        let runs: [ScheduleRunRecord]
        do { runs = try await store.scheduleRuns(scheduleId: record.id, limit: limit) } catch { throw .from(error) }
        var out: [JSONValue] = []
        for r in runs { out.append(await runJSON(r, org: orgName)) }
        return .json(.object([("name", .string(name)), ("runs", .array(out))]))
    }

    /// One run: its time, outcome, reason, and its job's status when it started one.
    func runJSON(_ r: ScheduleRunRecord, org: String) async -> JSONValue {
        var o: [(String, JSONValue)] = [
            ("tick", .string(WireTime.iso8601(r.tick))), ("decided_at", .string(WireTime.iso8601(r.at))),
            ("outcome", .string(r.outcome.rawValue)),
        ]
        if let id = r.jobId {
            o.append(("job", .string(id)))
            if let v = try? await jobView(org: org, id: id) { o.append(("job_status", .string(v.status.rawValue))) }
        }
        if let reason = r.reason { o.append(("reason", .string(reason))) }
        return .object(o)
    }
}
