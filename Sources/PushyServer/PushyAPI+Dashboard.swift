import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PushyProtocol
import PushyStore

/// The session a dashboard request runs under. Only `PushyAPI.dashboardRoute` sets it, after
/// checking the session cookie (and, for a change, the CSRF token); `authenticate` then answers
/// with the session's user instead of verifying a request signature, so every REST handler the
/// dashboard calls applies the user's own rights, unchanged.
enum DashboardAuth {
    @TaskLocal static var session: DashboardSessions.Session?
}

/// The live web dashboard (issue 15): static pages under `/dashboard`, sign-in links, browser
/// sessions, and the REST handlers the pages call under `/dashboard/api/...` (docs/dashboard.md).
extension PushyAPI {
    static let sessionCookie = "pushy_session"
    /// The sign-in page's nonce, also in its form: the post must carry both (`signIn`).
    static let signInCookie = "pushy_signin"
    static let csrfHeader = HTTPField.Name("X-Pushy-CSRF")!
    /// Where the browser says a request came from (`same-origin`, `same-site`, `cross-site`, `none`).
    static let fetchSiteHeader = HTTPField.Name("Sec-Fetch-Site")!

    /// The REST routes the pages may call (by path pattern, with the methods allowed); the rest of
    /// the API (principals, groups, orgs, tokens, agents' config) stays signed-only.
    static let dashboardAPI: [String: Set<HTTPRequest.Method>] = {
        let org = "/organizations/:org"
        return [
            "\(org)/pushy/jobs": [.get, .post],
            "\(org)/pushy/jobs/:id": [.get],
            "\(org)/pushy/jobs/:id/abort": [.put],
            "\(org)/pushy/jobs/:id/rerun": [.post],
            "\(org)/pushy/jobs/:id/output": [.get],
            "\(org)/pushy/jobs/:id/output/:node/:channel": [.get],
            "\(org)/pushy/job_status_feed": [.get],
            "\(org)/pushy/job_status_feed/:id": [.get],
            "\(org)/pushy/node_states": [.get],
            "\(org)/pushy/node_states/:node": [.get],
            "\(org)/pushy/node_summary": [.get],
            "\(org)/pushy/templates": [.get],
            "\(org)/pushy/templates/:name": [.get],
            "\(org)/pushy/templates/:name/run": [.post],
            "\(org)/search/node": [.get],
            "\(org)/nodes/:node": [.get],
        ]
    }()

    // MARK: Sign-in links (signed REST)

    /// `POST /organizations/{org}/pushy/dashboard_links`: a one-time sign-in link for the signed-in
    /// user (users only; a reader at least). The answer holds the path; `pushy dashboard` joins it to
    /// the server URL it used, so the link works through whatever address the user reaches.
    func createDashboardLink(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org")
        guard DashboardAuth.session == nil else { throw .forbidden("a dashboard session cannot make sign-in links") }
        let p = try await authenticate(request, org: orgName, body: body)
        guard p.isUser else { throw .forbidden("only users can sign in to the dashboard; '\(p.name)' is a client (node)") }
        try await requireReader(p)
        let now = Date().timeIntervalSince1970
        let link = dashboard.issueLink(for: .init(org: orgName, user: p.name), now: now)
        await audit(p, request, context, "dashboard.link_created", target: "user:\(p.name)")
        return .json([
            "path": .string("/dashboard/signin?token=\(link.token)"),
            "expires_at": .string(WireTime.rfc1123(Date(timeIntervalSince1970: link.expiresAt))),
            "expires_in": .number(dashboard.linkLifetime),
            "user": .string(p.name), "organization": .string(orgName),
        ], status: .created)
    }

    /// The principal of a dashboard session, looked up afresh (a deleted user is signed out; group
    /// changes apply at once). The session belongs to one organization.
    func sessionPrincipal(_ s: DashboardSessions.Session, org orgName: String) async throws(APIError) -> Principal {
        guard s.owner.org == orgName else {
            throw .forbidden("this dashboard session is for organization '\(s.owner.org)', not '\(orgName)'")
        }
        let org: OrgRecord?
        var record: PrincipalRecord?
        do {
            org = try await store.org(named: orgName)
            record = try await store.principal(org: orgName, name: s.owner.user)
            if record == nil, orgName != config.defaultOrg {
                // A superuser of the default org acts in every org (as `authenticate`).
                record = try await store.principal(org: config.defaultOrg, name: s.owner.user).flatMap { $0.isSuperuser ? $0 : nil }
            }
        } catch { throw .from(error) }
        guard let org, let record else {
            dashboard.revoke(s.id)
            throw .signInRequired("user '\(s.owner.user)' no longer exists in organization '\(orgName)'; you are signed out")
        }
        return Principal(org: org, record: record)
    }

