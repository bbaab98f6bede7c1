import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PushyCore
import PushyProtocol
import PushyStore
import PushyZMQ

/// The REST API (spec 2) plus the inventory endpoints that replace the Chef server (spec 12.12).
struct PushyAPI: Sendable {
    typealias Context = PushyRequestContext
    typealias Handler = @Sendable (Request, Context, [UInt8]) async throws(APIError) -> Response

    let config: ServerConfiguration
    let store: any PushyStore
    let engine: CommandEngine
    let serverPublicKeyPEM: String
    /// Actual ports (they may have been picked by the OS).
    let ports: ServerPorts
    /// The command channel's CURVE public key (nil when CURVE is disabled).
    let curvePublicKey: String?
    let curveAllowList: CurveAllowList
    let connectionBudget: ConnectionBudget
    /// The dashboard's sign-in links and browser sessions (in memory; issue 15).
    var dashboard = DashboardSessions()
    /// Runs orchestration plans (issue 14); nil: the plan endpoints answer 503.
    var plans: PlanRunner? = nil
    /// Parsed principal keys for signature checks.
    let publicKeys = PublicKeyCache()

    static let maxBody = 1_000_000
    static let methods: [HTTPRequest.Method] = [.get, .post, .put, .delete, .patch, .head]

    /// One path of the API: its handlers by method, and the media type its answers have.
    struct Route {
        var path: String
        var handlers: [HTTPRequest.Method: Handler]
        var produces = "application/json"
    }

    func routes() -> [Route] {
        let org = "/organizations/:org"
        return [
            Route(path: "/pushy/_status", handlers: [.get: status]),
            Route(path: "/metrics", handlers: [.get: metricsScrape], produces: "text/plain"),
            Route(path: "\(org)/pushy/config/:node", handlers: [.get: nodeConfig]),
            Route(path: "\(org)/pushy/jobs", handlers: [.get: listJobs, .post: createJob]),
            Route(path: "\(org)/pushy/jobs/:id", handlers: [.get: getJob]),
            Route(path: "\(org)/pushy/jobs/:id/abort", handlers: [.put: abortJob]),
            Route(path: "\(org)/pushy/jobs/:id/rerun", handlers: [.post: rerunJob]),
            Route(path: "\(org)/pushy/jobs/:id/output", handlers: [.get: groupedOutput]),
            Route(path: "\(org)/pushy/jobs/:id/output/:node/:channel", handlers: [.get: jobOutput],
                  produces: "application/octet-stream"),
            Route(path: "\(org)/pushy/job_status_feed", handlers: [.get: orgFeed], produces: "text/event-stream"),
            Route(path: "\(org)/pushy/job_status_feed/:id", handlers: [.get: jobFeed], produces: "text/event-stream"),
            // Job templates (issue 13).
            Route(path: "\(org)/pushy/templates", handlers: [.get: listTemplates, .post: createTemplate]),
            Route(path: "\(org)/pushy/templates/:name", handlers: [.get: getTemplate, .put: editTemplate, .delete: deleteTemplate]),
            Route(path: "\(org)/pushy/templates/:name/run", handlers: [.post: runTemplate]),
            // Schedules (issue 14).
            Route(path: "\(org)/pushy/schedules", handlers: [.get: listSchedules, .post: createSchedule]),
            Route(path: "\(org)/pushy/schedules/:name", handlers: [.get: getSchedule, .delete: deleteSchedule]),
            Route(path: "\(org)/pushy/schedules/:name/pause", handlers: [.put: pauseSchedule]),
            Route(path: "\(org)/pushy/schedules/:name/resume", handlers: [.put: resumeSchedule]),
            Route(path: "\(org)/pushy/schedules/:name/history", handlers: [.get: scheduleHistory]),
            // Orchestration plans (issue 14).
            Route(path: "\(org)/pushy/plans", handlers: [.get: listPlans, .post: createPlan]),
            Route(path: "\(org)/pushy/plans/:name", handlers: [.get: getPlan, .delete: deletePlan]),
            Route(path: "\(org)/pushy/plans/:name/run", handlers: [.post: runPlan]),
            Route(path: "\(org)/pushy/plan_runs", handlers: [.get: listPlanRuns, .post: runPlanFromBody]),
            Route(path: "\(org)/pushy/plan_runs/:id", handlers: [.get: getPlanRun]),
            Route(path: "\(org)/pushy/plan_runs/:id/abort", handlers: [.put: abortPlanRun]),
            Route(path: "\(org)/pushy/plan_runs/:id/feed", handlers: [.get: planRunFeed], produces: "text/event-stream"),
            Route(path: "\(org)/pushy/node_states", handlers: [.get: nodeStates]),
            Route(path: "\(org)/pushy/node_states/:node", handlers: [.get: nodeState]),
            Route(path: "\(org)/search/node", handlers: [.get: searchNodes]),
            Route(path: "\(org)/nodes", handlers: [.get: listNodes]),
            Route(path: "\(org)/nodes/:node", handlers: [.get: getNode, .put: putNode]),
            Route(path: "\(org)/clients", handlers: [.get: listClients, .post: createClient]),
            Route(path: "\(org)/clients/:name", handlers: [.get: getClient, .delete: deleteClient]),
            // Identity and authorization (issue 3): orgs (superuser), users, groups, enrolment, audit.
            Route(path: "/organizations", handlers: [.get: listOrgs, .post: createOrg]),
            Route(path: org, handlers: [.delete: deleteOrg]),
            Route(path: "\(org)/users", handlers: [.get: listUsers, .post: createUser]),
            Route(path: "\(org)/users/:name", handlers: [.get: getUser, .delete: deleteUser]),
            Route(path: "\(org)/groups", handlers: [.get: listGroups]),
            Route(path: "\(org)/groups/:group", handlers: [.get: getGroup, .delete: deleteGroup]),
            Route(path: "\(org)/groups/:group/members", handlers: [.post: addGroupMember]),
            Route(path: "\(org)/groups/:group/members/:type/:name", handlers: [.delete: removeGroupMember]),
            Route(path: "\(org)/enrollment_tokens", handlers: [.post: createEnrollmentToken]),
            Route(path: "\(org)/enroll", handlers: [.post: enroll]),
            Route(path: "\(org)/audit", handlers: [.get: listAudit]),
            // The web dashboard (issue 15): sign-in links, and the nodes page's paged summary.
            Route(path: "\(org)/pushy/dashboard_links", handlers: [.post: createDashboardLink]),
            Route(path: "\(org)/pushy/node_summary", handlers: [.get: nodeSummary]),
        ]
    }

