import Foundation
import PushyAPIClient
import PushyProtocol
import PushyTestSupport
import Testing

/// The dashboard in a real browser (issue 15): headless Chromium from Debian, driven over
/// WebDriver against a real server with two agents. Signs in with a link from `pushy dashboard`,
/// sees the nodes, starts a job from the form, watches it reach `complete` without reloading,
/// reads a node's output and the grouped output, then signs in as a reader whose abort is
/// refused, and signs out. Screenshots of every page go to PUSHY_TEST_OUTPUT (default
/// TMPDIR/pushy-test-output/dashboard), not to the repository; their paths are printed.
///
/// Runs when chromium and chromedriver are installed (`make deps-browser`); `make test` sets
/// PUSHY_REQUIRE_BROWSER=1, so there a missing browser is a failure, not a skip.
@Suite(.serialized, .timeLimit(.minutes(5))) struct DashboardBrowserTests {
    static let outputDir = ProcessInfo.processInfo.environment["PUSHY_TEST_OUTPUT"].map { $0 + "/dashboard" }
        ?? NSTemporaryDirectory() + "pushy-test-output/dashboard"
    /// The job's command waits (at most 120 s) for a gate file the test creates once the page has
    /// shown the job running: a fixed sleep ended before a loaded machine showed the page.
    static let gate = NSTemporaryDirectory() + "pushy-dashboard-gate-" + UUID().uuidString
    static let slow = "slow=/bin/sh -c 'echo step one; i=0; while [ ! -e \(gate) ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done; echo all done'"

    @Test(.enabled(if: WebDriver.available || WebDriver.required, "needs chromium and chromium-driver (make deps-browser)"))
    func signInWatchAJobReadOutputAndBeRefusedAsAReader() async throws {
        #expect(WebDriver.available, "chromium or chromedriver is missing: run make deps-browser")
        guard WebDriver.available else { return }
        let cluster = try await TestCluster()
        var driver: WebDriver?
        do {
            driver = try await WebDriver()
            try await Self.run(cluster, driver!)
        } catch {
            await driver?.close()
            await cluster.shutdown()
            throw error
        }
        await driver?.close()
        await cluster.shutdown()
    }

    static func shot(_ browser: WebDriver, _ name: String) async throws {
        let path = outputDir + "/\(name).png"
        try await browser.screenshot(to: path)
        print("dashboard screenshot: \(path)")
    }

    static func run(_ c: TestCluster, _ browser: WebDriver) async throws {
        for n in ["web1", "web2"] {
            try await c.startAgent(n, roles: ["webapp"], whitelist: TestCluster.whitelist + [slow, #"/^greet ([a-z]+)$/=echo hello \1"#])
        }
        try await c.waitAvailable(["web1", "web2"])
        // A reader: may look, may not start or abort.
        let ritaKey = try ClusterKeys.named("rita")
        try await c.admin.createUser(name: "rita", publicKeyPEM: ritaKey.publicKey.pemRepresentation)
        _ = try await c.admin.addGroupMember(group: "pushy_job_readers", type: "user", name: "rita")
        let rita = try PushyRESTClient(orgURL: c.orgURL, userId: "rita", key: ritaKey, tls: c.tls)
        // A template rita may run although she may not start jobs.
        _ = try await c.admin.createTemplate([
            "name": "greet", "description": "Say hello", "command": "greet {{who}}",
            "parameters": ["who": ["type": "string", "pattern": "[a-z]+", "required": true]],
            "search": "role:webapp", "capture_output": true, "access": ["run": ["users": ["rita"]]],
        ])

        // Sign in with the link `pushy dashboard` prints.
        let cli = try await ProcessRun(c.cliProcess(["dashboard"]), name: "pushy dashboard").wait(within: .seconds(60))
        #expect(cli.status == 0, "pushy dashboard: \(cli.stderrText)")
        let link = cli.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(link.hasPrefix("https://127.0.0.1:\(c.apiPort)/dashboard/signin?token="))
        try await browser.startBrowser()
        try await browser.navigate(link)
        try await browser.click("#signin")
        try await browser.waitFor("the nodes page after sign-in", "return location.pathname === '/dashboard/nodes'")

        // Nodes appear, available, with their roles; the search box narrows them.
        try await browser.waitFor("web1 and web2 available on the nodes page", """
            const rows = [...document.querySelectorAll('#nodes tbody tr[data-node]')];
            return ['web1', 'web2'].every(n => rows.some(r => r.dataset.node === n && r.textContent.includes('available') && r.textContent.includes('webapp')));
            """)
        #expect(try await browser.text("#who").contains("admin @ pushy"))
        try await shot(browser, "nodes")
        try await browser.type("#q", "name:web1")
        try await browser.click("#search button[type=submit]")
        try await browser.waitFor("the search to leave web1 only",
                                  "return document.querySelectorAll('#nodes tbody tr[data-node]').length === 1 && !!document.querySelector('tr[data-node=web1]')")

        // Start a job from the form, on nodes found by search.
        try await browser.navigate(link.components(separatedBy: "/dashboard/")[0] + "/dashboard/start")
        try await browser.waitFor("the start form", "return !!document.getElementById('command') && !!document.getElementById('who').textContent")
        try await browser.type("#command", "slow")
        try await browser.type("#search", "role:webapp")
        try await browser.type("#quorum", "100%")
        try await browser.type("#max-concurrency", "2")
        try await shot(browser, "start")
        try await browser.click("#submit")
        try await browser.waitFor("the job page", "return location.pathname === '/dashboard/job' && document.getElementById('job-id').textContent.length === 32")
        let jobId = try await browser.text("#job-id")

        // Live: the page is never reloaded while the state moves to `complete`. web1's output is
        // picked while the job runs (its own feed), so the first line shows before the job ends.
        try await browser.execute("window.__notReloaded = true;")
        try await browser.waitFor("web1's output button", "return !!document.querySelector('button[data-output=web1]')")
        try await browser.click("button[data-output=web1]")
        var seen: [String] = []
        var shotWhileRunning = false
        defer { try? FileManager.default.removeItem(atPath: gate) }
        try await eventually("job \(jobId) shown running with web1's first line", timeout: .seconds(60)) {
            let s = try await browser.text("#job-status")
            if seen.last != s { seen.append(s) }
            let out = try await browser.text("#output pre[data-stream=stdout]")
            if s == "running", out.contains("step one") { return true }
            try await Task.sleep(for: .milliseconds(50))
            return false
        }
        shotWhileRunning = true
        try await shot(browser, "job-running")
        // The job's feed as the page reads it, opened while the job runs (it ends with the job):
        // without output events, or with one node's only.
        _ = try await browser.execute("""
            window.__feeds = null;
            Promise.all(['none', 'web1'].map(o => fetch(Pushy.orgPath(`pushy/job_status_feed/${arguments[0]}?output=${o}`),
                { headers: { Accept: 'text/event-stream' } }).then(r => r.text())))
              .then(v => { window.__feeds = v; }, e => { window.__feeds = ['error ' + e, '']; });
            """, [.string(jobId)])
        FileManager.default.createFile(atPath: gate, contents: Data())
        try await eventually("job \(jobId) shown complete", timeout: .seconds(60)) {
            let s = try await browser.text("#job-status")
            if seen.last != s { seen.append(s) }
            try await Task.sleep(for: .milliseconds(50))
            return s == "complete"
        }
        print("dashboard: web1's output seen live before the job ended: \(shotWhileRunning)")
        print("dashboard job page states seen: \(seen)")
        #expect(seen.count > 1, "the page showed the job before it ended (states seen: \(seen))")
        #expect(try await browser.execute("return window.__notReloaded === true;").boolValue == true, "updated live, not reloaded")
        try await browser.waitFor("both nodes succeeded", "return document.getElementById('progress-text').textContent.startsWith('2 of 2 nodes finished') && document.querySelectorAll('#job-nodes .s-succeeded').length === 2")

        // One node's output, on demand (the stored bytes once the job has ended).
        try await browser.waitFor("web1's output", "const p = document.querySelector('#output pre[data-stream=stdout]'); return !!p && p.textContent.includes('all done');")
        #expect(try await browser.text("#output pre[data-stream=stdout]") == "step one\nall done\n")
        try await shot(browser, "job")
        try await browser.waitFor("the job's two feeds to end", "return window.__feeds !== null")
        let feeds = try await browser.execute("return window.__feeds;")
        let none = feeds.arrayValue?.first?.stringValue ?? "", web1 = feeds.arrayValue?.last?.stringValue ?? ""
        #expect(none.contains("event: job_complete") && !none.contains("event: output"), "?output=none: \(none.prefix(400))")
        #expect(web1.contains("event: output") && web1.contains(#""node":"web1""#) && !web1.contains(#""node":"web2","stream""#),
                "?output=web1: \(web1.prefix(400))")
        // Identical output, grouped.
        try await browser.click("#group")
        try await browser.waitFor("grouped output", "const h = document.querySelector('#output h3'); return !!h && h.textContent.includes('stdout: 2 nodes');")
        try await shot(browser, "job-grouped")

        // The jobs list shows it.
        try await browser.navigate(link.components(separatedBy: "/dashboard/")[0] + "/dashboard/jobs")
        try await browser.waitFor("the job in the list", "return !!document.querySelector('#jobs tr[data-job=\"' + arguments[0] + '\"]')", [.string(jobId)])
        try await shot(browser, "jobs")

        // A reader's abort is refused by the server.
        let sleeper = try await c.admin.startJob(JobRequest(command: "sleep", nodes: ["web2"]))
        let readerLink = try await rita.dashboardLink().url
        try await browser.deleteCookies()
        try await browser.navigate(readerLink)
        try await browser.click("#signin")
        try await browser.waitFor("the reader's nodes page", "return location.pathname === '/dashboard/nodes' && document.getElementById('who').textContent.includes('rita')")
        try await browser.navigate(link.components(separatedBy: "/dashboard/")[0] + "/dashboard/job?id=\(sleeper)")
        try await browser.waitFor("the sleep job running", "return document.getElementById('job-status').textContent === 'running'")
        try await browser.click("#abort")
        try await browser.waitFor("the reader's abort refused", "const e = document.getElementById('abort-refused'); return !!e && e.textContent.includes('403');")
        #expect(try await browser.text("#abort-refused").contains("rita"))
        try await shot(browser, "reader-abort-refused")
        #expect(try await c.admin.job(sleeper).status == .running, "the job still runs")
        _ = try await c.admin.abortJob(sleeper)

        // ... but may run the template she is named in, from the start page.
        try await browser.navigate(link.components(separatedBy: "/dashboard/")[0] + "/dashboard/start")
        try await browser.waitFor("the template form", "return !document.getElementById('template-form').hidden")
        try await browser.click("#template option[value=greet]")
        try await browser.waitFor("the template's parameter", "return !!document.getElementById('param-who')")
        try await browser.type("#param-who", "world")
        try await shot(browser, "start-template")
        try await browser.click("#template-run")
        try await browser.waitFor("the template job page", "return location.pathname === '/dashboard/job' && document.getElementById('job-id').textContent.length === 32")
        try await browser.waitFor("the template job complete", timeout: .seconds(60), "return document.getElementById('job-status').textContent === 'complete'")
        try await browser.click("button[data-output=web2]")
        try await browser.waitFor("web2's greeting", "const p = document.querySelector('#output pre[data-stream=stdout]'); return !!p && p.textContent === 'hello world\\n';")

        // Sign-out ends the session.
        try await browser.click("#signout")
        try await browser.waitFor("the signed-out page", "return document.body.textContent.includes('You are signed out')")
        try await browser.navigate(link.components(separatedBy: "/dashboard/")[0] + "/dashboard/nodes")
        try await browser.waitFor("the sign-in page", "return document.body.textContent.includes('pushy dashboard')")
        print("dashboard screenshots in \(outputDir)")
    }
}
