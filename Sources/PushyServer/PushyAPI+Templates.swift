import Foundation
import Hummingbird
import PushyCore
import PushyProtocol
import PushyStore

/// Job templates (issue 13): stored, versioned job definitions with typed parameters and
/// their own access rules. A user who may not start arbitrary jobs can run exactly the
/// templates that grant it `run`.
extension PushyAPI {
    // MARK: Access

    /// `TemplateRights` (in `JobStarter.swift`, shared with the scheduler and plans).
    func rights(_ p: Principal, _ t: JobTemplate, createdBy: String, rules: AccessRules) -> TemplateRights {
        TemplateRights(p, t, createdBy: createdBy, rules: rules)
    }

    func templateDenied(_ p: Principal, _ action: String, _ name: String, _ rule: String) -> APIError {
        JobStarter.templateDenied(p, action, name, rule)
    }

    /// The stored template (latest or `version`) and its parsed definition; 404 when absent.
    func loadTemplate(org: String, name: String, version: Int? = nil) async throws(APIError) -> (TemplateRecord, JobTemplate) {
        try await starter.loadTemplate(org: org, name: name, version: version)
    }

    static func templateJSON(_ r: TemplateRecord, _ t: JobTemplate) -> JSONValue {
        var o = t.json.objectValue ?? []
        o.insert(("version", .number(Double(r.version))), at: 1)
        o += [("created_by", .string(r.createdBy)), ("author", .string(r.author)),
              ("updated_at", .string(WireTime.rfc1123(r.createdAt)))]
        return .object(o)
    }

    func templateURI(_ request: Request, org: String, name: String) -> String {
        jobURI(request, org: org, id: "").replacingOccurrences(of: "/pushy/jobs/", with: "/pushy/templates/") + name
    }

    /// Checks that every user and group a template's access names exists in the org, so a
    /// typo does not silently grant nothing.
    func checkAccessNames(org: String, _ a: TemplateAccess) async throws(APIError) {
        let rules = try await accessRules(org)
        for (rule, set) in [("run", a.run), ("edit", a.edit), ("read", a.read)] {
            for g in set.groups where rules.groups[g] == nil {
                throw .validation("invalid access.\(rule): no group '\(g)' in organization '\(org)'")
            }
            for u in set.users {
                let p: PrincipalRecord?
                do { p = try await store.principal(org: org, name: u) } catch { throw .from(error) }
                guard p?.type == .user else { throw .validation("invalid access.\(rule): no user '\(u)' in organization '\(org)'") }
            }
        }
    }

    // MARK: Handlers

    /// `GET .../templates`: the latest version of every template the caller may read.
    func listTemplates(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org")
        let p = try await authenticate(request, org: orgName, body: body)
        let rules = try await accessRules(orgName)
        let records: [TemplateRecord]
        do { records = try await store.listTemplates(org: orgName) } catch { throw .from(error) }
        var out: [JSONValue] = []
        for r in records {
            guard let t = try? JobTemplate.parse(r.definition, name: r.name) else { continue }
            if rights(p, t, createdBy: r.createdBy, rules: rules).mayRead { out.append(Self.templateJSON(r, t)) }
        }
        return .json(.array(out))
    }

    /// `POST .../templates`: version 1 of a new template. Job writers (and admins).
    func createTemplate(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org")
        let p = try await authenticate(request, org: orgName, body: body)
        let rules = try await accessRules(orgName)
        guard p.isSuperuser || rules.canWrite(p.member) || rules.isAdmin(p.member) else {
            throw .forbidden("\(p.name) may not create templates (not a job writer)")
        }
        try requireJSONBody(request)
        let t: JobTemplate
        do { t = try JobTemplate.parse(body) } catch { throw .validation(error.message) }
        try await checkAccessNames(org: orgName, t.access)
        let record = TemplateRecord(org: orgName, name: t.name, version: 1, definition: t.json, createdBy: p.name,
                                    author: p.name, createdAt: Date())
        do { try await store.createTemplate(record) } catch {
            if error.kind == .duplicate { throw .conflict("template '\(t.name)' already exists in organization '\(orgName)' (edit it with PUT .../templates/\(t.name))") }
            throw .from(error)
        }
        await audit(p, request, context, "template.created", target: "template:\(t.name)", detail: "version 1, command '\(t.command)'")
        let uri = templateURI(request, org: orgName, name: t.name)
        return .json(["uri": .string(uri), "name": .string(t.name), "version": 1], status: .created, headers: [.location: uri])
    }

    /// `GET .../templates/{name}[?version=N]`.
    func getTemplate(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org"), name = param(context, "name")
        let p = try await authenticate(request, org: orgName, body: body)
        var version: Int?
        if let text = request.uri.queryParameters.get("version") {
            guard let n = Int(String(text)), n >= 1 else { throw .badRequest("version must be a whole number >= 1, not '\(text)'") }
            version = n
        }
        let (record, t) = try await loadTemplate(org: orgName, name: name, version: version)
        // Access is decided by the latest version's rules (an old version may have been wider).
        var (latestRecord, latest) = (record, t)
        if version != nil { (latestRecord, latest) = try await loadTemplate(org: orgName, name: name) }
        let r = rights(p, latest, createdBy: latestRecord.createdBy, rules: try await accessRules(orgName))
        guard r.mayRead else { throw templateDenied(p, "read", name, "not in its read, run or edit access, not a job reader") }
        var json = Self.templateJSON(record, t).objectValue ?? []
        json.append(("latest_version", .number(Double(latestRecord.version))))
        return .json(.object(json))
    }