    func router() -> Router<Context> {
        let router = Router(context: Context.self)
        let table = routes()
        for r in table { route(router, r) }
        dashboardRoutes(router, table: table)
        // Added after the routes, so it wraps only what no route took (Hummingbird's bare 404).
        router.add(middleware: UnroutedMiddleware(routes: table.map { ($0.path, Self.allowed($0)) }))
        return router
    }

    static func allowed(_ r: Route) -> [String] { r.handlers.keys.map(\.rawValue).sorted() }

    /// Registers `r`'s handlers and answers every other method with 405 before any authentication
    /// (spec 2.1), and an `Accept` that excludes what the route serves with 406. Errors become
    /// responses here, in one place.
    func route(_ router: Router<Context>, _ r: Route) {
        let allowed = Self.allowed(r)
        for method in Self.methods {
            router.on(RouterPath(r.path), method: method) { request, context -> Response in
                let started = ContinuousClock.now
                let response = await RequestPeer.$address.withValue(remoteAddress(request, context)) {
                    await answer(r, method, allowed, request, context)
                }
                engine.metrics.restRequest(route: r.path, method: method.rawValue, status: response.status.code,
                                           duration: ContinuousClock.now - started)
                return response
            }
        }
    }

    /// One request on route `r`: the handler's answer, or the error's.
    func answer(_ r: Route, _ method: HTTPRequest.Method, _ allowed: [String], _ request: Request,
                _ context: Context) async -> Response {
        guard let handler = r.handlers[method] else { return APIError.methodNotAllowed(allowed: allowed).response }
        guard accepts(request, r.produces) else {
            return APIError.notAcceptable("this endpoint answers with \(r.produces); send Accept: \(r.produces) (or */*)").response
        }
        do {
            let body = try await collect(request)
            return try await handler(request, context, body)
        } catch let e as APIError {
            return e.response
        } catch {
            return APIError.internalError("\(error)").response
        }
    }

