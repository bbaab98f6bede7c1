import Foundation
import PushyProtocol
import Testing

/// Job templates' own access rules (issue 13) at router level: template × action × principal,
/// the denials' wording, versions and the audit log. (A template run over real agents, by a
/// user who may run only it, is `TemplateTests` in PushyIntegrationTests.)
///
/// Two minutes: a few seconds alone, more beside every other suite in a full `swift test` on a
/// loaded two-core machine.
@Suite(.timeLimit(.minutes(5))) struct TemplateAccessTests {
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
        try await RouterRig.run { rig in
            let admin = rig.admin
            var signers: [Who: Signer] = [:]
            for who in Who.allCases where who != .otherOrg {
                try await admin.createUser(who.user, admin: who == .admin)
                signers[who] = Signer(userId: who.user, key: rig.key(who.user)!)
            }
            for (group, type, name) in [
                ("pushy_job_writers", "user", "wendy"), ("pushy_job_writers", "user", "cora"), ("pushy_job_writers", "group", "admins"),
                ("pushy_job_readers", "user", "rita"), ("pushy_job_readers", "group", "pushy_job_writers"),
                ("oncall", "user", "rob"), ("deployers", "group", "oncall"),
            ] {
                try await admin.addGroupMember(group: group, type: type, name: name)
            }
            try await admin.createOrganization("other")
            try await rig.caller("admin", org: "other").createUser("olga", admin: true)
            signers[.otherOrg] = Signer(userId: "olga", key: rig.key("olga")!)
            try await rig.createNode("web1")
            let signersNow = signers
            func send(_ method: String, _ path: String, body: JSONValue? = nil, as who: Who) async throws -> Reply {
                try await rig.signed(method, path, json: body, as: signersNow[who])
            }

            let p = "/organizations/pushy/pushy"
            let created = try await send("POST", "\(p)/templates", body: Self.template, as: .creator)
            #expect(created.status == 201, "\(created.text)")
            let plain = try await send("POST", "\(p)/templates", body: ["name": "other", "command": "ok", "nodes": ["web1"]], as: .creator)
            #expect(plain.status == 201, "\(plain.text)")
            let run = try await send("POST", "\(p)/templates/restart-app/run", body: [:], as: .creator)
            #expect(run.status == 201, "\(run.text)")
            let jobId = try #require(try JSONValue.parse(run.text)["id"]?.stringValue)

            for who in Who.allCases {
                let e = try #require(Self.expected[who])
                func check(_ what: String, _ method: String, _ path: String, _ body: JSONValue?, _ status: Int) async throws {
                    let r = try await send(method, path, body: body, as: who)
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
                let list = try await send("GET", "\(p)/templates", as: who)
                if who == .otherOrg {
                    #expect(list.status == 403)
                } else {
                    let names = try JSONValue.parse(list.text).arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
                    #expect(names.contains("restart-app") == e.listed, "\(who) lists \(names)")
                }
            }

            // The denial says which rule: a runner may not edit, an editor may not run.
            let denied = try await send("POST", "\(p)/templates/other/run", body: [:], as: .runner)
            #expect(denied.text.contains("rob may not run template 'other' (not in its run access, not a job writer)"), "\(denied.text)")
            let noEdit = try await send("DELETE", "\(p)/templates/restart-app", as: .runner)
            #expect(noEdit.status == 403)
            #expect(noEdit.text.contains("rob may not delete template 'restart-app'"), "\(noEdit.text)")

            // Every edit made a version; the first is still readable; the job names its version.
            let t = try JSONValue.parse(try await send("GET", "\(p)/templates/restart-app", as: .admin).text)
            #expect(t["version"] == 4, "creator, editor and admin each edited once: \(t)")
            #expect(t["created_by"] == "cora")
            #expect(t["author"] == "alice")
            let v1 = try JSONValue.parse(try await send("GET", "\(p)/templates/restart-app?version=1", as: .admin).text)
            #expect(v1["version"] == 1)
            #expect(v1["author"] == "cora")
            let job = try JSONValue.parse(try await send("GET", "\(p)/jobs/\(jobId)", as: .admin).text)
            #expect(job["template"] == "restart-app")
            #expect(job["template_version"] == 1)

            // The editor may delete it; it is gone (and in the audit log, with its runs).
            let gone = try await send("DELETE", "\(p)/templates/restart-app", as: .editor)
            #expect(gone.status == 200, "\(gone.text)")
            #expect(try await send("GET", "\(p)/templates/restart-app", as: .admin).status == 404)
            let audit = try JSONValue.parse(try await send("GET", "/organizations/pushy/audit?limit=1000", as: .admin).text)
            let actions = Set(audit.arrayValue?.compactMap { $0["action"]?.stringValue } ?? [])
            #expect(actions.isSuperset(of: ["template.created", "template.edited", "template.run", "template.deleted"]), "\(actions)")
        }
    }

    /// What a runner may start they may stop and start again: rob (run access only) aborts and
    /// re-runs the jobs of his template (the re-run records the template); an editor may not,
    /// nor may rob touch an ad-hoc job.
    @Test func aRunnerAbortsAndReRunsItsTemplatesJobs() async throws {
        try await RouterRig.run { rig in
            let admin = rig.admin
            for name in ["rob", "ed"] { try await admin.createUser(name) }
            try await admin.addGroupMember(group: "pushy_job_writers", type: "group", name: "admins")
            try await rig.startAgent("web1")
            try await rig.startAgent("web2")
            _ = try await admin.ok("POST", "pushy/templates", json: [
                "name": "long", "command": "sleep", "nodes": ["web1"],
                "access": ["run": ["users": ["rob"]], "edit": ["users": ["ed"]]],
            ])
            let p = "/organizations/pushy/pushy"
            let robSigner = Signer(userId: "rob", key: rig.key("rob")!), edSigner = Signer(userId: "ed", key: rig.key("ed")!)
            let run = try await rig.signed("POST", "\(p)/templates/long/run", json: [:], as: robSigner)
            #expect(run.status == 201, "\(run.text)")
            let id = try #require(try JSONValue.parse(run.text)["id"]?.stringValue)
            let adHoc = try await admin.startJob(JobRequest(command: "sleep", nodes: ["web2"]))

            let byEditor = try await rig.signed("PUT", "\(p)/jobs/\(id)/abort", json: [:], as: edSigner)
            #expect(byEditor.status == 403)
            #expect(byEditor.text.contains("ed may not abort job \(id) (not a job writer, not in the run access of its template 'long')"), "\(byEditor.text)")
            let other = try await rig.signed("PUT", "\(p)/jobs/\(adHoc)/abort", json: [:], as: robSigner)
            #expect(other.status == 403, "\(other.text)")

            let aborted = try await rig.signed("PUT", "\(p)/jobs/\(id)/abort", json: [:], as: robSigner)
            #expect(aborted.status == 200, "\(aborted.text)")
            #expect(try await admin.waitFinished(id).status == .aborted)
            let rerun = try await rig.signed("POST", "\(p)/jobs/\(id)/rerun", json: ["nodes": "all"], as: robSigner)
            #expect(rerun.status == 201, "\(rerun.text)")
            let second = try #require(try JSONValue.parse(rerun.text)["id"]?.stringValue)
            let view = try JSONValue.parse(try await rig.signed("GET", "\(p)/jobs/\(second)", json: nil, as: robSigner).text)
            #expect(view["template"] == "long" && view["rerun_of"] == .string(id), "\(view)")
            #expect(try await rig.signed("PUT", "\(p)/jobs/\(second)/abort", json: [:], as: robSigner).status == 200)
            _ = try await admin.waitFinished(second)
            // Once the template has changed, its runner runs it again rather than re-running an old job.
            let edited = try await rig.signed("PUT", "\(p)/templates/long", json: [
                "name": "long", "command": "ok", "nodes": ["web1"],
                "access": ["run": ["users": ["rob"]], "edit": ["users": ["ed"]]],
            ], as: edSigner)
            #expect(edited.status == 200, "\(edited.text)")
            let stale = try await rig.signed("POST", "\(p)/jobs/\(second)/rerun", json: ["nodes": "all"], as: robSigner)
            #expect(stale.status == 403, "\(stale.text)")
            #expect(stale.text.contains("it was made from version 1 of template 'long' and it is at version 2"), "\(stale.text)")
            _ = try await admin.abortJob(adHoc)
        }
    }
}
