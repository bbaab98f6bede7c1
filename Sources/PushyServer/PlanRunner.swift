import Foundation
import Logging
import PushyCore
import PushyProtocol
import PushyStore
import ServiceLifecycle

/// Runs orchestration plans (issue 14): each run drives a `PlanMachine`, starting each step's
/// job through `JobStarter` as the principal who started the run (their rights and the
/// templates' rules checked at each step), waiting for it, and feeding its end back. Every
/// change is written to the store and published as an SSE event (`step_start`,
/// `step_finished`, ...) to the run's feed.
actor PlanRunner {
    let store: any PushyStore
    let engine: CommandEngine
    let logger: Logger

    struct Live {
        var record: PlanRunRecord
        var machine: PlanMachine
        let spec: PlanSpec
        let values: [String: String]
        let principal: Principal
        var events: [FeedEvent] = []
        var subscribers: [UUID: AsyncStream<FeedEvent>.Continuation] = [:]
        var task: Task<Void, Never>?
    }

    var live: [String: Live] = [:]
    /// Finished runs still held (their feed replays in full), oldest first; past
    /// `finishedKept` the oldest is dropped (its feed is then a `summary` from the store).
    var finished: [String] = []
    /// Set at shutdown: no step starts, and step waits end.
    var stopping = false
    static let finishedKept = 100

    /// The organization whose superusers act in every organization.
    let defaultOrg: String?

    init(store: any PushyStore, engine: CommandEngine, logger: Logger = Logger(label: "pushy-plans"), defaultOrg: String? = nil) {
        self.defaultOrg = defaultOrg
        self.store = store
        self.engine = engine
        self.logger = logger
    }

    var starter: JobStarter { JobStarter(store: store, engine: engine) }

    static func machine(_ spec: PlanSpec) -> PlanMachine {
        PlanMachine(steps: spec.steps.map { s in
            var from: Int?
            if case .fromStep(let name) = s.target { from = spec.steps.firstIndex { $0.name == name } }
            return PlanMachine.StepPlan(name: s.name, fromStep: from, continueOnFailure: s.continueOnFailure, wait: s.wait)
        })
    }

    // MARK: Starting, aborting, reading

    /// Starts a run of `spec` with `values` for `p` and returns its record (status running).
    func start(_ spec: PlanSpec, values: [String: String], as p: Principal) async throws(APIError) -> PlanRunRecord {
        let id = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let machine = Self.machine(spec)
        let params = JSONValue.object(spec.parameters.compactMap { q in values[q.name].map { (q.name, .string($0)) } })
        let record = PlanRunRecord(id: id, org: p.org.name, plan: spec.name, definition: spec.json, parameters: params,
                                   requestor: p.name, status: "running", steps: Self.stepsJSON(spec, machine), createdAt: Date())
        do { try await store.savePlanRun(record) } catch { throw .from(error) }
        live[id] = Live(record: record, machine: machine, spec: spec, values: values, principal: p)
        publish(id, "plan_start", [("plan", .string(spec.name)), ("steps", .number(Double(spec.steps.count))),
                                   ("user", .string(p.name))])
        let task = Task { await self.drive(id) }
        live[id]?.task = task
        return record
    }

    /// Aborts a running run: its running step's job is aborted and nothing after it runs.
    /// Returns false when the run is not running here.
    func abort(org: String, id: String, by who: String) async -> Bool {
        guard let l = live[id], l.record.org == org, l.machine.status == .running else { return false }
        await apply(id, .abort(by: who))
        return true
    }

    /// The run as it is now (in memory while running, else from the store).
    func record(org: String, id: String) async throws(APIError) -> PlanRunRecord {
        if let l = live[id], l.record.org == org { return l.record }
        let r: PlanRunRecord?
        do { r = try await store.planRun(org: org, id: id) } catch { throw .from(error) }
        guard let r else { throw .notFound("plan run '\(id)' not found in organization '\(org)'") }
        return r
    }

    /// The events so far and, while the run goes on, the live ones.
    func subscribe(org: String, id: String) -> (replay: [FeedEvent], live: LiveFeed?)? {
        guard let l = live[id], l.record.org == org else { return nil }
        guard l.machine.status == .running else { return (l.events, nil) }
        let feed = LiveFeed()
        let token = UUID()
        live[id]?.subscribers[token] = feed.continuation
        feed.continuation.onTermination = { _ in Task { await self.unsubscribe(id, token) } }
        return (l.events, feed)
    }

    func unsubscribe(_ id: String, _ token: UUID) { live[id]?.subscribers[token] = nil }

    /// Ends every run's feed and stops driving (graceful shutdown); unfinished runs are failed
    /// at the next start.
    func shutdown() {
        stopping = true
        for (id, l) in live {
            l.task?.cancel()
            for c in l.subscribers.values { c.finish() }
            live[id]?.subscribers = [:]
        }
    }

    // MARK: Driving

    func drive(_ id: String) async {
        guard live[id] != nil else { return }
        let actions = live[id]!.machine.start()
        await persist(id)
        await perform(id, actions)
    }

    /// Feeds `event` to the run's machine, lets `announce` publish what changed (before the
    /// next step's events), and performs what the machine asks.
    func apply(_ id: String, _ event: PlanMachine.Event, announce: ((PlanMachine) -> Void)? = nil) async {
        guard live[id]?.machine.status == .running else { return }
        let actions = live[id]!.machine.handle(event)
        await persist(id)
        if let announce, let m = live[id]?.machine { announce(m) }
        await perform(id, actions)
    }

    func perform(_ id: String, _ actions: [PlanMachine.Action]) async {
        for action in actions {
            guard let l = live[id] else { return }
            switch action {
            case .wait(let step, let seconds):
                publish(id, "step_waiting", [("step", .number(Double(step + 1))), ("name", .string(l.spec.steps[step].name)),
                                             ("seconds", .number(seconds))])
                Task {
                    try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
                    await self.apply(id, .waitOver(step: step))
                }
            case .start(let step, let nodes):
                Task { await self.runStep(id, step, nodes: nodes) }
            case .abortJob(_, let jobId):
                _ = await engine.abortJob(org: l.record.org, id: jobId, requestor: l.principal.name)
            case .finished(let status):
                publish(id, "plan_finished", [("status", .string(status.rawValue))]
                    + (l.machine.reason.map { [("reason", JSONValue.string($0))] } ?? []))
                for c in l.subscribers.values { c.finish() }
                live[id]?.subscribers = [:]
                finished.append(id)
                while finished.count > Self.finishedKept { live[finished.removeFirst()] = nil }
                logger.info("plan run finished", metadata: ["pushy.plan_run": "\(id)", "pushy.status": "\(status.rawValue)"])
            }
        }
    }

    /// Starts one step's job, then waits for it to end and reports how.
    func runStep(_ id: String, _ index: Int, nodes: [String]?) async {
        // An abort (or the end of the run) may have come while this step's start was queued.
        guard let l = live[id], l.machine.status == .running, !stopping else { return }
        let step = l.spec.steps[index]
        let started: JobStarter.Started
        do {
            let source = try await self.source(step, values: l.values, nodes: nodes, org: l.record.org)
            // The caller as they are now (a user deleted during a long plan runs no further step).
            let who = try await starter.currentPrincipal(org: l.record.org, name: l.principal.name, defaultOrg: defaultOrg)
            started = try await starter.start(source, as: who, origin: "plan_run:\(id)")
        } catch {
            await apply(id, .startFailed(step: index, reason: error.message)) { m in
                self.publish(id, "step_finished", [("step", .number(Double(index + 1))), ("name", .string(step.name)),
                                                   ("status", .string(m.states[index].status.rawValue)),
                                                   ("reason", .string("not started: \(error.message)"))])
            }
            return
        }
        publish(id, "step_start", [("step", .number(Double(index + 1))), ("name", .string(step.name)), ("job", .string(started.id)),
                                   ("command", .string(started.job.command)), ("node_count", .number(Double(started.job.nodes.count)))])
        // An abort that came while the job was being started found no job to abort: abort it now.
        guard live[id]?.machine.status == .running, !stopping else {
            _ = await engine.abortJob(org: l.record.org, id: started.id, requestor: l.principal.name)
            return
        }
        await apply(id, .started(step: index, jobId: started.id))
        var view: JobView?
        while !Task.isCancelled, !stopping {
            await engine.waitUntilFinished(jobId: started.id, timeout: .seconds(30))
            if let v = await jobView(org: l.record.org, id: started.id), v.status.isTerminal {
                view = v
                break
            }
            // Not ended (or not readable): look again in a second, never in a tight loop (at
            // shutdown the engine's waits return at once).
            try? await Task.sleep(for: .seconds(1))
        }
        guard let view else { return }
        let ok = view.nodes?.first { $0.0 == .succeeded }?.1.sorted() ?? []
        let others = (view.nodes ?? []).filter { $0.0 != .succeeded }.flatMap(\.1).sorted()
        await apply(id, .jobEnded(step: index, status: view.status, succeeded: ok, others: others)) { m in
            let state = m.states[index]
            self.publish(id, "step_finished", [("step", .number(Double(index + 1))), ("name", .string(step.name)),
                                               ("job", .string(started.id)), ("job_status", .string(view.status.rawValue)),
                                               ("status", .string(state.status.rawValue)), ("succeeded", .number(Double(ok.count))),
                                               ("failed", .number(Double(others.count)))]
                         + (state.reason.map { [("reason", JSONValue.string($0))] } ?? []))
        }
    }

    func jobView(org: String, id: String) async -> JobView? {
        if let v = await engine.activeJobView(org: org, id: id) { return v }
        guard let r = try? await store.job(org: org, id: id) else { return nil }
        return PushyAPI.view(r, nodes: try? await store.jobNodes(jobId: id))
    }

    /// The step's job: plan parameters filled in, the target resolved (an earlier step's nodes,
    /// a node list, a search, or the template's own), the step's quorum and rate control applied.
    func source(_ step: PlanSpec.Step, values: [String: String], nodes: [String]?, org: String) async throws(APIError) -> JobStarter.Source {
        var narrowed = nodes
        var search: String?
        switch step.target {
        case .nodes(let list): narrowed = list.map { PlanSpec.fill($0, values) }
        case .search(let q): search = PlanSpec.fill(q, values)
        case .template, .fromStep: break
        }
        switch step.run {
        case .job(var job):
            job.command = PlanSpec.fill(job.command, values)
            if let narrowed { job.nodes = narrowed }
            return .spec(job, search: search)
        case .template(let name, let parameters):
            if let search { narrowed = try await starter.resolve(search: search, org: org, what: "step '\(step.name)''s search") }
            var adjust: JobRequest?
            let keys = Set(["quorum"]).union(RateControl.keys)
            let own = (step.json.objectValue ?? []).filter { keys.contains($0.0) }
            if !own.isEmpty {
                do { adjust = try JobRequest.parse(JSONValue.object([("command", "x"), ("nodes", ["x"])] + own).bytes) } catch {
                    throw .validation("step '\(step.name)': \(error.message)")
                }
            }
            var adjuster: (@Sendable (inout JobRequest) -> Void)?
            if let a = adjust {
                adjuster = { j in
                    if a.quorum != nil { j.quorum = a.quorum }
                    if a.rateControl != nil { j.rateControl = a.rateControl }
                }
            }
            return .template(name: name, parameters: parameters.map { ($0.0, .string(PlanSpec.fill($0.1, values))) },
                             nodes: narrowed, adjust: adjuster)
        }
    }

    // MARK: Record and feed

    static func stepsJSON(_ spec: PlanSpec, _ m: PlanMachine) -> JSONValue {
        .array(zip(spec.steps, m.states).map { step, s in
            var o: [(String, JSONValue)] = [("name", .string(step.name)), ("status", .string(s.status.rawValue))]
            if let j = s.jobId { o.append(("job", .string(j))) }
            if !s.succeeded.isEmpty || !s.failed.isEmpty {
                o += [("succeeded", .array(s.succeeded.map(JSONValue.string))), ("failed", .array(s.failed.map(JSONValue.string)))]
            }
            if let r = s.reason { o.append(("reason", .string(r))) }
            return .object(o)
        })
    }

    /// Writes the run's current state (status, reason, steps).
    func persist(_ id: String) async {
        guard var l = live[id] else { return }
        l.record.status = l.machine.status.rawValue
        l.record.reason = l.machine.reason
        l.record.steps = Self.stepsJSON(l.spec, l.machine)
        l.record.updatedAt = Date()
        live[id] = l
        do { try await store.savePlanRun(l.record) } catch {
            logger.error("plan run not written", metadata: ["pushy.plan_run": "\(id)", "pushy.error": "\(error)"])
        }
    }

    func publish(_ id: String, _ name: String, _ fields: [(String, JSONValue)]) {
        guard var l = live[id] else { return }
        let event = FeedEvent(name: name, id: "plan-\(l.events.count + 1)",
                              data: .object([("timestamp", .string(WireTime.feed(Date()))), ("run", .string(id))] + fields))
        l.events.append(event)
        for c in l.subscribers.values { c.yield(event) }
        live[id] = l
    }
}

/// Ends plan feeds at a graceful shutdown.
struct PlanRunnerService: Service {
    let runner: PlanRunner

    func run() async {
        guard (try? await gracefulShutdown()) != nil else { return }
        await runner.shutdown()
    }
}