    /// Whether the request's `Accept` (every such header, media ranges with parameters) admits
    /// `type`; no `Accept` admits anything.
    func accepts(_ request: Request, _ type: String) -> Bool {
        let accept = request.headers[values: .accept].joined(separator: ",").lowercased()
        guard !accept.trimmingCharacters(in: .whitespaces).isEmpty else { return true }
        let major = type.split(separator: "/").first.map { "\($0)/*" } ?? type
        return accept.split(separator: ",").contains { range in
            let media = range.split(separator: ";").first?.trimmingCharacters(in: .whitespaces) ?? ""
            return media == type || media == "*/*" || media == "*" || media == major
        }
    }

    func collect(_ request: Request) async throws(APIError) -> [UInt8] {
        var r = request
        do {
            let buf = try await r.collectBody(upTo: Self.maxBody)
            return Array(buf.readableBytesView)
        } catch is NIOTooManyBytesError {
            throw .bodyTooLarge(limit: Self.maxBody)
        } catch {
            throw .badRequest("could not read the request body: \(error)")
        }
    }

    func param(_ context: Context, _ name: String) -> String {
        context.parameters.get(name)?.removingPercentEncoding ?? ""
    }

    func requireJSONBody(_ request: Request) throws(APIError) {
        if let ct = request.headers[.contentType],
           ct.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() != "application/json" {
            throw .unsupportedMediaType
        }
    }

    /// A `true`/`false` query parameter (nil when absent); anything else is a 400 rather than
    /// being read as the default.
    func boolParameter(_ request: Request, _ name: String) throws(APIError) -> Bool? {
        guard let text = request.uri.queryParameters.get(name) else { return nil }
        switch text.lowercased() {
        case "true": return true
        case "false": return false
        default: throw .badRequest("\(name) must be true or false, not '\(text)'")
        }
    }

    func parseJSON(_ body: [UInt8]) throws(APIError) -> JSONValue {
        do { return try JSONValue.parse(body) } catch {
            throw .badRequest("invalid JSON in request body: \(error.message) at byte \(error.offset)")
        }
    }

    // MARK: Status

    func status(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let count = await engine.sessionCount
        let jobs = await engine.activeJobIds
        let dropped = await engine.dropped
        let reconciliations = await engine.reconciliations, runsResent = await engine.runsResent
        let heldBack = await engine.livenessHeldBack
        let writes = engine.writer.stats
        let longPolls = await engine.longPolls
        let orgFeedRetained = await engine.orgFeedRetained
        let c = connectionBudget.snapshot
        return .json([
            "status": "it's alive", "incarnation_id": .string(engine.incarnationId),
            "node_fsm_count": .number(Double(count)), "job_processes": .array(jobs.map(JSONValue.string)),
            // Pushy extension: ZeroMQ messages dropped since start, by reason (spec 12 point 3).
            "dropped_messages": .object(dropped.sorted { $0.key < $1.key }.map { ($0.key, .number(Double($0.value))) }),
            // Pushy extension: lost messages repaired and store writes retried (issue 11); any
            // non-zero count means something was lost or failed on the way and was put right.
            "reliability": [
                "reconciliations": .number(Double(reconciliations)), "runs_resent": .number(Double(runsResent)),
                "store_write_failures": .number(Double(writes.failures)),
                "store_writes_pending": .number(Double(writes.pending)),
                // Ticks whose liveness was judged over an interval late: the server was behind.
                "liveness_held_back": .number(Double(heldBack)),
            ],
            // Pushy extension: readers waiting in GET /jobs/ID?wait= (answered at shutdown too).
            "long_polls": .number(Double(longPolls)),
            // Pushy extension: what the server holds in memory (issue 11's churn soak reads it):
            // org feed events kept for replay, the heap allocated and the heap freed but held.
            "memory": .object([("org_feed_events", .number(Double(orgFeedRetained)))]
                + (HeapTrimmer.heapStats().map { [("heap_in_use_bytes", .number(Double($0.inUse))),
                                                  ("heap_free_bytes", .number(Double($0.free)))] } ?? [])),
            // Pushy extension: the descriptor budget (issue 5).
            "connections": [
                "open": .number(Double(c.open)), "budget": .number(Double(c.budget)), "refusing": .bool(c.refusing),
                "refused_total": .number(Double(c.refusedTotal)), "accept_failures": .number(Double(c.acceptFailures)),
                "promised": .number(Double(c.promised)),
            ],
            // Pushy extension: which libzmq runs the sockets (built in = the lean build, docs/decisions.md).
            "libzmq": ["version": .string(ZMQLibrary.version), "built_in": .bool(ZMQLibrary.isBuiltIn)],
        ])
    }

    // MARK: Node config (spec 7.1)

