import Foundation
import Hummingbird
import PushyCore
import PushyProtocol
import PushyStore

/// Orchestration plans (issue 14): stored plans (`/pushy/plans`), their runs
/// (`/pushy/plan_runs`), abort and an SSE feed of step events. Readers read; job writers create,
/// delete and run plans, and so may a principal allowed to run every template a plan uses.
extension PushyAPI {
    func planRunner() throws(APIError) -> PlanRunner {
        guard let plans else { throw .storeUnavailable("plans are not enabled on this server") }
        return plans
    }

    /// Running a plan: job writers and admins; otherwise every step must be a template the
    /// principal may run (each step checks again when it starts).
    func requirePlanRunner(_ p: Principal, _ spec: PlanSpec) async throws(APIError) {
        if p.isSuperuser { return }
        let rules = try await accessRules(p.org.name)
        if rules.canWrite(p.member) || rules.isAdmin(p.member) { return }
        for step in spec.steps {
            guard case .template(let name, _) = step.run else { throw denied(p) }
            let (record, t) = try await starter.loadTemplate(org: p.org.name, name: name)
            guard TemplateRights(p, t, createdBy: record.createdBy, rules: rules).mayRun else {
                throw .forbidden("\(p.name) may not run plan '\(spec.name)' (not a job writer, not in the run access of template '\(name)' of step '\(step.name)')")
            }
        }
    }

    static func planJSON(_ r: PlanRecord) -> JSONValue {
        var o = r.definition.objectValue ?? []
        o += [("created_by", .string(r.createdBy)), ("created_at", .string(WireTime.iso8601(r.createdAt)))]
        return .object(o)
    }

    static func planRunJSON(_ r: PlanRunRecord) -> JSONValue {
        var o: [(String, JSONValue)] = [
            ("id", .string(r.id)), ("plan", .string(r.plan)), ("status", .string(r.status)), ("user", .string(r.requestor)),
            ("parameters", r.parameters), ("created_at", .string(WireTime.iso8601(r.createdAt))),
            ("updated_at", .string(WireTime.iso8601(r.updatedAt))), ("steps", r.steps),
        ]
        if let reason = r.reason { o.insert(("reason", .string(reason)), at: 3) }
        return .object(o)
    }

    func planRunURI(_ request: Request, org: String, id: String) -> String {
        jobURI(request, org: org, id: "").replacingOccurrences(of: "/pushy/jobs/", with: "/pushy/plan_runs/") + id
    }

    // MARK: Plans

    func listPlans(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org")
        try await requireReader(try await authenticate(request, org: orgName, body: body))
        let records: [PlanRecord]
        do { records = try await store.listPlans(org: orgName) } catch { throw .from(error) }
        return .json(.array(records.map(Self.planJSON)))
    }

    func createPlan(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org")
        let p = try await authenticate(request, org: orgName, body: body)
        try await requireWriter(p)
        try requireJSONBody(request)
        let spec: PlanSpec
        do { spec = try PlanSpec.parse(body) } catch { throw .validation(error.message) }
        let record = PlanRecord(org: orgName, name: spec.name, definition: spec.json, createdBy: p.name, createdAt: Date())
        do { try await store.createPlan(record) } catch {
            if error.kind == .duplicate { throw .conflict("plan '\(spec.name)' already exists in organization '\(orgName)' (delete it first, or pick another name)") }
            throw .from(error)
        }
        await audit(p, request, context, "plan.created", target: "plan:\(spec.name)", detail: "\(spec.steps.count) step(s)")
        let uri = jobURI(request, org: orgName, id: "").replacingOccurrences(of: "/pushy/jobs/", with: "/pushy/plans/") + spec.name
        return .json(["uri": .string(uri), "name": .string(spec.name), "steps": .number(Double(spec.steps.count))],
                     status: .created, headers: [.location: uri])
    }

    func loadPlan(org: String, name: String) async throws(APIError) -> (PlanRecord, PlanSpec) {
        let record: PlanRecord?
        do { record = try await store.plan(org: org, name: name) } catch { throw .from(error) }
        guard let record else { throw .notFound("plan '\(name)' not found in organization '\(org)'") }
        do { return (record, try PlanSpec.parse(record.definition)) } catch {
            throw .internalError("stored plan '\(name)' is unreadable: \(error.message)")
        }
    }

    func getPlan(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org"), name = param(context, "name")
        try await requireReader(try await authenticate(request, org: orgName, body: body))
        return .json(Self.planJSON(try await loadPlan(org: orgName, name: name).0))
    }

