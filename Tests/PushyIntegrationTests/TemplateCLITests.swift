import Foundation
import PushyTestSupport
import PushyAPIClient
import PushyProtocol
import Testing

/// `pushy template ...` (issue 13) with the real binary: an admin creates a template, a user who
/// may run only it runs it with `version=1.2.3` on `role:webapp` in batches of 10% stopping
/// after 2 errors, and is refused everything else. Each command and what it printed is logged.
@Suite(.serialized, .timeLimit(.minutes(5))) struct TemplateCLITests {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    func pushy(_ c: TestCluster, _ args: [String], as user: (String, String)? = nil) async throws -> Run {
        var all = args
        if let user { all += ["--user", user.0, "--key", user.1] }
        let r = try await ProcessRun(c.cliProcess(all), name: "pushy " + args.joined(separator: " ")).wait()
        let run = Run(status: r.status, stdout: r.stdoutText, stderr: r.stderrText)
        print("$ pushy \(args.joined(separator: " "))\(user.map { "    # as \($0.0)" } ?? "")\n\(run.stdout)\(run.stderr)[exit \(run.status)]\n")
        return run
    }

    @Test func aRunnerUsesOnlyItsTemplateFromTheCLI() async throws {
        let c = try await TestCluster()
        do {
            let web = (1...4).map { "web\($0)" }
            let whitelist = TestCluster.whitelist + [#"/^deploy ([0-9]+\.[0-9]+\.[0-9]+)$/=/bin/echo deployed \1"#]
            for n in web { try await c.startAgent(n, roles: ["webapp"], whitelist: whitelist) }
            try await c.startAgent("db1", roles: ["db"], whitelist: whitelist)
            try await c.waitAvailable(web + ["db1"])
            let robKey = try ClusterKeys.named("rob")
            let robPath = c.dataDir + "/rob.pem"
            FileManager.default.createFile(atPath: robPath, contents: Data(robKey.pemRepresentation.utf8),
                                           attributes: [.posixPermissions: 0o600])
            try await c.admin.createUser(name: "rob", publicKeyPEM: robKey.publicKey.pemRepresentation)
            try await c.admin.addGroupMember(group: "pushy_job_writers", type: "group", name: "admins")
            // Readers exist too (rob is not one): rob sees its template and the jobs made from it, nothing else.
            try await c.admin.addGroupMember(group: "pushy_job_readers", type: "group", name: "admins")
            let rob = ("rob", robPath)

            // Written as YAML, as an operator would (the CLI sends it as JSON).
            let file = c.dataDir + "/restart-app.yaml"
            try #"""
                name: restart-app
                description: Deploy a release on the web tier
                command: deploy {{version}}
                parameters:
                  version:
                    type: string
                    pattern: '[0-9]+\.[0-9]+\.[0-9]+'
                    required: true
                    description: the release
                search: role:webapp
                batch_size: 10%
                max_errors: 2
                capture_output: true
                access:
                  run: {users: [rob]}
                """#.write(toFile: file, atomically: true, encoding: .utf8)
            let created = try await pushy(c, ["template", "create", "--file", file])
            #expect(created.status == 0 && created.stdout.contains("Created template 'restart-app' version 1."), "\(created.stderr)")
            _ = try await c.admin.createTemplate(["name": "backup", "command": "ok", "search": "role:db"])

            let list = try await pushy(c, ["template", "list"], as: rob)
            #expect(list.status == 0 && list.stdout.contains("restart-app") && !list.stdout.contains("backup"), "\(list.stdout)")
            let show = try await pushy(c, ["template", "show", "restart-app"], as: rob)
            #expect(show.status == 0 && show.stdout.contains("deploy {{version}}") && show.stdout.contains("version"), "\(show.stdout)")

            let run = try await pushy(c, ["template", "run", "restart-app", "--param", "version=1.2.3", "--poll-interval", "0.1"], as: rob)
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stdout.contains("complete"), "\(run.stdout)")
            #expect(run.stderr.contains("'deploy 1.2.3' on 4 node(s)"), "\(run.stderr)")
            let status = try await pushy(c, ["job", "list"], as: rob)
            #expect(status.status != 0 && status.stderr.contains("'rob' does not have access"), "\(status.stderr)")
            let jobs = try await c.admin.jobs()
            #expect(jobs.count == 1)
            let job = try await c.admin.job(try #require(jobs.first?.id))
            #expect(job.template == "restart-app" && job.templateVersion == 1)
            #expect(job.nodes?.first { $0.0 == .succeeded }?.1.sorted() == web)
            let output = try await pushy(c, ["job", "output", job.id, "--group"], as: rob)
            #expect(output.stdout.contains("deployed 1.2.3"), "\(output.stdout) \(output.stderr)")
            let jobStatus = try await pushy(c, ["job", "status", job.id], as: rob)
            #expect(jobStatus.stdout.contains("restart-app (version 1)"), "\(jobStatus.stdout) \(jobStatus.stderr)")

            let bad = try await pushy(c, ["template", "run", "restart-app", "--param", "version=1.2"], as: rob)
            #expect(bad.status != 0 && bad.stderr.contains("invalid value for parameter 'version': '1.2' does not match the pattern"), "\(bad.stderr)")
            let adHoc = try await pushy(c, ["job", "start", "ok", "web1"], as: rob)
            #expect(adHoc.status != 0 && adHoc.stderr.contains("'rob' does not have access"), "\(adHoc.stderr)")
            let other = try await pushy(c, ["template", "run", "backup"], as: rob)
            #expect(other.status != 0 && other.stderr.contains("rob may not run template 'backup'"), "\(other.stderr)")
            let edit = try await pushy(c, ["template", "edit", "restart-app", "--file", file], as: rob)
            #expect(edit.status != 0 && edit.stderr.contains("rob may not edit template 'restart-app'"), "\(edit.stderr)")
            #expect(try await c.admin.jobs().count == 1, "nothing refused started a job")
            let json = try await pushy(c, ["template", "show", "restart-app", "--format", "json"])
            #expect(try JSONValue.parse(json.stdout)["version"] == 1)
        } catch {
            await c.shutdown()
            throw error
        }
        await c.shutdown()
    }
}