    func nodeConfig(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org"), node = param(context, "node")
        // The ccpk check comes before signature verification, as in the reference (spec 4.5).
        var clientKey: [UInt8]? = nil
        if curvePublicKey != nil {
            guard let ccpk = request.uri.queryParameters.get("ccpk").map({ String($0) }) else {
                throw .missingCCPK
            }
            guard ccpk.utf8.count == 40, let raw = Z85.decode(ccpk), raw.count == 32 else { throw .badCCPK }
            clientKey = raw
        }
        let p = try await authenticate(request, org: orgName, body: body)
        if p.isUser {
            try await requireReader(p)
        } else if p.name != node {
            throw .forbidden("Client and node name must match")
        }
        let requestorKey: RSAPublicKey
        do { requestorKey = try publicKeys.key(p.record.publicKey) } catch {
            throw .internalError("stored public key of '\(p.name)' is unreadable")
        }
        // Past the budget a new agent would only push the server towards its file limit (issue 5).
        guard connectionBudget.grantAgent() else {
            let c = connectionBudget.snapshot
            throw .atConnectionBudget(open: c.open, budget: c.budget)
        }
        if let clientKey { curveAllowList.register(clientKey) }
        let key = engine.sessionKey(org: orgName, node: node)
        // Optional agent features asked for (issue 16), by the node's own agent only: a user who
        // may read a node's config must not switch them for the agent. A request without the
        // parameter asks for none.
        if !p.isUser {
            let asked = request.uri.queryParameters.get("features").map { $0.split(separator: ",").map(String.init) } ?? []
            engine.setAgentFeatures(org: orgName, node: node, commitRun: asked.contains(NodeConfig.commitRunFeature))
        }
        let encrypted: String
        do { encrypted = try SessionKey(bytes: key).encrypted(for: requestorKey) } catch {
            throw .internalError("could not encrypt the session key: \(error)")
        }
        var c = NodeConfig(
            host: config.advertisedHost, outAddr: "tcp://\(config.advertisedHost):\(ports.heartbeat)",
            commandAddr: "tcp://\(config.advertisedHost):\(ports.command)", interval: config.heartbeatInterval,
            node: node, organization: orgName, publicKey: serverPublicKeyPEM, curvePublicKey: curvePublicKey,
            encodedSessionKey: encrypted, incarnationId: engine.incarnationId)
        c.lifetime = config.configLifetime
        c.offlineThreshold = config.offlineThreshold
        c.onlineThreshold = config.onlineThreshold
        c.maxMessageSkew = config.maxMessageSkew
        c.maxBodySize = config.maxBodySize
        c.features = [NodeConfig.outputStreamFeature, NodeConfig.binaryOutputFeature, NodeConfig.commitRunFeature]
        return .json(c.json)
    }

    // MARK: Node states

    func nodeStates(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org")
        try await requireReader(try await authenticate(request, org: orgName, body: body))
        return .json(.array(await engine.clusterNodeStates(org: orgName).map(\.json)))
    }

    func nodeState(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org")
        try await requireReader(try await authenticate(request, org: orgName, body: body))
        return .json(await engine.clusterNodeState(org: orgName, node: param(context, "node")).json)
    }
}

/// Answers requests no route took as JSON instead of Hummingbird's empty 404: a known path with
/// a method it does not take (OPTIONS, a made-up one) gets 405 and `Allow`, anything else a 404
/// that names the path.
struct UnroutedMiddleware: RouterMiddleware {
    typealias Context = PushyRequestContext
    /// Route patterns (`:name` matches one segment) and the methods each takes.
    let routes: [(path: String, allowed: [String])]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let e as HTTPError where e.status == .notFound {
            let path = request.uri.path
            let segments = path.split(separator: "/")
            for r in routes {
                let pattern = r.path.split(separator: "/")
                if pattern.count == segments.count, zip(pattern, segments).allSatisfy({ $0.hasPrefix(":") || $0 == $1 }) {
                    return APIError.methodNotAllowed(allowed: r.allowed).response
                }
            }
            return APIError.notFound("no such endpoint: \(request.method.rawValue) \(path) (Pushy's API is under "
                + "/organizations/ORG/pushy/..., e.g. /organizations/ORG/pushy/jobs; status at /pushy/_status)").response
        }
    }
}

/// The ports the server actually listens on.
public struct ServerPorts: Sendable {
    public var api: Int
    public var heartbeat: Int
    public var command: Int
}
