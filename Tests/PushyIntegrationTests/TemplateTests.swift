import Foundation
import PushyAPIClient
import PushyProtocol
import Testing

/// Job templates (issue 13) against a real server: the access matrix (template × action ×
/// principal), and a parameterised template run over real agents by a user who may run only it.
@Suite(.serialized, .timeLimit(.minutes(5))) struct TemplateTests {
    /// Who calls, in the matrix.
    enum Who: String, CaseIterable, CustomStringConvertible, Sendable {
        /// `rob`: in group `oncall`, nested in `deployers`, which the template's `run` names. No job rights.
        case runner
        /// `ed`: named in the template's `edit`. No job rights.
        case editor
        /// `aud`: named in the template's `read`. No job rights.
        case templateReader
        /// `rita`: in `pushy_job_readers`.
        case reader
        /// `wendy`: in `pushy_job_writers`.
        case writer
        /// `cora`: a writer, who created the template.
        case creator
        /// `alice`: in `admins`.
        case admin
        /// `mel`: a user of the org in no group and no template rule.
        case outsider
        /// `olga`: an admin of another org.
        case otherOrg
        var description: String { rawValue }

        var user: String {
            switch self {
            case .runner: "rob"
            case .editor: "ed"
            case .templateReader: "aud"
            case .reader: "rita"
            case .writer: "wendy"
            case .creator: "cora"
            case .admin: "alice"
            case .outsider: "mel"
            case .otherOrg: "olga"
            }
        }
    }

    static let template: JSONValue = [
        "name": "restart-app", "command": "ok", "nodes": ["web1"],
        "access": ["run": ["groups": ["deployers"]], "edit": ["users": ["ed"]], "read": ["users": ["aud"]]],
    ]

    /// Expected statuses: read the template, edit it, run it, read a job made from it, start an
    /// ad-hoc job, run another template (no access lists), and whether the list shows it.
    static let expected: [Who: (read: Int, edit: Int, run: Int, readJob: Int, adHoc: Int, runOther: Int, listed: Bool)] = [
        .runner: (200, 403, 201, 200, 403, 403, true),
        .editor: (200, 200, 403, 403, 403, 403, true),
        .templateReader: (200, 403, 403, 200, 403, 403, true),
        .reader: (200, 403, 403, 200, 403, 403, true),
        .writer: (200, 403, 201, 200, 201, 201, true),
        .creator: (200, 200, 201, 200, 201, 201, true),
        .admin: (200, 200, 201, 200, 201, 201, true),
        .outsider: (403, 403, 403, 403, 403, 403, false),
        .otherOrg: (403, 403, 403, 403, 403, 403, false),
    ]

    @Test func accessMatrix() async throws {
        let c = try await TestCluster()
        do {
            let base = String(c.orgURL.dropLast("/organizations/pushy".count))
            let caller = RawCaller(base: base, http: try c.tls.httpClient())
            let admin = c.admin!
            var signers: [Who: RawCaller.Signer] = [:]
            for who in Who.allCases where who != .otherOrg {
                let key = try RSAPrivateKey.generate()
                try await admin.createUser(name: who.user, publicKeyPEM: key.publicKey.pemRepresentation, admin: who == .admin)
                signers[who] = .init(userId: who.user, key: key)
            }
            for (group, type, name) in [
                ("pushy_job_writers", "user", "wendy"), ("pushy_job_writers", "user", "cora"), ("pushy_job_writers", "group", "admins"),
                ("pushy_job_readers", "user", "rita"), ("pushy_job_readers", "group", "pushy_job_writers"),
                ("oncall", "user", "rob"), ("deployers", "group", "oncall"),
            ] {
                try await admin.addGroupMember(group: group, type: type, name: name)
            }
            _ = try await admin.createOrganization(name: "other")
            let other = try PushyRESTClient(orgURL: base + "/organizations/other", userId: "admin",
                                            key: try MatrixWorld.loadKey(c.dataDir + "/admin.pem"), tls: c.tls)
            let olga = try RSAPrivateKey.generate()
            try await other.createUser(name: "olga", publicKeyPEM: olga.publicKey.pemRepresentation, admin: true)
            signers[.otherOrg] = .init(userId: "olga", key: olga)
            try await c.createNode("web1")

            let p = "/organizations/pushy/pushy"
            let created = try await caller.send("POST", "\(p)/templates", body: Self.template, as: signers[.creator])
            #expect(created.status == 201, "\(created.text)")
            let plain = try await caller.send("POST", "\(p)/templates", body: ["name": "other", "command": "ok", "nodes": ["web1"]],
                                              as: signers[.creator])
            #expect(plain.status == 201, "\(plain.text)")
            let run = try await caller.send("POST", "\(p)/templates/restart-app/run", body: [:], as: signers[.creator])
            #expect(run.status == 201, "\(run.text)")
            let jobId = try #require(try JSONValue.parse(run.text)["id"]?.stringValue)

            for who in Who.allCases {
                let e = try #require(Self.expected[who])
                let s = signers[who]
                func check(_ what: String, _ method: String, _ path: String, _ body: JSONValue?, _ status: Int) async throws {
                    let r = try await caller.send(method, path, body: body, as: s)
                    #expect(r.status == status, "\(who) \(what): \(r.text)")
                    if r.status == 403, who != .otherOrg {
                        #expect(r.text.contains(who.user), "\(who) \(what): the denial names the principal: \(r.text)")
                    }
                }
                try await check("reads the template", "GET", "\(p)/templates/restart-app", nil, e.read)
                try await check("edits the template", "PUT", "\(p)/templates/restart-app", Self.template, e.edit)
                try await check("runs the template", "POST", "\(p)/templates/restart-app/run", [:], e.run)
                try await check("reads the template's job", "GET", "\(p)/jobs/\(jobId)", nil, e.readJob)
                try await check("reads the template's job output", "GET", "\(p)/jobs/\(jobId)/output?group=true", nil, e.readJob)
                try await check("starts an ad-hoc job", "POST", "\(p)/jobs", ["command": "ok", "nodes": ["web1"]], e.adHoc)
                try await check("runs another template", "POST", "\(p)/templates/other/run", [:], e.runOther)
                let list = try await caller.send("GET", "\(p)/templates", as: s)
                if who == .otherOrg {
                    #expect(list.status == 403)
                } else {
                    let names = try JSONValue.parse(list.text).arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
                    #expect(names.contains("restart-app") == e.listed, "\(who) lists \(names)")
                }
            }

            // The denial says which rule: a runner may not edit, an editor may not run.
            let denied = try await caller.send("POST", "\(p)/templates/other/run", body: [:], as: signers[.runner])
            #expect(denied.text.contains("rob may not run template 'other' (not in its run access, not a job writer)"), "\(denied.text)")
            let noEdit = try await caller.send("DELETE", "\(p)/templates/restart-app", as: signers[.runner])
            #expect(noEdit.status == 403)
            #expect(noEdit.text.contains("rob may not delete template 'restart-app'"), "\(noEdit.text)")

            // Every edit made a version; the first is still readable; the job names its version.
            let t = try JSONValue.parse(try await caller.send("GET", "\(p)/templates/restart-app", as: signers[.admin]).text)
            #expect(t["version"] == 4, "creator, editor and admin each edited once: \(t)")
            #expect(t["created_by"] == "cora")
            #expect(t["author"] == "alice")
            let v1 = try JSONValue.parse(try await caller.send("GET", "\(p)/templates/restart-app?version=1", as: signers[.admin]).text)
            #expect(v1["version"] == 1)
            #expect(v1["author"] == "cora")
            let job = try JSONValue.parse(try await caller.send("GET", "\(p)/jobs/\(jobId)", as: signers[.admin]).text)
            #expect(job["template"] == "restart-app")
            #expect(job["template_version"] == 1)

            // The editor may delete it; it is gone (and in the audit log, with its runs).
            let gone = try await caller.send("DELETE", "\(p)/templates/restart-app", as: signers[.editor])
            #expect(gone.status == 200, "\(gone.text)")
            #expect(try await caller.send("GET", "\(p)/templates/restart-app", as: signers[.admin]).status == 404)
            let audit = try JSONValue.parse(try await caller.send("GET", "/organizations/pushy/audit?limit=1000", as: signers[.admin]).text)
            let actions = Set(audit.arrayValue?.compactMap { $0["action"]?.stringValue } ?? [])
            #expect(actions.isSuperset(of: ["template.created", "template.edited", "template.run", "template.deleted"]), "\(actions)")
        } catch {
            await c.shutdown()
            throw error
        }
        await c.shutdown()
    }

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

            let robKey = try RSAPrivateKey.generate()
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