    /// `PUT .../templates/{name}`: a new version. Admins, the creator and its `edit` principals.
    func editTemplate(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org"), name = param(context, "name")
        let p = try await authenticate(request, org: orgName, body: body)
        let (record, current) = try await loadTemplate(org: orgName, name: name)
        let r = rights(p, current, createdBy: record.createdBy, rules: try await accessRules(orgName))
        guard r.mayEdit else { throw templateDenied(p, "edit", name, "not in its edit access, not its creator, not an admin") }
        try requireJSONBody(request)
        let t: JobTemplate
        do { t = try JobTemplate.parse(body, name: name) } catch { throw .validation(error.message) }
        try await checkAccessNames(org: orgName, t.access)
        let next = TemplateRecord(org: orgName, name: name, version: record.version + 1, definition: t.json,
                                  createdBy: record.createdBy, author: p.name, createdAt: Date())
        do { try await store.addTemplateVersion(next) } catch {
            if error.kind == .duplicate { throw .conflict("template '\(name)' was edited meanwhile: \(error.message); read it and try again") }
            throw .from(error)
        }
        await audit(p, request, context, "template.edited", target: "template:\(name)",
                    detail: "version \(next.version), command '\(t.command)'")
        return .json(["uri": .string(templateURI(request, org: orgName, name: name)), "name": .string(name),
                      "version": .number(Double(next.version))])
    }

    /// `DELETE .../templates/{name}`: every version. Admins, the creator and its `edit` principals.
    func deleteTemplate(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org"), name = param(context, "name")
        let p = try await authenticate(request, org: orgName, body: body)
        let (record, current) = try await loadTemplate(org: orgName, name: name)
        let r = rights(p, current, createdBy: record.createdBy, rules: try await accessRules(orgName))
        guard r.mayEdit else { throw templateDenied(p, "delete", name, "not in its edit access, not its creator, not an admin") }
        do { _ = try await store.deleteTemplate(org: orgName, name: name) } catch { throw .from(error) }
        await audit(p, request, context, "template.deleted", target: "template:\(name)", detail: "\(record.version) version(s)")
        return .json(["name": .string(name), "deleted_versions": .number(Double(record.version))])
    }

    /// `POST .../templates/{name}/run` `{"parameters": {...}, "nodes"?: [...]}`: checks the
    /// values, fills the slots, resolves the target and starts the job like `POST /jobs`.
    func runTemplate(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org"), name = param(context, "name")
        let p = try await authenticate(request, org: orgName, body: body)
        let (record, t) = try await starter.authorizeTemplate(name: name, org: orgName, as: p)
        if !body.isEmpty { try requireJSONBody(request) }
        let run: TemplateRunRequest
        do { run = try TemplateRunRequest.parse(body) } catch { throw .validation(error.message) }
        let started = try await starter.startTemplate(record, t, parameters: run.parameters, nodes: run.nodes, as: p, origin: nil)
        let (view, job, instance) = (started.snapshot, started.job, started)
        let shown = instance.values.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
        await audit(p, request, context, "template.run", target: "job:\(view.id)",
                    detail: "template '\(name)' version \(record.version) (\(shown)): command '\(job.command)' on \(job.nodes.count) node(s)")
        let uri = jobURI(request, org: orgName, id: view.id)
        return .json(["uri": .string(uri), "id": .string(view.id), "template": .string(name),
                      "template_version": .number(Double(record.version)), "command": .string(job.command),
                      "node_count": .number(Double(job.nodes.count))],
                     status: .created, headers: [.location: uri])
    }

    // MARK: Reading a template's jobs

    /// Reading one job (view, output, feed): job readers as before, plus the `read` and `run`
    /// principals of the template the job came from.
    func requireJobReader(_ p: Principal, org: String, jobId: String) async throws(APIError) {
        if p.isSuperuser { return }
        let rules = try await accessRules(org)
        if rules.canRead(p.member) { return }
        guard let (name, r) = try await jobTemplateRights(p, org: org, jobId: jobId, rules: rules) else { throw denied(p) }
        guard r.mayReadJobs else {
            throw .forbidden("\(p.name) may not read job \(jobId) (not a job reader, not in the read or run access of its template '\(name)')")
        }
    }

    /// Aborting or re-running one job: job writers, plus the principals who may run the template
    /// the job came from (what they may start, they may stop and start again).
    func requireJobRunner(_ p: Principal, org: String, jobId: String, action: String) async throws(APIError) {
        if p.isSuperuser { return }
        let rules = try await accessRules(org)
        if rules.canWrite(p.member) { return }
        guard let (name, r) = try await jobTemplateRights(p, org: org, jobId: jobId, rules: rules) else { throw denied(p) }
        guard r.mayRun else {
            throw .forbidden("\(p.name) may not \(action) job \(jobId) (not a job writer, not in the run access of its template '\(name)')")
        }
    }

    /// The template a job came from and `p`'s rights on it (its latest version); nil for a job
    /// not made from a template, or whose template is gone.
    func jobTemplateRights(_ p: Principal, org: String, jobId: String, rules: AccessRules) async throws(APIError) -> (String, TemplateRights)? {
        var templateName: String?
        if let live = await engine.activeJobSnapshot(org: org, id: jobId) {
            templateName = live.record.template
        } else {
            do { templateName = try await store.job(org: org, id: jobId)?.template } catch { throw .from(error) }
        }
        guard let name = templateName,
              let record = try? await store.template(org: org, name: name, version: nil),
              let t = try? JobTemplate.parse(record.definition, name: name)
        else { return nil }
        return (name, rights(p, t, createdBy: record.createdBy, rules: rules))
    }
}
