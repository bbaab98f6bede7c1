import Foundation
import PushyAPIClient
import PushyProtocol
import Testing

/// Job templates (issue 13) against a real server: a parameterised template run over real agents
/// by a user who may run only it. (The access matrix, template × action × principal, is
/// `TemplateAccessTests` in PushyServerTests, at router level.)
@Suite(.serialized, .timeLimit(.minutes(5))) struct TemplateTests {
    /// The issue's "done": a user who may run only `restart-app` runs it with version=1.2.3 on
    /// role:webapp, in batches of 10% stopping after 2 errors. The agents' whitelist matches the
    /// filled command with a regex, and the value also arrives as CHEF_PUSH_PARAM_VERSION. The same
    /// user cannot start an ad-hoc job nor run another template, and a bad version is a 400.
    @Test func aRunnerRunsOnlyItsTemplateOverRealAgents() async throws {
        let c = try await TestCluster()
        do {
            let out = c.dataDir + "/deployed"
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let whitelist = TestCluster.whitelist + [
                #"/^deploy ([0-9]+\.[0-9]+\.[0-9]+)$/=/bin/sh -c 'echo "\1 $CHEF_PUSH_PARAM_VERSION" > "OUT/$CHEF_PUSH_NODE_NAME"'"#
                    .replacingOccurrences(of: "OUT", with: out),
            ]
            let web = ["web1", "web2", "web3"]
            for n in web { try await c.startAgent(n, roles: ["webapp"], whitelist: whitelist) }
            try await c.startAgent("db1", roles: ["db"], whitelist: whitelist)
            try await c.waitAvailable(web + ["db1"])

            let robKey = try ClusterKeys.named("rob")
            try await c.admin.createUser(name: "rob", publicKeyPEM: robKey.publicKey.pemRepresentation)
            // Job writers exist (rob is not one), so rob may not start arbitrary commands.
            try await c.admin.addGroupMember(group: "pushy_job_writers", type: "group", name: "admins")
            let rob = try PushyRESTClient(orgURL: c.orgURL, userId: "rob", key: robKey, tls: c.tls)

            let definition = try JSONValue.parse(#"""
                {"name": "restart-app", "command": "deploy {{version}}",
                 "parameters": {"version": {"type": "string", "pattern": "[0-9]+\\.[0-9]+\\.[0-9]+", "required": true},
                                "role": {"type": "enum", "values": ["webapp", "db"], "default": "webapp"}},
                 "search": "role:{{role}}", "batch_size": "10%", "max_errors": 2, "run_timeout": 60,
                 "access": {"run": {"users": ["rob"]}}}
                """#)
            _ = try await c.admin.send("POST", "pushy/templates", json: definition)
            _ = try await c.admin.send("POST", "pushy/templates", json: ["name": "backup", "command": "ok", "search": "role:db"])

            let reply = try await rob.send("POST", "pushy/templates/restart-app/run", json: ["parameters": ["version": "1.2.3"]])
            #expect(reply.status == 201)
            let answer = try reply.json()
            let id = try #require(answer["id"]?.stringValue)
            #expect(answer["command"] == "deploy 1.2.3")
            #expect(answer["node_count"] == 3)
            let job = try await c.waitFinished(id, timeout: 60)
            #expect(job.status == .complete, "\(job.json)")
            #expect(job.nodes?.first { $0.0 == .succeeded }?.1.sorted() == web, "\(job.json)")
            #expect(job.command == "deploy 1.2.3")
            #expect(job.template == "restart-app")
            #expect(job.templateVersion == 1)
            #expect(job.rateControl == RateControl(maxErrors: .count(2), batchSize: .percent(10)))
            #expect(job.env?["CHEF_PUSH_PARAM_VERSION"] == "1.2.3")
            for n in web {
                let text = try String(contentsOfFile: "\(out)/\(n)", encoding: .utf8)
                #expect(text == "1.2.3 1.2.3\n", "\(n): the whitelist's \\1 and the env var")
            }
            #expect(!FileManager.default.fileExists(atPath: "\(out)/db1"))
            // The runner reads the job it started (the template's run access), not others.
            #expect(try await rob.send("GET", "pushy/jobs/\(id)").status == 200)

            func refused(_ method: String, _ path: String, _ body: JSONValue) async throws -> (Int, String) {
                do {
                    _ = try await rob.send(method, path, json: body)
                    return (0, "accepted")
                } catch PushyClientError.http(let status, let message, _) {
                    return (status, message)
                }
            }
            let adHoc = try await refused("POST", "pushy/jobs", ["command": "deploy 6.6.6", "nodes": ["web1"]])
            #expect(adHoc.0 == 403, "\(adHoc.1)")
            let otherTemplate = try await refused("POST", "pushy/templates/backup/run", [:])
            #expect(otherTemplate.0 == 403)
            #expect(otherTemplate.1.contains("rob may not run template 'backup'"), "\(otherTemplate.1)")
            let badVersion = try await refused("POST", "pushy/templates/restart-app/run", ["parameters": ["version": "1.2.3; rm -rf /"]])
            #expect(badVersion.0 == 400)
            #expect(badVersion.1.contains("invalid value for parameter 'version'"), "\(badVersion.1)")
            let badRole = try await refused("POST", "pushy/templates/restart-app/run", ["parameters": ["version": "1.2.3", "role": "*"]])
            #expect(badRole.0 == 400)
            #expect(badRole.1.contains("invalid value for parameter 'role': '*' is not one of webapp, db"), "\(badRole.1)")
            #expect(try await c.admin.jobs().count == 1, "no refused request started a job")
        } catch {
            await c.shutdown()
            throw error
        }
        await c.shutdown()
    }
}
