import Foundation
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
enum Access: CustomStringConvertible, Sendable {
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

/// A server with one user per role, groups set up with nesting, and a node, a job and another org.
struct MatrixWorld: Sendable {
    let rig: RouterRig
    let signers: [Role: Signer]
    let jobId: String
    /// A valid Z85 CURVE key (32 zero bytes) for config requests.
    static let ccpk = String(repeating: "0", count: 40)

    static func make(_ rig: RouterRig) async throws -> MatrixWorld {
        let admin = rig.admin
        for (name, isAdmin) in [("alice", true), ("wendy", false), ("rita", false), ("mel", false)] {
            try await admin.createUser(name, admin: isAdmin)
        }
        try await admin.addGroupMember(group: "pushy_job_writers", type: "user", name: "wendy")
        try await admin.addGroupMember(group: "pushy_job_writers", type: "group", name: "admins")
        try await admin.addGroupMember(group: "pushy_job_readers", type: "user", name: "rita")
        try await admin.addGroupMember(group: "pushy_job_readers", type: "group", name: "pushy_job_writers")

        try await admin.createOrganization("other")
        try await rig.caller("admin", org: "other").createUser("olga", admin: true)

        try await rig.createNode("web1")
        try await admin.reportNode(NodeReport(name: "web1"))
        let jobId = try await admin.startJob(try JobRequest.parse(Array(#"{"command":"ok","nodes":["web1"]}"#.utf8)))
        try await MatrixEndpoint.createTemplate(admin, "mtmpl")
        // The org feed never ends by itself, and the router client answers once a body is
        // complete: end the feeds as a shutdown does, so a permitted reader's 200 comes after
        // the (empty) replay. The status is what the matrix checks.
        await rig.engine.closeFeeds()

        func signer(_ name: String) -> Signer { Signer(userId: name, key: rig.key(name)!) }
        let signers: [Role: Signer] = [
            .superuser: signer("admin"), .admin: signer("alice"), .writer: signer("wendy"), .reader: signer("rita"),
            .member: signer("mel"), .otherOrg: signer("olga"),
            .unknown: Signer(userId: "nobody", key: TestKeys.spare),
            .badSignature: Signer(userId: "alice", key: TestKeys.spare),
            .expired: Signer(userId: "alice", key: rig.key("alice")!, timestamp: Date().addingTimeInterval(-3600)),
        ]
        return MatrixWorld(rig: rig, signers: signers, jobId: jobId)
    }
}

/// One REST endpoint: how to call it as a role (setting up what the call consumes first).
struct MatrixEndpoint: CustomStringConvertible, Sendable {
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
                      accept: String = "application/json", body: JSONValue? = nil) -> MatrixEndpoint {
        MatrixEndpoint(method: method, route: route, access: access, ok: ok,
                       prepare: { w, _ in (path.replacingOccurrences(of: "{job}", with: w.jobId), body) }, accept: accept)
    }

    static func templateBody(_ name: String) -> JSONValue {
        ["name": .string(name), "command": "ok", "nodes": ["web1"]]
    }

    static func createTemplate(_ caller: Caller, _ name: String) async throws {
        try await caller.ok("POST", "pushy/templates", json: templateBody(name))
    }

    /// A one-shot job schedule an hour ahead.
    static func scheduleBody(_ name: String) -> JSONValue {
        ["name": .string(name), "at": .string(WireTime.iso8601(Date().addingTimeInterval(3600))),
         "job": ["command": "ok", "nodes": ["web1"]]]
    }

    static func createSchedule(_ caller: Caller, _ name: String) async throws {
        try await caller.ok("POST", "pushy/schedules", json: scheduleBody(name))
    }

    /// A one-step plan on web1 (which has no agent here: its job ends at once).
    static func planBody(_ name: String) -> JSONValue {
        ["name": .string(name), "steps": [["name": "one", "command": "ok", "nodes": ["web1"]]]]
    }

    /// A run of a plan from the body, started by the superuser; its id.
    static func planRun(_ caller: Caller) async throws -> String {
        let r = try await caller.json("POST", "pushy/plan_runs", json: ["plan": planBody("matrix")])
        return try #require(r["id"]?.stringValue)
    }

    static func newKeyBody(_ name: String) -> JSONValue {
        ["name": .string(name), "public_key": .string(TestKeys.sparePEM)]
    }
}

/// Every endpoint × every role, at router level (the rules are the router's and the store's;
/// no socket is needed to prove them).
///
/// Three minutes: a table of ≈ 400 signed requests (an RSA signature each), and a full
/// `swift test` on a loaded two-core machine runs every suite beside it (55 s seen).
@Suite(.timeLimit(.minutes(3))) struct AuthorizationMatrixTests {
    /// Every route of `PushyAPI.router()`, each method it answers (`theTableCoversEveryRoute`
    /// checks that against the router).
    static let endpoints: [MatrixEndpoint] = {
        let o = "/organizations/pushy", r = "/organizations/:org"
        return [
            .plain("GET", "/pushy/_status", .open, path: "/pushy/_status"),
            // Without metrics_token the REST port does not serve /metrics (MetricsTests has the token's cases).
            .plain("GET", "/metrics", .open, ok: 404, path: "/metrics", accept: "text/plain"),
            // The dashboard (issue 15): sign-in links and the nodes page's summary.
            .plain("POST", "\(r)/pushy/dashboard_links", .reader, ok: 201, path: "\(o)/pushy/dashboard_links"),
            .plain("GET", "\(r)/pushy/node_summary", .reader, path: "\(o)/pushy/node_summary"),
            .plain("GET", "\(r)/pushy/config/:node", .reader, path: "\(o)/pushy/config/web1?ccpk=\(MatrixWorld.ccpk)"),
            MatrixEndpoint(method: "POST", route: "\(r)/pushy/jobs", access: .writer, ok: 201) { _, _ in
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
            MatrixEndpoint(method: "POST", route: "\(r)/pushy/templates", access: .writer, ok: 201) { _, role in
                ("\(o)/pushy/templates", MatrixEndpoint.templateBody("new-\(role)"))
            },
            .plain("GET", "\(r)/pushy/templates/:name", .reader, path: "\(o)/pushy/templates/mtmpl"),
            MatrixEndpoint(method: "PUT", route: "\(r)/pushy/templates/:name", access: .admin, ok: 200) { w, role in
                try await MatrixEndpoint.createTemplate(w.rig.admin, "edit-\(role)")
                return ("\(o)/pushy/templates/edit-\(role)", MatrixEndpoint.templateBody("edit-\(role)"))
            },
            MatrixEndpoint(method: "DELETE", route: "\(r)/pushy/templates/:name", access: .admin, ok: 200) { w, role in
                try await MatrixEndpoint.createTemplate(w.rig.admin, "gone-\(role)")
                return ("\(o)/pushy/templates/gone-\(role)", nil)
            },
            .plain("POST", "\(r)/pushy/templates/:name/run", .writer, ok: 201, path: "\(o)/pushy/templates/mtmpl/run", body: [:]),
            // Schedules (issue 14): a job-spec schedule, so the writer rule applies (a template
            // schedule's own rules are in ScheduleAPITests).
            .plain("GET", "\(r)/pushy/schedules", .reader, path: "\(o)/pushy/schedules"),
            MatrixEndpoint(method: "POST", route: "\(r)/pushy/schedules", access: .writer, ok: 201) { _, role in
                ("\(o)/pushy/schedules", MatrixEndpoint.scheduleBody("new-\(role)"))
            },
            MatrixEndpoint(method: "GET", route: "\(r)/pushy/schedules/:name", access: .reader, ok: 200) { w, role in
                try await MatrixEndpoint.createSchedule(w.rig.admin, "show-\(role)")
                return ("\(o)/pushy/schedules/show-\(role)", nil)
            },
            MatrixEndpoint(method: "DELETE", route: "\(r)/pushy/schedules/:name", access: .writer, ok: 200) { w, role in
                try await MatrixEndpoint.createSchedule(w.rig.admin, "gone-\(role)")
                return ("\(o)/pushy/schedules/gone-\(role)", nil)
            },
            MatrixEndpoint(method: "PUT", route: "\(r)/pushy/schedules/:name/pause", access: .writer, ok: 200) { w, role in
                try await MatrixEndpoint.createSchedule(w.rig.admin, "pause-\(role)")
                return ("\(o)/pushy/schedules/pause-\(role)/pause", [:])
            },
            MatrixEndpoint(method: "PUT", route: "\(r)/pushy/schedules/:name/resume", access: .writer, ok: 200) { w, role in
                try await MatrixEndpoint.createSchedule(w.rig.admin, "resume-\(role)")
                return ("\(o)/pushy/schedules/resume-\(role)/resume", [:])
            },
            MatrixEndpoint(method: "GET", route: "\(r)/pushy/schedules/:name/history", access: .reader, ok: 200) { w, role in
                try await MatrixEndpoint.createSchedule(w.rig.admin, "history-\(role)")
                return ("\(o)/pushy/schedules/history-\(role)/history", nil)
            },
            // Plans (issue 14): a command-step plan, so the writer rule applies.
            .plain("GET", "\(r)/pushy/plans", .reader, path: "\(o)/pushy/plans"),
            MatrixEndpoint(method: "POST", route: "\(r)/pushy/plans", access: .writer, ok: 201) { _, role in
                ("\(o)/pushy/plans", MatrixEndpoint.planBody("new-\(role)"))
            },
            MatrixEndpoint(method: "GET", route: "\(r)/pushy/plans/:name", access: .reader, ok: 200) { w, role in
                try await w.rig.admin.ok("POST", "pushy/plans", json: MatrixEndpoint.planBody("show-\(role)"))
                return ("\(o)/pushy/plans/show-\(role)", nil)
            },
            MatrixEndpoint(method: "DELETE", route: "\(r)/pushy/plans/:name", access: .writer, ok: 200) { w, role in
                try await w.rig.admin.ok("POST", "pushy/plans", json: MatrixEndpoint.planBody("gone-\(role)"))
                return ("\(o)/pushy/plans/gone-\(role)", nil)
            },
            MatrixEndpoint(method: "POST", route: "\(r)/pushy/plans/:name/run", access: .writer, ok: 201) { w, role in
                try await w.rig.admin.ok("POST", "pushy/plans", json: MatrixEndpoint.planBody("run-\(role)"))
                return ("\(o)/pushy/plans/run-\(role)/run", [:])
            },
            .plain("GET", "\(r)/pushy/plan_runs", .reader, path: "\(o)/pushy/plan_runs"),
            MatrixEndpoint(method: "POST", route: "\(r)/pushy/plan_runs", access: .writer, ok: 201) { _, role in
                ("\(o)/pushy/plan_runs", ["plan": MatrixEndpoint.planBody("file-\(role)")])
            },
            MatrixEndpoint(method: "GET", route: "\(r)/pushy/plan_runs/:id", access: .reader, ok: 200) { w, _ in
                ("\(o)/pushy/plan_runs/\(try await MatrixEndpoint.planRun(w.rig.admin))", nil)
            },
            MatrixEndpoint(method: "PUT", route: "\(r)/pushy/plan_runs/:id/abort", access: .writer, ok: 200) { w, _ in
                ("\(o)/pushy/plan_runs/\(try await MatrixEndpoint.planRun(w.rig.admin))/abort", [:])
            },
            MatrixEndpoint(method: "GET", route: "\(r)/pushy/plan_runs/:id/feed", access: .reader, ok: 200,
                           prepare: { w, _ in ("\(o)/pushy/plan_runs/\(try await MatrixEndpoint.planRun(w.rig.admin))/feed", nil) },
                           accept: "text/event-stream"),
            .plain("GET", "\(r)/pushy/node_states", .reader, path: "\(o)/pushy/node_states"),
            .plain("GET", "\(r)/pushy/node_states/:node", .reader, path: "\(o)/pushy/node_states/web1"),
            .plain("GET", "\(r)/search/node", .reader, path: "\(o)/search/node?q=name:web1"),
            .plain("GET", "\(r)/nodes", .reader, path: "\(o)/nodes"),
            .plain("GET", "\(r)/nodes/:node", .reader, path: "\(o)/nodes/web1"),
            .plain("PUT", "\(r)/nodes/:node", .admin, path: "\(o)/nodes/web1", body: NodeReport(name: "web1").json),
            .plain("GET", "\(r)/clients", .reader, path: "\(o)/clients"),
            MatrixEndpoint(method: "POST", route: "\(r)/clients", access: .admin, ok: 201) { _, role in
                ("\(o)/clients", MatrixEndpoint.newKeyBody("new-client-\(role)"))
            },
            .plain("GET", "\(r)/clients/:name", .reader, path: "\(o)/clients/web1"),
            MatrixEndpoint(method: "DELETE", route: "\(r)/clients/:name", access: .admin, ok: 200) { w, role in
                try await w.rig.admin.createClient("gone-client-\(role)", key: TestKeys.spare)
                return ("\(o)/clients/gone-client-\(role)", nil)
            },
            .plain("GET", "/organizations", .superuser, path: "/organizations"),
            MatrixEndpoint(method: "POST", route: "/organizations", access: .superuser, ok: 201) { _, role in
                ("/organizations", ["name": .string("org-\(role)")])
            },
            MatrixEndpoint(method: "DELETE", route: r, access: .superuser, ok: 200) { w, role in
                try await w.rig.admin.createOrganization("doomed-\(role)")
                return ("/organizations/doomed-\(role)", nil)
            },
            .plain("GET", "\(r)/users", .reader, path: "\(o)/users"),
            MatrixEndpoint(method: "POST", route: "\(r)/users", access: .admin, ok: 201) { _, role in
                ("\(o)/users", MatrixEndpoint.newKeyBody("new-user-\(role)"))
            },
            .plain("GET", "\(r)/users/:name", .reader, path: "\(o)/users/mel"),
            MatrixEndpoint(method: "DELETE", route: "\(r)/users/:name", access: .admin, ok: 200) { w, role in
                try await w.rig.admin.createUser("gone-user-\(role)", key: TestKeys.spare)
                return ("\(o)/users/gone-user-\(role)", nil)
            },
            .plain("GET", "\(r)/groups", .reader, path: "\(o)/groups"),
            .plain("GET", "\(r)/groups/:group", .reader, path: "\(o)/groups/admins"),
            MatrixEndpoint(method: "DELETE", route: "\(r)/groups/:group", access: .admin, ok: 200) { w, role in
                try await w.rig.admin.addGroupMember(group: "gone-\(role)", type: "user", name: "mel")
                return ("\(o)/groups/gone-\(role)", nil)
            },
            MatrixEndpoint(method: "POST", route: "\(r)/groups/:group/members", access: .admin, ok: 200) { _, role in
                ("\(o)/groups/team-\(role)/members", ["type": "user", "name": "mel"])
            },
            MatrixEndpoint(method: "DELETE", route: "\(r)/groups/:group/members/:type/:name", access: .admin, ok: 200) { w, role in
                try await w.rig.admin.addGroupMember(group: "drop-\(role)", type: "user", name: "mel")
                return ("\(o)/groups/drop-\(role)/members/user/mel", nil)
            },
            .plain("POST", "\(r)/enrollment_tokens", .admin, ok: 201, path: "\(o)/enrollment_tokens", body: ["expires_in": 60]),
            MatrixEndpoint(method: "POST", route: "\(r)/enroll", access: .unsigned, ok: 201) { w, role in
                let token = try await w.rig.admin.createEnrollmentToken()
                var pairs = MatrixEndpoint.newKeyBody("enrolled-\(role)").objectValue ?? []
                pairs.append(("token", .string(token)))
                return ("\(o)/enroll", .object(pairs))
            },
            .plain("GET", "\(r)/audit", .admin, path: "\(o)/audit"),
        ]
    }()

    @Test func everyEndpointForEveryRole() async throws {
        try await RouterRig.run { rig in
            let w = try await MatrixWorld.make(rig)
            for endpoint in Self.endpoints {
                for role in Role.allCases {
                    let (path, body) = try await endpoint.prepare(w, role)
                    let r = try await rig.signed(endpoint.method, path, json: body, as: w.signers[role], accept: endpoint.accept)
                    let expected = endpoint.access.expected(role, ok: endpoint.ok)
                    #expect(r.status == expected, "\(endpoint) as \(role): \(r.text.prefix(300))")
                    if r.status == 403 && role != .otherOrg && endpoint.route.contains("/templates") {
                        // A template's denials name the principal and the rule that was not met.
                        #expect(r.text.contains(w.signers[role]!.userId) && r.text.contains("template"), "\(endpoint) as \(role): \(r.text)")
                    } else if r.status == 403 && role != .otherOrg {
                        #expect(r.text == #"{"error":["User or client '\#(w.signers[role]!.userId)' does not have access to that action on this server."]}"#,
                                "\(endpoint) as \(role)")
                    }
                }
            }
        }
    }

    /// The table has exactly the (method, route) pairs the router answers: every route of the
    /// router is probed unsigned with every method, and anything but 405 means "handled".
    @Test func theTableCoversEveryRoute() async throws {
        try await RouterRig.run { rig in
            // Hummingbird prints captures as `{name}`; the table uses the `:name` the routes were written with.
            // The dashboard's own routes (`/dashboard/...`) take a session, not a signature: DashboardTests.
            let routes = Set(rig.api.router().routes.map {
                "\($0.path)".replacingOccurrences(of: "{", with: ":").replacingOccurrences(of: "}", with: "")
            }.filter { !$0.hasPrefix("/dashboard") })
            var handled: Set<String> = []
            for route in routes {
                let path = route.split(separator: "/").map { $0.hasPrefix(":") ? "x" : String($0) }.joined(separator: "/")
                for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
                    let r = try await rig.signed(method, "/" + path, as: nil)
                    if r.status != 405 { handled.insert("\(method) \(route)") }
                }
            }
            #expect(Set(Self.endpoints.map(\.description)) == handled)
            #expect(Self.endpoints.count == handled.count, "no endpoint is listed twice")
        }
    }
}
