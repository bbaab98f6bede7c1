import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import PushyAPIClient
import PushyProtocol
@testable import PushyServer
import Testing

/// Who signs a request in the matrix.
enum Role: String, CaseIterable, CustomStringConvertible, Sendable {
    /// `admin`, flagged superuser by `pushy-server init`.
    case superuser
    /// `alice`: in `admins` (which is nested in `pushy_job_writers`).
    case admin
    /// `wendy`: in `pushy_job_writers` (which is nested in `pushy_job_readers`).
    case writer
    /// `rita`: in `pushy_job_readers`.
    case reader
    /// `mel`: a user of the org in no group.
    case member
    /// `olga`: an admin of another org.
    case otherOrg
    /// `nobody`: no such principal anywhere.
    case unknown
    /// `alice`'s name, another key.
    case badSignature
    /// `alice`'s key, a timestamp an hour old.
    case expired

    var description: String { rawValue }
}

/// Which rule guards an endpoint (spec 2.1 and the identity rules of issue 3).
enum Access: CustomStringConvertible {
    case open, unsigned, reader, writer, admin, superuser
    /// Any signed principal of the org (the answer is filtered, e.g. the templates one may read).
    case member
    var description: String { "\(self)" }

    /// The status `role` must get, given the endpoint's success status `ok`.
    func expected(_ role: Role, ok: Int) -> Int {
        switch (self, role) {
        case (.open, _), (.unsigned, _): ok
        case (_, .unknown), (_, .badSignature), (_, .expired): 401
        case (_, .otherOrg): 403
        case (.member, _): ok
        case (_, .superuser): ok
        case (.superuser, _): 403
        case (_, .admin): ok
        case (.admin, _): 403
        case (_, .writer): ok
        case (.writer, _): 403
        case (_, .reader): ok
        case (.reader, .member): 403
        default: ok
        }
    }
}

/// A signed (or unsigned) raw request, so a test can choose the key, the name and the clock.
struct RawCaller {
    let base: String
    let http: HTTPClient

    struct Signer {
        var userId: String
        var key: RSAPrivateKey
        var timestamp = Date()
    }

    func send(_ method: String, _ path: String, body: JSONValue? = nil, as signer: Signer?,
              accept: String = "application/json") async throws -> (status: Int, text: String) {
        var request = HTTPClientRequest(url: base + path)
        request.method = HTTPMethod(rawValue: method)
        let bytes = body.map { Array($0.serialized().utf8) } ?? []
        if let signer {
            let pathOnly = String(path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0])
            for (k, v) in try SignedRequestHeaders.sign(method: method, path: pathOnly, body: bytes, userId: signer.userId,
                                                         timestamp: signer.timestamp, key: signer.key) {
                request.headers.add(name: k, value: v)
            }
        }
        request.headers.add(name: "Accept", value: accept)
        if body != nil {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: bytes))
        }
        let response = try await http.execute(request, timeout: .seconds(30))
        let status = Int(response.status.code)
        // A feed that answers 200 streams for ever: the status is all the matrix needs.
        if response.headers.first(name: "Content-Type") == "text/event-stream" { return (status, "") }
        let buffer = try await response.body.collect(upTo: 1 << 20)
        return (status, String(buffer: buffer))
    }
}

/// A server with one user per role, groups set up with nesting, and a node, a job and another org.
struct MatrixWorld {
    let c: TestCluster
    let caller: RawCaller
    let signers: [Role: RawCaller.Signer]
    let jobId: String
    let superClient: PushyRESTClient
    /// A valid Z85 CURVE key (32 zero bytes) for config requests.
    static let ccpk = String(repeating: "0", count: 40)