    func deletePlan(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org"), name = param(context, "name")
        let p = try await authenticate(request, org: orgName, body: body)
        try await requireWriter(p)
        _ = try await loadPlan(org: orgName, name: name)
        do { _ = try await store.deletePlan(org: orgName, name: name) } catch { throw .from(error) }
        await audit(p, request, context, "plan.deleted", target: "plan:\(name)")
        return .json(["name": .string(name), "deleted": true])
    }

    // MARK: Runs

    /// `POST .../plans/{name}/run` `{"parameters": {...}}`.
    func runPlan(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org"), name = param(context, "name")
        let p = try await authenticate(request, org: orgName, body: body)
        let (_, spec) = try await loadPlan(org: orgName, name: name)
        try await requirePlanRunner(p, spec)
        if !body.isEmpty { try requireJSONBody(request) }
        let v: JSONValue = body.allSatisfy({ $0 == 32 || $0 == 10 || $0 == 13 || $0 == 9 }) ? .object([]) : try parseJSON(body)
        return try await startPlanRun(spec, parameters: v["parameters"], p, request, context)
    }

    /// `POST .../plan_runs` `{"plan": {...}, "parameters": {...}}`: a plan from a file, not stored.
    func runPlanFromBody(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org")
        let p = try await authenticate(request, org: orgName, body: body)
        try requireJSONBody(request)
        let v = try parseJSON(body)
        guard let planValue = v["plan"] else { throw .validation("the body needs 'plan' (the plan as JSON) and may have 'parameters'") }
        let spec: PlanSpec
        do { spec = try PlanSpec.parse(planValue) } catch { throw .validation(error.message) }
        try await requirePlanRunner(p, spec)
        return try await startPlanRun(spec, parameters: v["parameters"], p, request, context)
    }

    func startPlanRun(_ spec: PlanSpec, parameters: JSONValue?, _ p: Principal, _ request: Request, _ context: Context)
        async throws(APIError) -> Response {
        var given: [(String, String)] = []
        if let parameters {
            guard let o = parameters.objectValue else { throw .validation("'parameters' must be an object of name → value") }
            given = o.map { ($0.0, $0.1.stringValue ?? $0.1.serialized()) }
        }
        let values: [String: String]
        do { values = try spec.values(given) } catch { throw .validation(error.message) }
        let run = try await planRunner().start(spec, values: values, as: p)
        await audit(p, request, context, "plan.run", target: "plan_run:\(run.id)",
                    detail: "plan '\(spec.name)' (\(values.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")))")
        let uri = planRunURI(request, org: p.org.name, id: run.id)
        return .json(Self.planRunJSON(run), status: .created, headers: [.location: uri])
    }

    func listPlanRuns(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org")
        try await requireReader(try await authenticate(request, org: orgName, body: body))
        let records: [PlanRunRecord]
        do { records = try await store.listPlanRuns(org: orgName, limit: 100) } catch { throw .from(error) }
        var out: [JSONValue] = []
        for r in records { out.append(Self.planRunJSON((try? await planRunner().record(org: orgName, id: r.id)) ?? r)) }
        return .json(.array(out))
    }

    func getPlanRun(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org"), id = param(context, "id")
        try await requireReader(try await authenticate(request, org: orgName, body: body))
        return .json(Self.planRunJSON(try await planRunner().record(org: orgName, id: id)))
    }

    /// `PUT .../plan_runs/{id}/abort`: job writers, and whoever started the run.
    func abortPlanRun(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org"), id = param(context, "id")
        let p = try await authenticate(request, org: orgName, body: body)
        let runner = try planRunner()
        let run = try await runner.record(org: orgName, id: id)
        if run.requestor != p.name { try await requireWriter(p) }
        if await runner.abort(org: orgName, id: id, by: p.name) {
            await audit(p, request, context, "plan_run.aborted", target: "plan_run:\(id)")
        }
        return .json(Self.planRunJSON(try await runner.record(org: orgName, id: id)))
    }

    /// `GET .../plan_runs/{id}/feed`: the run's events so far, then live ones until it ends; a
    /// finished run no longer in memory gets one `summary` event.
    func planRunFeed(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org"), id = param(context, "id")
        try await requireReader(try await authenticate(request, org: orgName, body: body))
        let runner = try planRunner()
        if let sub = await runner.subscribe(org: orgName, id: id) {
            return sse(replay: sub.replay, live: sub.live, endless: false)
        }
        let run = try await runner.record(org: orgName, id: id)
        return sse(replay: [FeedEvent(name: "summary", id: "plan-1", data: Self.planRunJSON(run))], live: nil, endless: false)
    }
}
