import Foundation
import PushyAPIClient
import PushyProtocol
import Testing

/// `pushy plan ...` (issue 14) with the real binary over real agents: the example plan
/// (docs/examples/tomcat-rollout.yaml: provision → install Tomcat on the nodes that came up →
/// rebuild and restart HAProxy) succeeds, then fails at its middle step with a release the
/// nodes refuse, and the step after it does not run. Each command and its output is logged.
@Suite(.serialized, .timeLimit(.minutes(5))) struct PlanCLITests {
    func pushy(_ c: TestCluster, _ args: [String]) async throws -> TestCluster.CLIRun { try await c.loggedCLI(args) }

    static let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/examples/tomcat-rollout.yaml").path

    @Test func theTomcatRolloutSucceedsThenStopsAtAFailingStep() async throws {
        let c = try await TestCluster()
        do {
            let app = TestCluster.whitelist + ["provision=/bin/echo provisioned",
                                               #"/^install-tomcat ([0-9.]+)$/=/bin/sh -c 'test \1 != 0.0'"#]
            try await c.startAgent("app1", roles: ["new"], whitelist: app)
            try await c.startAgent("app2", roles: ["new"], whitelist: app)
            try await c.startAgent("lb1", roles: ["lb"], whitelist: TestCluster.whitelist + ["rebuild-haproxy=/bin/echo rebuilt"])
            try await c.waitAvailable(["app1", "app2", "lb1"])

            let created = try await pushy(c, ["plan", "create", "--file", Self.example])
            #expect(created.status == 0 && created.stdout.contains("Created plan 'tomcat-rollout' (3 steps)."), "\(created.stderr)")
            let show = try await pushy(c, ["plan", "show", "tomcat-rollout"])
            #expect(show.status == 0 && show.stdout.contains("succeeded in provision"), "\(show.stdout)")

            let ok = try await pushy(c, ["plan", "run", "tomcat-rollout", "--param", "tomcat_version=9.0", "--follow"])
            #expect(ok.status == 0, "\(ok.stderr)")
            #expect(ok.stdout.contains("step 2 'install-tomcat' started") && ok.stdout.contains("'install-tomcat 9.0' on 2 node(s)"), "\(ok.stdout)")
            #expect(ok.stdout.contains("plan succeeded"), "\(ok.stdout)")

            let bad = try await pushy(c, ["plan", "run", "tomcat-rollout", "--param", "tomcat_version=0.0", "--follow"])
            #expect(bad.status == 1, "\(bad.stderr)")
            #expect(bad.stdout.contains("plan failed: step 'install-tomcat' failed"), "\(bad.stdout)")
            let runs = try await c.admin.planRuns()
            #expect(runs.map { $0["status"] } == ["failed", "succeeded"], "\(runs)")
            let failed = try #require(runs.first)
            let steps = failed["steps"]?.arrayValue ?? []
            #expect(steps.map { $0["status"] } == ["succeeded", "failed", "skipped"], "\(steps)")
            #expect(steps[1]["failed"]?.arrayValue?.count == 2 && steps[2]["job"] == nil)
            let status = try await pushy(c, ["plan", "status", try #require(failed["id"]?.stringValue)])
            #expect(status.status == 0 && status.stdout.contains("skipped"), "\(status.stdout)")
            // Every job a plan started says which run it came from.
            let jobs = try await c.admin.jobs()
            #expect(jobs.count == 5 && jobs.allSatisfy { $0.origin?.hasPrefix("plan_run:") == true }, "\(jobs.map(\.origin))")

            // A plan from a file, not stored, with an unknown parameter: refused before anything runs.
            let unknown = try await pushy(c, ["plan", "run", Self.example, "--param", "colour=red"])
            #expect(unknown.status != 0 && unknown.stderr.contains("unknown parameter 'colour' for plan 'tomcat-rollout'"), "\(unknown.stderr)")
        } catch {
            await c.shutdown()
            throw error
        }
        await c.shutdown()
    }
}