    static func make() async throws -> MatrixWorld {
        let c = try await TestCluster()
        let base = String(c.orgURL.dropLast("/organizations/pushy".count))
        let caller = RawCaller(base: base, http: try c.tls.httpClient())
        let admin = c.admin!
        var keys: [String: RSAPrivateKey] = ["admin": try loadKey(c.dataDir + "/admin.pem")]
        for (name, isAdmin) in [("alice", true), ("wendy", false), ("rita", false), ("mel", false)] {
            let key = try RSAPrivateKey.generate()
            keys[name] = key
            try await admin.createUser(name: name, publicKeyPEM: key.publicKey.pemRepresentation, admin: isAdmin)
        }
        try await admin.addGroupMember(group: "pushy_job_writers", type: "user", name: "wendy")
        try await admin.addGroupMember(group: "pushy_job_writers", type: "group", name: "admins")
        try await admin.addGroupMember(group: "pushy_job_readers", type: "user", name: "rita")
        try await admin.addGroupMember(group: "pushy_job_readers", type: "group", name: "pushy_job_writers")

        try await admin.createOrganization(name: "other")
        let other = try PushyRESTClient(orgURL: base + "/organizations/other", userId: "admin", key: keys["admin"]!, tls: c.tls)
        let olga = try RSAPrivateKey.generate()
        try await other.createUser(name: "olga", publicKeyPEM: olga.publicKey.pemRepresentation, admin: true)

        try await c.createNode("web1")
        try await admin.reportNode(NodeReport(name: "web1"))
        let jobId = try await admin.startJob(try JobRequest.parse(Array(#"{"command":"ok","nodes":["web1"]}"#.utf8)))
        try await Endpoint.createTemplate(admin, "mtmpl")

        let signers: [Role: RawCaller.Signer] = [
            .superuser: .init(userId: "admin", key: keys["admin"]!),
            .admin: .init(userId: "alice", key: keys["alice"]!),
            .writer: .init(userId: "wendy", key: keys["wendy"]!),
            .reader: .init(userId: "rita", key: keys["rita"]!),
            .member: .init(userId: "mel", key: keys["mel"]!),
            .otherOrg: .init(userId: "olga", key: olga),
            .unknown: .init(userId: "nobody", key: try RSAPrivateKey.generate()),
            .badSignature: .init(userId: "alice", key: try RSAPrivateKey.generate()),
            .expired: .init(userId: "alice", key: keys["alice"]!, timestamp: Date().addingTimeInterval(-3600)),
        ]
        return MatrixWorld(c: c, caller: caller, signers: signers, jobId: jobId, superClient: admin)
    }

    static func loadKey(_ path: String) throws -> RSAPrivateKey {
        try RSAPrivateKey(pemRepresentation: try String(contentsOfFile: path, encoding: .utf8))
    }
}

/// One REST endpoint: how to call it as a role (setting up what the call consumes first).
struct Endpoint: CustomStringConvertible, Sendable {
    var method: String
    /// The router's pattern, e.g. `/organizations/:org/pushy/jobs/:id`.
    var route: String
    var access: Access
    var ok: Int
    /// Builds path and body for `role`, after creating whatever the call needs.
    var prepare: @Sendable (MatrixWorld, Role) async throws -> (path: String, body: JSONValue?)
    var accept = "application/json"

    var description: String { "\(method) \(route)" }

    /// An endpoint called the same way by every role; `{job}` in `path` is the world's job id.
    static func plain(_ method: String, _ route: String, _ access: Access, ok: Int = 200, path: String,
                      accept: String = "application/json", body: JSONValue? = nil) -> Endpoint {
        Endpoint(method: method, route: route, access: access, ok: ok,
                 prepare: { w, _ in (path.replacingOccurrences(of: "{job}", with: w.jobId), body) }, accept: accept)
    }

    static func templateBody(_ name: String) -> JSONValue {
        ["name": .string(name), "command": "ok", "nodes": ["web1"]]
    }

    static func createTemplate(_ client: PushyRESTClient, _ name: String) async throws {
        _ = try await client.send("POST", "pushy/templates", json: templateBody(name))
    }

    static func newKeyBody(_ name: String) -> JSONValue {
        ["name": .string(name), "public_key": .string(try! RSAPrivateKey.generate().publicKey.pemRepresentation)]
    }
}

@Suite(.serialized, .timeLimit(.minutes(5))) struct AuthorizationMatrixTests {
    /// Every route of `PushyAPI.router()`, each method it answers (`theTableCoversEveryRoute`
    /// checks that against the running server).
    static let endpoints: [Endpoint] = {
        let o = "/organizations/pushy", r = "/organizations/:org"
        return [
            .plain("GET", "/pushy/_status", .open, path: "/pushy/_status"),
            .plain("GET", "\(r)/pushy/config/:node", .reader, path: "\(o)/pushy/config/web1?ccpk=\(MatrixWorld.ccpk)"),
            Endpoint(method: "POST", route: "\(r)/pushy/jobs", access: .writer, ok: 201) { _, _ in
                ("\(o)/pushy/jobs", ["command": "ok", "nodes": ["web1"]])
            },
            .plain("GET", "\(r)/pushy/jobs", .reader, path: "\(o)/pushy/jobs"),
            .plain("GET", "\(r)/pushy/jobs/:id", .reader, path: "\(o)/pushy/jobs/{job}"),
            .plain("PUT", "\(r)/pushy/jobs/:id/abort", .writer, path: "\(o)/pushy/jobs/{job}/abort"),
            // Nothing was captured, so a permitted caller gets 404 (after authorization).
            .plain("GET", "\(r)/pushy/jobs/:id/output/:node/:channel", .reader, ok: 404,
                   path: "\(o)/pushy/jobs/{job}/output/web1/stdout", accept: "application/octet-stream"),
            // Issue 13. The world's job ended at once (web1 has no agent): no node of it failed, so a
            // permitted re-run of the failed nodes is a 400 (after authorization).
            .plain("POST", "\(r)/pushy/jobs/:id/rerun", .writer, ok: 400, path: "\(o)/pushy/jobs/{job}/rerun",
                   body: ["nodes": "failed"]),
            .plain("GET", "\(r)/pushy/jobs/:id/output", .reader, path: "\(o)/pushy/jobs/{job}/output?group=true"),
            .plain("GET", "\(r)/pushy/job_status_feed", .reader, path: "\(o)/pushy/job_status_feed", accept: "text/event-stream"),
            .plain("GET", "\(r)/pushy/job_status_feed/:id", .reader, path: "\(o)/pushy/job_status_feed/{job}",
                   accept: "text/event-stream"),
            // Job templates (issue 13): the template's own rules are in TemplateAccessTests; here a
            // template with no access lists, created by the superuser.
            .plain("GET", "\(r)/pushy/templates", .member, path: "\(o)/pushy/templates"),
            Endpoint(method: "POST", route: "\(r)/pushy/templates", access: .writer, ok: 201) { _, role in
                ("\(o)/pushy/templates", Endpoint.templateBody("new-\(role)"))
            },
            .plain("GET", "\(r)/pushy/templates/:name", .reader, path: "\(o)/pushy/templates/mtmpl"),
            Endpoint(method: "PUT", route: "\(r)/pushy/templates/:name", access: .admin, ok: 200) { w, role in
                try await Endpoint.createTemplate(w.superClient, "edit-\(role)")
                return ("\(o)/pushy/templates/edit-\(role)", Endpoint.templateBody("edit-\(role)"))
            },
            Endpoint(method: "DELETE", route: "\(r)/pushy/templates/:name", access: .admin, ok: 200) { w, role in
                try await Endpoint.createTemplate(w.superClient, "gone-\(role)")
                return ("\(o)/pushy/templates/gone-\(role)", nil)
            },
            .plain("POST", "\(r)/pushy/templates/:name/run", .writer, ok: 201, path: "\(o)/pushy/templates/mtmpl/run", body: [:]),
            .plain("GET", "\(r)/pushy/node_states", .reader, path: "\(o)/pushy/node_states"),
            .plain("GET", "\(r)/pushy/node_states/:node", .reader, path: "\(o)/pushy/node_states/web1"),
            .plain("GET", "\(r)/search/node", .reader, path: "\(o)/search/node?q=name:web1"),
            .plain("GET", "\(r)/nodes", .reader, path: "\(o)/nodes"),
            .plain("GET", "\(r)/nodes/:node", .reader, path: "\(o)/nodes/web1"),
            .plain("PUT", "\(r)/nodes/:node", .admin, path: "\(o)/nodes/web1", body: NodeReport(name: "web1").json),
            .plain("GET", "\(r)/clients", .reader, path: "\(o)/clients"),
            Endpoint(method: "POST", route: "\(r)/clients", access: .admin, ok: 201) { _, role in
                ("\(o)/clients", Endpoint.newKeyBody("new-client-\(role)"))
            },
            .plain("GET", "\(r)/clients/:name", .reader, path: "\(o)/clients/web1"),
            Endpoint(method: "DELETE", route: "\(r)/clients/:name", access: .admin, ok: 200) { w, role in
                try await w.superClient.createClient(
                    name: "gone-client-\(role)", publicKeyPEM: try RSAPrivateKey.generate().publicKey.pemRepresentation)
                return ("\(o)/clients/gone-client-\(role)", nil)
            },
            .plain("GET", "/organizations", .superuser, path: "/organizations"),
            Endpoint(method: "POST", route: "/organizations", access: .superuser, ok: 201) { _, role in
                ("/organizations", ["name": .string("org-\(role)")])
            },
            Endpoint(method: "DELETE", route: r, access: .superuser, ok: 200) { w, role in
                try await w.superClient.createOrganization(name: "doomed-\(role)")
                return ("/organizations/doomed-\(role)", nil)
            },
            .plain("GET", "\(r)/users", .reader, path: "\(o)/users"),
            Endpoint(method: "POST", route: "\(r)/users", access: .admin, ok: 201) { _, role in
                ("\(o)/users", Endpoint.newKeyBody("new-user-\(role)"))
            },
            .plain("GET", "\(r)/users/:name", .reader, path: "\(o)/users/mel"),
            Endpoint(method: "DELETE", route: "\(r)/users/:name", access: .admin, ok: 200) { w, role in
                try await w.superClient.createUser(
                    name: "gone-user-\(role)", publicKeyPEM: try RSAPrivateKey.generate().publicKey.pemRepresentation)
                return ("\(o)/users/gone-user-\(role)", nil)
            },
            .plain("GET", "\(r)/groups", .reader, path: "\(o)/groups"),
            .plain("GET", "\(r)/groups/:group", .reader, path: "\(o)/groups/admins"),
            Endpoint(method: "DELETE", route: "\(r)/groups/:group", access: .admin, ok: 200) { w, role in
                try await w.superClient.addGroupMember(group: "gone-\(role)", type: "user", name: "mel")
                return ("\(o)/groups/gone-\(role)", nil)
            },
            Endpoint(method: "POST", route: "\(r)/groups/:group/members", access: .admin, ok: 200) { _, role in
                ("\(o)/groups/team-\(role)/members", ["type": "user", "name": "mel"])
            },
            Endpoint(method: "DELETE", route: "\(r)/groups/:group/members/:type/:name", access: .admin, ok: 200) { w, role in
                try await w.superClient.addGroupMember(group: "drop-\(role)", type: "user", name: "mel")
                return ("\(o)/groups/drop-\(role)/members/user/mel", nil)
            },
            .plain("POST", "\(r)/enrollment_tokens", .admin, ok: 201, path: "\(o)/enrollment_tokens", body: ["expires_in": 60]),
            Endpoint(method: "POST", route: "\(r)/enroll", access: .unsigned, ok: 201) { w, role in
                let token = try await w.superClient.createEnrollmentToken().token
                var pairs = Endpoint.newKeyBody("enrolled-\(role)").objectValue ?? []
                pairs.append(("token", .string(token)))
                return ("\(o)/enroll", .object(pairs))
            },
            .plain("GET", "\(r)/audit", .admin, path: "\(o)/audit"),
        ]
    }()

    @Test func everyEndpointForEveryRole() async throws {
        let w = try await MatrixWorld.make()
        for endpoint in Self.endpoints {
            for role in Role.allCases {
                let (path, body) = try await endpoint.prepare(w, role)
                let (status, text) = try await w.caller.send(endpoint.method, path, body: body, as: w.signers[role],
                                                             accept: endpoint.accept)
                let expected = endpoint.access.expected(role, ok: endpoint.ok)
                #expect(status == expected, "\(endpoint) as \(role): \(text)")
                if status == 403 && role != .otherOrg && endpoint.route.contains("/templates") {
                    // A template's denials name the principal and the rule that was not met.
                    #expect(text.contains(w.signers[role]!.userId) && text.contains("template"), "\(endpoint) as \(role): \(text)")
                } else if status == 403 && role != .otherOrg {
                    #expect(text == #"{"error":["User or client '\#(w.signers[role]!.userId)' does not have access to that action on this server."]}"#,
                            "\(endpoint) as \(role)")
                }
            }
        }
        await w.c.shutdown()
    }

    /// The table has exactly the (method, route) pairs the server answers: every route of the
    /// router is probed unsigned with every method, and anything but 405 means "handled".
    @Test func theTableCoversEveryRoute() async throws {
        let c = try await TestCluster()
        let base = String(c.orgURL.dropLast("/organizations/pushy".count))
        let caller = RawCaller(base: base, http: try c.tls.httpClient())
        let api = PushyAPI(config: c.config, store: c.server.store, engine: c.server.engine, serverPublicKeyPEM: "",
                           ports: ServerPorts(api: 0, heartbeat: 0, command: 0), curvePublicKey: nil,
                           curveAllowList: CurveAllowList(), connectionBudget: c.server.connectionBudget)
        // Hummingbird prints captures as `{name}`; the table uses the `:name` the routes were written with.
        let routes = Set(api.router().routes.map {
            "\($0.path)".replacingOccurrences(of: "{", with: ":").replacingOccurrences(of: "}", with: "")
        })
        var handled: Set<String> = []
        for route in routes {
            let path = route.split(separator: "/").map { $0.hasPrefix(":") ? "x" : String($0) }.joined(separator: "/")
            for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
                let (status, _) = try await caller.send(method, "/" + path, as: nil)
                if status != 405 { handled.insert("\(method) \(route)") }
            }
        }
        await c.shutdown()
        #expect(Set(Self.endpoints.map(\.description)) == handled)
        #expect(Self.endpoints.count == handled.count, "no endpoint is listed twice")
    }
}
