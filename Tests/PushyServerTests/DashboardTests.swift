import Foundation
import PushyProtocol
import PushyStore
@testable import PushyServer
import Testing

/// The dashboard's sign-in, sessions and CSRF at router level, and that its calls reach the REST
/// handlers with the session's user and that user's rights (issue 15). The browser itself:
/// PushyIntegrationTests/DashboardBrowserTests.
@Suite(.timeLimit(.minutes(2))) struct DashboardTests {
    /// A browser: the session cookie and the CSRF token it got from a sign-in link.
    struct Browser {
        let rig: RouterRig
        var cookie: String
        var csrf: String

        func send(_ method: String, _ path: String, json: JSONValue? = nil, csrf: String? = nil,
                  accept: String = "application/json") async throws -> Reply {
            var headers: [(String, String)] = [("Accept", accept), ("Cookie", "pushy_session=\(cookie)")]
            if let token = csrf ?? (method == "GET" ? nil : self.csrf) { headers.append(("X-Pushy-CSRF", token)) }
            if json != nil { headers.append(("Content-Type", "application/json")) }
            return try await rig.send(method, path, headers: headers, body: json.map { Array($0.serialized().utf8) })
        }

        func api(_ method: String, _ path: String, json: JSONValue? = nil, csrf: String? = nil) async throws -> Reply {
            try await send(method, "/dashboard/api/organizations/\(RouterRig.org)/" + path, json: json, csrf: csrf)
        }
    }

    /// Signs `caller` in as a browser does: a link from the signed API, the link's page, then
    /// its Sign in button (a same-origin form post of the token).
    static func signIn(_ rig: RouterRig, _ caller: Caller) async throws -> Browser {
        let link = try await caller.json("POST", "pushy/dashboard_links")
        let path = try #require(link["path"]?.stringValue)
        #expect(path.hasPrefix("/dashboard/signin?token="))
        let page = try await openLink(rig, path)
        #expect(page.reply.status == 200 && page.reply.text.contains("<b>\(caller.name)</b>"))
        #expect(Self.setCookie(page.reply, "pushy_session") == nil)
        let r = try await postToken(rig, String(path.dropFirst("/dashboard/signin?token=".count)), page: page)
        #expect(r.status == 200)
        let setCookie = try #require(Self.setCookie(r, "pushy_session"))
        for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Max-Age=", "Path=/dashboard"] {
            #expect(setCookie.contains(attribute), "cookie has \(attribute): \(setCookie)")
        }
        let cookie = try #require(setCookie.split(separator: ";").first?.split(separator: "=", maxSplits: 1).last.map(String.init))
        var browser = Browser(rig: rig, cookie: cookie, csrf: "")
        let session = try await browser.send("GET", "/dashboard/api/session")
        #expect(session.status == 200)
        browser.csrf = try #require(session.json?["csrf_token"]?.stringValue)
        #expect(session.json?["user"]?.stringValue == caller.name)
        return browser
    }

    /// The `Set-Cookie` field of the reply that sets `name`.
    static func setCookie(_ r: Reply, _ name: String) -> String? {
        r.headers[values: .setCookie].first { $0.hasPrefix(name + "=") }
    }

    /// A browser's view of the link's page: the reply, the nonce in its form and its cookie.
    struct LinkPage {
        var reply: Reply
        var nonce: String
        var cookie: String
    }

    static func openLink(_ rig: RouterRig, _ path: String) async throws -> LinkPage {
        let reply = try await rig.send("GET", path, headers: [], body: nil)
        let nonce = reply.text.components(separatedBy: "name=\"nonce\" value=\"").dropFirst().first?
            .split(separator: "\"").first.map(String.init) ?? ""
        let cookie = setCookie(reply, "pushy_signin")?.split(separator: ";").first.map(String.init) ?? ""
        return LinkPage(reply: reply, nonce: nonce, cookie: cookie)
    }

    /// The sign-in button's post, as a browser sends it from the link's page (its nonce in the
    /// form and in the cookie the page set).
    static func postToken(_ rig: RouterRig, _ token: String, page: LinkPage, site: String = "same-origin",
                          nonce: String? = nil) async throws -> Reply {
        try await rig.send("POST", "/dashboard/signin", headers: [
            ("Content-Type", "application/x-www-form-urlencoded"), ("Sec-Fetch-Site", site), ("Cookie", page.cookie),
        ], body: Array("token=\(token)&nonce=\(nonce ?? page.nonce)".utf8))
    }

    @Test func aLinkWorksOnceAndAWrongOneGetsAPage() async throws {
        try await RouterRig.run { rig in
            let link = try await rig.admin.json("POST", "pushy/dashboard_links")
            let path = try #require(link["path"]?.stringValue)
            let token = String(path.dropFirst("/dashboard/signin?token=".count))
            // Opening the link signs nobody in (it may be opened again); a post from another
            // site is refused ("login CSRF") and does not use the link up: one the browser marks
            // cross-site, and one without the page's nonce cookie (what another site's form
            // sends in a browser too old to mark it).
            _ = try await Self.openLink(rig, path)
            let page = try await Self.openLink(rig, path)
            #expect(page.reply.status == 200 && !page.nonce.isEmpty && page.cookie == "pushy_signin=\(page.nonce)")
            let forged = try await Self.postToken(rig, token, page: page, site: "cross-site")
            #expect(forged.status == 403 && forged.text.contains("another site") && forged.header("Set-Cookie") == nil)
            var noCookie = page
            noCookie.cookie = ""
            let oldBrowser = try await Self.postToken(rig, token, page: noCookie)
            #expect(oldBrowser.status == 403 && oldBrowser.text.contains("did not come from this server's sign-in page"))
            #expect(try await Self.postToken(rig, token, page: page, nonce: "guessed").status == 403)
            #expect(try await Self.postToken(rig, token, page: page).status == 200)
            let again = try await Self.postToken(rig, token, page: page)
            #expect(again.status == 403)
            #expect(again.header("Content-Type")?.hasPrefix("text/html") == true)
            #expect(again.text.contains("already used") && again.text.contains("pushy dashboard"))
            #expect(again.header("Set-Cookie") == nil)
            #expect(try await rig.send("GET", path, headers: [], body: nil).status == 403)
            let wrong = try await rig.send("GET", "/dashboard/signin?token=nonsense", headers: [], body: nil)
            #expect(wrong.status == 403 && wrong.text.contains("does not work"))
            let none = try await rig.send("GET", "/dashboard/signin", headers: [], body: nil)
            #expect(none.status == 400)
            // Pages and API calls without a session.
            let nodesPage = try await rig.send("GET", "/dashboard/nodes", headers: [("Cookie", "pushy_session=forged")], body: nil)
            #expect(nodesPage.status == 401 && nodesPage.text.contains("pushy dashboard"))
            let call = try await rig.send("GET", "/dashboard/api/organizations/pushy/pushy/jobs", headers: [], body: nil)
            #expect(call.status == 401 && call.errorMessage?.contains("pushy dashboard") == true)
        }
    }

    @Test func expiredLinksAndSessions() throws {
        let s = DashboardSessions(linkLifetime: 300, sessionLifetime: 3600)
        let owner = DashboardSessions.Owner(org: "pushy", user: "admin")
        let late = s.issueLink(for: owner, now: 1000)
        #expect(s.redeem(late.token, now: 1300) == .expired)
        #expect(s.redeem(late.token, now: 1301) == .expired)
        let ok = s.issueLink(for: owner, now: 1000)
        guard case .signedIn(let session) = s.redeem(ok.token, now: 1299) else { Issue.record("not signed in"); return }
        #expect(session.owner == owner && session.csrfToken != session.id)
        #expect(s.session(session.id, now: 1299 + 3599) != nil)
        #expect(s.session(session.id, now: 1299 + 3600) == nil)
        // Pruned expired links are still told apart from unknown ones.
        let other = s.issueLink(for: owner, now: 5000)
        _ = s.issueLink(for: owner, now: 6000)
        #expect(s.redeem(other.token, now: 6000) == .expired)
        #expect(s.redeem("never-issued", now: 6000) == .unknown)
        // Capacity: the oldest session goes first.
        let small = DashboardSessions(capacity: 2)
        let ids = (0..<3).compactMap { i -> String? in
            if case .signedIn(let x) = small.redeem(small.issueLink(for: owner, now: Double(i)).token, now: Double(i)) { return x.id }
            return nil
        }
        #expect(small.sessionCount == 2 && small.session(ids[0], now: 3) == nil && small.session(ids[2], now: 3) != nil)
        // One user's sign-ins past `perUser` end that user's oldest session, not anyone else's.
        let capped = DashboardSessions(perUser: 2)
        let bob = DashboardSessions.Owner(org: "pushy", user: "bob")
        func signIn(_ who: DashboardSessions.Owner, _ at: Double) -> String? {
            if case .signedIn(let x) = capped.redeem(capped.issueLink(for: who, now: at).token, now: at) { return x.id }
            return nil
        }
        let bobs = signIn(bob, 0)
        let admins = (1...3).compactMap { signIn(owner, Double($0)) }
        #expect(capped.sessionCount == 3)
        #expect(capped.session(admins[0], now: 4) == nil && capped.session(admins[2], now: 4) != nil)
        #expect(capped.session(try #require(bobs), now: 4) != nil)
    }

    @Test func sessionCallsUseTheUsersOwnRightsAndNeedTheCSRFToken() async throws {
        try await RouterRig.run { rig in
            try await rig.startAgent("web1", roles: ["webapp"])
            try await rig.startAgent("web2", roles: ["webapp"])
            _ = try await rig.admin.createUser("wendy")
            _ = try await rig.admin.createUser("rita")
            try await rig.admin.addGroupMember(group: "pushy_job_writers", type: "user", name: "wendy")
            try await rig.admin.addGroupMember(group: "pushy_job_readers", type: "user", name: "rita")
            try await rig.admin.addGroupMember(group: "pushy_job_readers", type: "group", name: "pushy_job_writers")
            let writer = try await Self.signIn(rig, rig.caller("wendy"))
            let reader = try await Self.signIn(rig, rig.caller("rita"))
            #expect(try await reader.send("GET", "/dashboard/api/session").json?["can_write"]?.boolValue == false)
            #expect(try await writer.send("GET", "/dashboard/api/session").json?["can_write"]?.boolValue == true)

            // Nodes: the paged summary with counts, and the search syntax of `pushy search`.
            let summary = try await reader.api("GET", "pushy/node_summary?q=role:webapp&rows=1")
            #expect(summary.status == 200)
            #expect(summary.json?["matched"]?.intValue == 2 && summary.json?["rows"]?.arrayValue?.count == 1)
            #expect(summary.json?["counts"]?["available"]?.intValue == 2)
            #expect(summary.json?["rows"]?.arrayValue?.first?["last_heartbeat"]?.stringValue != nil)
            let badQuery = try await reader.api("GET", "pushy/node_summary?q=role:(")
            #expect(badQuery.status == 400 && badQuery.errorMessage?.contains("invalid search query") == true)

            // A change without the token (or with another session's) is refused before the handler.
            let job: JSONValue = ["command": "ok", "nodes": ["web1", "web2"]]
            let noToken = try await writer.api("POST", "pushy/jobs", json: job, csrf: "")
            #expect(noToken.status == 403 && noToken.errorMessage?.contains("CSRF") == true)
            #expect(try await writer.api("POST", "pushy/jobs", json: job, csrf: reader.csrf).status == 403)
            // The reader has the token but not the right; the writer has both.
            #expect(try await reader.api("POST", "pushy/jobs", json: job).status == 403)
            let started = try await writer.api("POST", "pushy/jobs", json: job)
            #expect(started.status == 201)
            let id = String(try #require(started.json?["uri"]?.stringValue).suffix(32))
            _ = try await rig.admin.waitFinished(id)
            // The job list filters and pages, newest first, and names who started the job.
            let list = try await reader.api("GET", "pushy/jobs?status=complete&requestor=wendy&rows=10")
            #expect(list.json?.arrayValue?.first?["requestor"]?.stringValue == "wendy")
            #expect(list.header("X-Pushy-Matched") == "1")
            #expect(try await reader.api("GET", "pushy/jobs?status=bogus").status == 400)
            #expect(try await reader.api("GET", "pushy/jobs/\(id)").json?["status"]?.stringValue == "complete")

            // Abort: the reader is refused with the REST API's own answer.
            let sleeper = try await writer.api("POST", "pushy/jobs", json: ["command": "sleep", "nodes": ["web1"]])
            let sleepId = String(try #require(sleeper.json?["uri"]?.stringValue).suffix(32))
            try await rig.settle()
            let refused = try await reader.api("PUT", "pushy/jobs/\(sleepId)/abort")
            #expect(refused.status == 403 && refused.errorMessage?.contains("rita") == true)
            #expect(try await writer.api("PUT", "pushy/jobs/\(sleepId)/abort").status == 200)

            // Routes outside the dashboard's list stay signed-only; the session is for its own org.
            #expect(try await writer.send("GET", "/dashboard/api/organizations/pushy/users").status == 404)
            #expect(try await writer.send("GET", "/dashboard/api/organizations/other/pushy/jobs").status == 403)

            // Sign-out revokes the session on the server; group changes apply at once.
            try await rig.admin.removeGroupMember(group: "pushy_job_readers", type: "user", name: "rita")
            #expect(try await reader.api("GET", "pushy/jobs").status == 403)
            #expect(try await writer.send("POST", "/dashboard/signout", csrf: "wrong").status == 403)
            let out = try await writer.send("POST", "/dashboard/signout")
            #expect(out.status == 200 && out.header("Set-Cookie")?.contains("Max-Age=0") == true)
            #expect(try await writer.api("GET", "pushy/jobs").status == 401)
        }
    }

    /// Templates keep their own rules through the dashboard: a reader named in `run` may run one, a
    /// reader not named may not (and sees the rule in the refusal).
    @Test func templateRulesApplyToSessions() async throws {
        try await RouterRig.run { rig in
            try await rig.startAgent("web1")
            _ = try await rig.admin.createUser("rob")
            _ = try await rig.admin.createUser("rita")
            for u in ["rob", "rita"] { try await rig.admin.addGroupMember(group: "pushy_job_readers", type: "user", name: u) }
            try await rig.admin.ok("POST", "pushy/templates", json: [
                "name": "greet", "command": "ok", "nodes": ["web1"], "access": ["run": ["users": ["rob"]]],
            ])
            let rob = try await Self.signIn(rig, rig.caller("rob"))
            let rita = try await Self.signIn(rig, rig.caller("rita"))
            let listed = try await rita.api("GET", "pushy/templates")
            #expect(listed.json?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["greet"])
            let refused = try await rita.api("POST", "pushy/templates/greet/run", json: ["parameters": .object([])])
            #expect(refused.status == 403 && refused.errorMessage?.contains("may not run template 'greet'") == true)
            #expect(try await rob.api("POST", "pushy/jobs", json: ["command": "ok", "nodes": ["web1"]]).status == 403)
            let ran = try await rob.api("POST", "pushy/templates/greet/run", json: ["parameters": .object([])])
            #expect(ran.status == 201, "\(ran.text)")
        }
    }

    /// 10,000 nodes: the nodes page gets one page, the counts and how many match, never them all.
    @Test func tenThousandNodesComeAPageAtATime() async throws {
        try await RouterRig.run { rig in
            try await rig.startAgent("web00001", roles: ["webapp"])
            for i in 2...10_000 {
                let name = String(format: "web%05d", i)
                try await rig.store.upsertNode(NodeRecord(org: RouterRig.org, name: name, roles: [i % 10 == 0 ? "db" : "webapp"],
                                                          attributes: ["hostname": .string(name), "memory": "8 GB"], updatedAt: Date()))
            }
            let browser = try await Self.signIn(rig, rig.admin)
            let first = try await browser.api("GET", "pushy/node_summary")
            #expect(first.json?["counts"]?["total"]?.intValue == 10_000)
            #expect(first.json?["counts"]?["online"]?.intValue == 1 && first.json?["counts"]?["offline"]?.intValue == 9_999)
            #expect(first.json?["matched"]?.intValue == 10_000 && first.json?["rows"]?.arrayValue?.count == 50)
            #expect(first.body.count < 20_000, "one page is small: \(first.body.count) bytes")
            let last = try await browser.api("GET", "pushy/node_summary?q=role:db&start=990&rows=500")
            #expect(last.json?["matched"]?.intValue == 1_000 && last.json?["rows"]?.arrayValue?.count == 10)
            let online = try await browser.api("GET", "pushy/node_summary?state=available")
            #expect(online.json?["rows"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["web00001"])
            #expect(try await browser.api("GET", "pushy/node_summary?rows=501").status == 400)
            #expect(try await browser.api("GET", "pushy/node_summary?state=asleep").status == 400)
        }
    }

    @Test func clientsGetNoLinksAndPagesAreServed() async throws {
        try await RouterRig.run { rig in
            try await rig.createNode("web1")
            let r = try await rig.caller("web1").send("POST", "pushy/dashboard_links")
            #expect(r.status == 403 && r.errorMessage?.contains("client") == true)
            let unsigned = try await rig.send("POST", "/organizations/pushy/pushy/dashboard_links", headers: [], body: nil)
            #expect(unsigned.status == 400)
            let browser = try await Self.signIn(rig, rig.admin)
            for page in ["nodes", "jobs", "job", "start"] {
                let p = try await browser.send("GET", "/dashboard/\(page)", accept: "text/html")
                #expect(p.status == 200 && p.text.contains("<html"), "\(page)")
                #expect(p.header("Content-Security-Policy")?.contains("default-src 'self'") == true)
            }
            for file in ["dashboard.css", "dashboard.js", "job.js"] {
                #expect(try await rig.send("GET", "/dashboard/static/\(file)", headers: [], body: nil).status == 200, "\(file)")
            }
            #expect(try await rig.send("GET", "/dashboard/static/nothing.js", headers: [], body: nil).status == 404)
            #expect(try await rig.send("GET", "/dashboard", headers: [], body: nil).header("Location") == "/dashboard/nodes")
            // Other methods get 405 with Allow, as on the signed API.
            let wrong = try await rig.send("DELETE", "/dashboard/signout", headers: [], body: nil)
            #expect(wrong.status == 405 && wrong.header("Allow") == "POST")
            #expect(try await browser.send("PATCH", "/dashboard/api/organizations/pushy/pushy/jobs/x/abort").status == 405)
        }
    }
}