    // MARK: Routes

    typealias PageHandler = @Sendable (Request, Context) async -> Response

    func dashboardRoutes(_ router: Router<Context>, table: [Route]) {
        dashboardPath(router, "/dashboard", [.get: { _, _ in Self.redirect("/dashboard/nodes") }])
        for page in ["nodes", "jobs", "job", "start"] {
            dashboardPath(router, "/dashboard/\(page)", [.get: { request, _ in
                guard currentSession(request) != nil else {
                    return Self.page(.unauthorized, "Sign in to the Pushy dashboard", Self.signInHelp)
                }
                return Self.asset("\(page).html")
            }])
        }
        dashboardPath(router, "/dashboard/static/:file", [.get: { _, context in Self.asset(context.parameters.get("file") ?? "") }])
        dashboardPath(router, "/dashboard/signin", [
            .get: { request, _ in confirmSignIn(request) },
            .post: { request, _ in await signIn(request) },
        ])
        dashboardPath(router, "/dashboard/signout", [.post: { request, context in await signOut(request, context) }])
        dashboardPath(router, "/dashboard/api/session", [.get: { request, _ in await sessionInfo(request) }])
        for r in table {
            guard let methods = Self.dashboardAPI[r.path] else { continue }
            var handlers: [HTTPRequest.Method: PageHandler] = [:]
            for (method, handler) in r.handlers where methods.contains(method) {
                handlers[method] = { request, context in await dashboardCall(request, context, handler, produces: r.produces) }
            }
            dashboardPath(router, "/dashboard/api" + r.path, handlers)
        }
    }

    /// Registers `handlers` for `path` and answers every other method with 405 and `Allow`, as the
    /// signed API does.
    func dashboardPath(_ router: Router<Context>, _ path: String, _ handlers: [HTTPRequest.Method: PageHandler]) {
        let allowed = handlers.keys.map(\.rawValue).sorted()
        for method in Self.methods {
            router.on(RouterPath(path), method: method) { request, context -> Response in
                guard let handler = handlers[method] else { return APIError.methodNotAllowed(allowed: allowed).response }
                return await handler(request, context)
            }
        }
    }

    /// The session the request's cookie names, if it is live.
    func currentSession(_ request: Request) -> DashboardSessions.Session? {
        guard let id = request.cookies[Self.sessionCookie]?.value, !id.isEmpty else { return nil }
        return dashboard.session(id, now: Date().timeIntervalSince1970)
    }

    /// A REST handler called by a page: the session stands in for the request signature; a change
    /// (anything but GET) needs the session's CSRF token in `X-Pushy-CSRF`.
    func dashboardCall(_ request: Request, _ context: Context, _ handler: Handler, produces: String) async -> Response {
        guard let session = currentSession(request) else {
            return APIError.signInRequired("not signed in to the dashboard, or the session expired: run `pushy dashboard` for a new sign-in link").response
        }
        if request.method != .get, request.method != .head,
           !Self.constantTimeEqual(request.headers[Self.csrfHeader] ?? "", session.csrfToken) {
            return APIError.forbidden("missing or wrong CSRF token: send the session's token (GET /dashboard/api/session) in X-Pushy-CSRF").response
        }
        guard accepts(request, produces) else {
            return APIError.notAcceptable("this endpoint answers with \(produces); send Accept: \(produces) (or */*)").response
        }
        do {
            let body = try await collect(request)
            return try await DashboardAuth.$session.withValue(session) {
                try await handler(request, context, body)
            }
        } catch let e as APIError {
            return e.response
        } catch {
            return APIError.internalError("\(error)").response
        }
    }

