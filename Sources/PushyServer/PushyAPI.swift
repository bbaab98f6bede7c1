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

    static let maxBody = 1_000_000
    static let methods: [HTTPRequest.Method] = [.get, .post, .put, .delete, .patch, .head]

    func router() -> Router<Context> {
        let router = Router(context: Context.self)
        route(router, "/pushy/_status", [.get: status])
        let org = "/organizations/:org"
        route(router, "\(org)/pushy/config/:node", [.get: nodeConfig])
        route(router, "\(org)/pushy/jobs", [.get: listJobs, .post: createJob])
        route(router, "\(org)/pushy/jobs/:id", [.get: getJob])
        route(router, "\(org)/pushy/jobs/:id/abort", [.put: abortJob])
        route(router, "\(org)/pushy/jobs/:id/output/:node/:channel", [.get: jobOutput])
        route(router, "\(org)/pushy/job_status_feed", [.get: orgFeed])
        route(router, "\(org)/pushy/job_status_feed/:id", [.get: jobFeed])
        route(router, "\(org)/pushy/node_states", [.get: nodeStates])
        route(router, "\(org)/pushy/node_states/:node", [.get: nodeState])
        route(router, "\(org)/search/node", [.get: searchNodes])
        route(router, "\(org)/nodes", [.get: listNodes])
        route(router, "\(org)/nodes/:node", [.get: getNode, .put: putNode])
        route(router, "\(org)/clients", [.get: listClients, .post: createClient])
        route(router, "\(org)/clients/:name", [.get: getClient, .delete: deleteClient])
        // Identity and authorization (issue 3): orgs (superuser), users, groups, enrolment, audit.
        route(router, "/organizations", [.get: listOrgs, .post: createOrg])
        route(router, org, [.delete: deleteOrg])
        route(router, "\(org)/users", [.get: listUsers, .post: createUser])
        route(router, "\(org)/users/:name", [.get: getUser, .delete: deleteUser])
        route(router, "\(org)/groups", [.get: listGroups])
        route(router, "\(org)/groups/:group", [.get: getGroup, .delete: deleteGroup])
        route(router, "\(org)/groups/:group/members", [.post: addGroupMember])
        route(router, "\(org)/groups/:group/members/:type/:name", [.delete: removeGroupMember])
        route(router, "\(org)/enrollment_tokens", [.post: createEnrollmentToken])
        route(router, "\(org)/enroll", [.post: enroll])
        route(router, "\(org)/audit", [.get: listAudit])
        return router
    }

    /// Registers `handlers` and answers every other method with 405 before any authentication
    /// (spec 2.1). Errors become responses here, in one place.
    func route(_ router: Router<Context>, _ path: String, _ handlers: [HTTPRequest.Method: Handler]) {
        let allowed = handlers.keys.map(\.rawValue).sorted()
        for method in Self.methods {
            router.on(RouterPath(path), method: method) { request, context -> Response in
                guard let handler = handlers[method] else { return APIError.methodNotAllowed(allowed: allowed).response }
                do {
                    let body = try await collect(request)
                    return try await handler(request, context, body)
                } catch let e as APIError {
                    return e.response
                } catch {
                    return APIError.internalError("\(error)").response
                }
            }
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
        if let ct = request.headers[.contentType], !ct.lowercased().hasPrefix("application/json") {
            throw .unsupportedMediaType
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
        let writes = engine.writer.stats
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
            ],
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
        do { requestorKey = try RSAPublicKey(pemRepresentation: p.record.publicKey) } catch {
            throw .internalError("stored public key of '\(p.name)' is unreadable")
        }
        // Past the budget a new agent would only push the server towards its file limit (issue 5).
        guard connectionBudget.grantAgent() else {
            let c = connectionBudget.snapshot
            throw .atConnectionBudget(open: c.open, budget: c.budget)
        }
        if let clientKey { curveAllowList.register(clientKey) }
        let key = engine.sessionKey(org: orgName, node: node)
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
        c.maxMessageSkew = config.maxMessageSkew
        c.maxBodySize = config.maxBodySize
        c.features = [NodeConfig.outputStreamFeature, NodeConfig.binaryOutputFeature]
        return .json(c.json)
    }

    // MARK: Node states

    func nodeStates(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org")
        try await requireReader(try await authenticate(request, org: orgName, body: body))
        return .json(.array(await engine.nodeStates(org: orgName).map(\.json)))
    }

    func nodeState(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org")
        try await requireReader(try await authenticate(request, org: orgName, body: body))
        return .json(await engine.nodeState(org: orgName, node: param(context, "node")).json)
    }
}

/// The ports the server actually listens on.
public struct ServerPorts: Sendable {
    public var api: Int
    public var heartbeat: Int
    public var command: Int
}