    /// `GET /dashboard/signin?token=...` (the link `pushy dashboard` prints): a page naming the
    /// user and organization the link signs in as, with a button that posts the token. The GET
    /// itself signs nobody in, so another site cannot sign a visitor in as someone else by
    /// linking or framing it ("login CSRF"): the post must come from this page (see `signIn`).
    func confirmSignIn(_ request: Request) -> Response {
        guard let token = request.uri.queryParameters.get("token").map({ String($0) }), !token.isEmpty else {
            return Self.page(.badRequest, "No sign-in token", "<p>This address needs a sign-in token.</p>" + Self.signInHelp)
        }
        switch dashboard.peek(token, now: Date().timeIntervalSince1970) {
        case .unknown: return unknownLinkPage()
        case .expired: return expiredLinkPage()
        case .valid(let owner):
            let nonce = DashboardSessions.randomToken()
            var response = Self.page(.ok, "Sign in to the Pushy dashboard",
                             "<p>This link signs you in as <b>\(Self.escape(owner.user))</b> in organization <b>\(Self.escape(owner.org))</b>.</p>"
                             + "<form method=\"post\" action=\"/dashboard/signin\"><input type=\"hidden\" name=\"token\" value=\"\(Self.escape(token))\">"
                             + "<input type=\"hidden\" name=\"nonce\" value=\"\(nonce)\">"
                             + "<button id=\"signin\" type=\"submit\">Sign in</button></form>"
                             + "<p class=\"hint\">If you did not run <code>pushy dashboard</code> yourself, close this page.</p>")
            // Sent back only by a same-site request (SameSite=Strict): a form another site posts
            // lacks it, in browsers too old to send Sec-Fetch-Site as well.
            response.setCookie(Cookie(name: Self.signInCookie, value: nonce, maxAge: Int(dashboard.linkLifetime),
                                      path: "/dashboard/signin", secure: true, httpOnly: true, sameSite: .strict))
            return response
        }
    }

    /// `POST /dashboard/signin` (form field `token`, from the confirmation page): the link
    /// becomes a session cookie. Refused when the browser says the post came from another site.
    func signIn(_ request: Request) async -> Response {
        if let site = request.headers[Self.fetchSiteHeader], site != "same-origin" {
            return Self.page(.forbidden, "Sign-in refused",
                             "<p>The sign-in came from another site (\(Self.escape(site))). Open the link <code>pushy dashboard</code> prints and press Sign in.</p>")
        }
        var form: [String: String] = [:]
        if let body = try? await collect(request) {
            for pair in String(decoding: body, as: UTF8.self).split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { continue }
                form[String(parts[0])] = String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
            }
        }
        guard let token = form["token"], !token.isEmpty else {
            return Self.page(.badRequest, "No sign-in token", "<p>The sign-in form carried no token.</p>" + Self.signInHelp)
        }
        guard let nonce = request.cookies[Self.signInCookie]?.value, Self.constantTimeEqual(form["nonce"] ?? "", nonce) else {
            return Self.page(.forbidden, "Sign-in refused",
                             "<p>The sign-in did not come from this server's sign-in page. Open the link <code>pushy dashboard</code> prints and press Sign in.</p>")
        }
        switch dashboard.redeem(token, now: Date().timeIntervalSince1970) {
        case .unknown: return unknownLinkPage()
        case .expired: return expiredLinkPage()
        case .signedIn(let s):
            var response = Self.page(.ok, "Signed in",
                                     "<p>Signed in as <b>\(Self.escape(s.owner.user))</b> in organization <b>\(Self.escape(s.owner.org))</b>."
                                     + " <a id=\"continue\" href=\"/dashboard/nodes\">Open the dashboard</a></p>",
                                     refresh: "/dashboard/nodes")
            response.setCookie(Cookie(name: Self.sessionCookie, value: s.id, maxAge: Int(dashboard.sessionLifetime),
                                      path: "/dashboard", secure: true, httpOnly: true, sameSite: .strict))
            response.setCookie(Cookie(name: Self.signInCookie, value: "", maxAge: 0, path: "/dashboard/signin", secure: true,
                                      httpOnly: true, sameSite: .strict))
            return response
        }
    }

    func unknownLinkPage() -> Response {
        Self.page(.forbidden, "This sign-in link does not work",
                  "<p>The link is not one this server issued, or it was already used: each link signs in once."
                  + " (A server restart also forgets links and sessions.)</p>" + Self.signInHelp)
    }

    func expiredLinkPage() -> Response {
        Self.page(.gone, "This sign-in link has expired",
                  "<p>Sign-in links work for \(Int(dashboard.linkLifetime / 60)) minutes after <code>pushy dashboard</code> made them.</p>"
                  + Self.signInHelp)
    }

    /// `POST /dashboard/signout` (CSRF token in `X-Pushy-CSRF` or a `csrf` form field): the
    /// session is revoked on the server and the cookie cleared.
    func signOut(_ request: Request, _ context: Context) async -> Response {
        guard let session = currentSession(request) else {
            return Self.page(.ok, "Signed out", "<p>You are not signed in.</p>" + Self.signInHelp)
        }
        var token = request.headers[Self.csrfHeader] ?? ""
        if token.isEmpty, let body = try? await collect(request) {
            let form = String(decoding: body, as: UTF8.self)
            for pair in form.split(separator: "&") where pair.hasPrefix("csrf=") {
                token = String(pair.dropFirst(5)).removingPercentEncoding ?? ""
            }
        }
        guard Self.constantTimeEqual(token, session.csrfToken) else {
            return Self.page(.forbidden, "Sign-out refused", "<p>The request did not carry this session's CSRF token. Use the Sign out button.</p>")
        }
        dashboard.revoke(session.id)
        var response = Self.page(.ok, "Signed out", "<p>You are signed out; the session no longer works anywhere.</p>" + Self.signInHelp)
        response.setCookie(Cookie(name: Self.sessionCookie, value: "", maxAge: 0, path: "/dashboard", secure: true,
                                  httpOnly: true, sameSite: .strict))
        return response
    }

    /// `GET /dashboard/api/session`: who is signed in, the CSRF token, and what the user may do
    /// (the pages only use it to label buttons; every call is checked again).
    func sessionInfo(_ request: Request) async -> Response {
        guard let s = currentSession(request) else {
            return APIError.signInRequired("not signed in to the dashboard: run `pushy dashboard` for a sign-in link").response
        }
        do {
            let p = try await sessionPrincipal(s, org: s.owner.org)
            let rules = try await accessRules(s.owner.org)
            return .json([
                "user": .string(s.owner.user), "organization": .string(s.owner.org),
                "csrf_token": .string(s.csrfToken),
                "expires_at": .string(WireTime.rfc1123(Date(timeIntervalSince1970: s.expiresAt))),
                "can_read": .bool(p.isSuperuser || rules.canRead(p.member)),
                "can_write": .bool(p.isSuperuser || rules.canWrite(p.member)),
            ], headers: [.cacheControl: "no-store"])
        } catch {
            return error.response
        }
    }

    // MARK: Pages

    static let signInHelp = "<p>To sign in, run <code>pushy dashboard</code> (or <code>pushy dashboard --open</code>)"
        + " and open the link it prints. Each link works once, for a few minutes.</p>"

    static let securityHeaders: HTTPFields = [
        HTTPField.Name("Content-Security-Policy")!:
            "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        HTTPField.Name("Referrer-Policy")!: "no-referrer",
        HTTPField.Name("X-Frame-Options")!: "DENY",
    ]

    static func asset(_ name: String) -> Response {
        let assets = DashboardAssets.shared
        guard !assets.files.isEmpty else {
            return page(.serviceUnavailable, "Dashboard files missing",
                        "<p>This server cannot find the dashboard's files (looked in: \(escape(assets.origin))). "
                        + "Copy <code>pushy_PushyServer.resources</code> next to <code>pushy-server</code>, or set PUSHY_DASHBOARD_DIR.</p>")
        }
        guard let file = assets.files[name] else {
            return page(.notFound, "Not found", "<p>There is no dashboard file '\(escape(name))'.</p>")
        }
        var headers = securityHeaders
        headers[.contentType] = file.contentType
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: file.bytes)))
    }

    /// A small HTML page (sign-in outcomes, errors) in the dashboard's style.
    static func page(_ status: HTTPResponse.Status, _ title: String, _ html: String, refresh: String? = nil) -> Response {
        let meta = refresh.map { "<meta http-equiv=\"refresh\" content=\"0; url=\($0)\">" } ?? ""
        let text = """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>\(escape(title)) · Pushy</title>\(meta)
            <link rel="stylesheet" href="/dashboard/static/dashboard.css"></head>
            <body><header><span class="brand">Pushy</span></header><main class="notice"><h1>\(escape(title))</h1>\(html)</main></body></html>
            """
        var headers = securityHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .found, headers: [.location: location])
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count, !x.isEmpty else { return false }
        var diff: UInt8 = 0
        for i in x.indices { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}
