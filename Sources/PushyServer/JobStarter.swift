import Foundation
import PushyCore
import PushyProtocol
import PushyStore

/// What a principal may do with one template, decided once per request (or scheduled run).
struct TemplateRights: Sendable {
    var admin: Bool
    var writer: Bool
    var reader: Bool
    var creator: Bool
    var run: Bool
    var edit: Bool
    var read: Bool

    var mayRun: Bool { admin || writer || run }
    var mayEdit: Bool { admin || creator || edit }
    var mayRead: Bool { admin || reader || run || edit || read || creator }
    /// Reading a job made from the template: readers as for any job, plus its read/run principals.
    var mayReadJobs: Bool { admin || reader || run || read }

    init(admin: Bool, writer: Bool, reader: Bool, creator: Bool, run: Bool, edit: Bool, read: Bool) {
        (self.admin, self.writer, self.reader, self.creator) = (admin, writer, reader, creator)
        (self.run, self.edit, self.read) = (run, edit, read)
    }

    init(_ p: Principal, _ t: JobTemplate, createdBy: String, rules: AccessRules) {
        func inSet(_ s: PrincipalSet) -> Bool {
            (p.isUser && s.users.contains(p.name)) || s.groups.contains { rules.isMember(p.member, of: $0) }
        }
        self.init(
            admin: p.isSuperuser || rules.isAdmin(p.member), writer: rules.canWrite(p.member), reader: rules.canRead(p.member),
            creator: p.isUser && p.name == createdBy, run: inSet(t.access.run), edit: inSet(t.access.edit),
            read: inSet(t.access.read))
    }
}

/// The one path that starts a job for a principal (issue 14): `POST /jobs`, a template run,
/// the scheduler and plan steps all come through here, so rights, template rules, search,
/// unknown-node checks and the job's origin are decided the same way wherever a job comes from.
/// Errors are `APIError`s: a REST handler answers with them, the scheduler records their message.
struct JobStarter: Sendable {
    let store: any PushyStore
    let engine: CommandEngine

    /// `name` as a principal of `org` as they are now (for work done later on their behalf:
    /// schedules, plan steps): a member of `org`, or a superuser of `defaultOrg` (who acts as
    /// an admin of every organization, as in a signed request). 403 when gone.
    func currentPrincipal(org orgName: String, name: String, defaultOrg: String?) async throws(APIError) -> Principal {
        let org: OrgRecord?
        var p: PrincipalRecord?
        do {
            org = try await store.org(named: orgName)
            p = try await store.principal(org: orgName, name: name)
            if p == nil, let defaultOrg, defaultOrg != orgName {
                p = try await store.principal(org: defaultOrg, name: name).flatMap { $0.isSuperuser ? $0 : nil }
            }
        } catch { throw .from(error) }
        guard let org else { throw .unknownOrg(orgName) }
        guard let p else { throw .forbidden("'\(name)' no longer exists in organization '\(orgName)'") }
        return Principal(org: org, record: p)
    }

    /// What to start.
    enum Source: Sendable {
        /// A full job spec; a `search`, when given, picks the nodes instead of the spec's list.
        case spec(JobRequest, search: String?)
        /// A stored template (its latest version) with parameter values, optionally narrowed to `nodes`.
        /// `adjust` changes the job made from it (a plan step's own quorum and rate control).
        case template(name: String, parameters: [(String, JSONValue)], nodes: [String]?,
                      adjust: (@Sendable (inout JobRequest) -> Void)? = nil)
    }

    /// A started job and what the audit log says about it.
    struct Started: Sendable {
        var snapshot: ActiveJobSnapshot
        var job: JobRequest
        var template: String?
        var templateVersion: Int?
        /// The template's parameter values as filled (given or default), in its order.
        var values: [(String, String)]
        var id: String { snapshot.id }
    }

    // MARK: Whole path (scheduler, plans)

    /// Checks `p`'s rights as they are now and starts the job, linked to `origin`.
    func start(_ source: Source, as p: Principal, origin: String?) async throws(APIError) -> Started {
        switch source {
        case .spec(let job, let search):
            try await authorizeSpec(p)
            return try await startSpec(job, search: search, as: p, origin: origin)
        case .template(let name, let parameters, let nodes, let adjust):
            let (record, t) = try await authorizeTemplate(name: name, org: p.org.name, as: p)
            return try await startTemplate(record, t, parameters: parameters, nodes: nodes, as: p, origin: origin, adjust: adjust)
        }
    }

    // MARK: Rights

    func accessRules(_ org: String) async throws(APIError) -> AccessRules {
        do { return AccessRules(groups: try await store.listGroups(org: org)) } catch { throw .from(error) }
    }

    /// The reference's 403 for a principal outside the required group (spec 2.1).
    static func denied(_ p: Principal) -> APIError {
        .forbidden("User or client '\(p.name)' does not have access to that action on this server.")
    }

    static func templateDenied(_ p: Principal, _ action: String, _ name: String, _ rule: String) -> APIError {
        .forbidden("\(p.name) may not \(action) template '\(name)' (\(rule))")
    }

    /// Starting an arbitrary job: `pushy_job_writers` if it exists, else `admins`.
    func authorizeSpec(_ p: Principal) async throws(APIError) {
        if p.isSuperuser { return }
        guard try await accessRules(p.org.name).canWrite(p.member) else { throw Self.denied(p) }
    }

    /// Running a template: job writers and admins, plus the template's `run` principals.
    /// Returns the latest version and its parsed definition.
    func authorizeTemplate(name: String, org: String, as p: Principal) async throws(APIError) -> (TemplateRecord, JobTemplate) {
        let (record, t) = try await loadTemplate(org: org, name: name)
        let r = TemplateRights(p, t, createdBy: record.createdBy, rules: try await accessRules(org))
        guard r.mayRun else { throw Self.templateDenied(p, "run", name, "not in its run access, not a job writer") }
        return (record, t)
    }

    /// The stored template (latest or `version`) and its parsed definition; 404 when absent.
    func loadTemplate(org: String, name: String, version: Int? = nil) async throws(APIError) -> (TemplateRecord, JobTemplate) {
        let record: TemplateRecord?
        do { record = try await store.template(org: org, name: name, version: version) } catch { throw .from(error) }
        guard let record else {
            if let version { throw .notFound("template '\(name)' has no version \(version) in organization '\(org)'") }
            throw .notFound("template '\(name)' not found in organization '\(org)'")
        }
        do { return (record, try JobTemplate.parse(record.definition, name: name)) } catch {
            // Saved by an earlier version that accepted it (e.g. a parameter pattern with
            // lookbehind, which ICU took and Swift's Regex does not): the operator can fix it.
            throw .conflict("stored template '\(name)' version \(record.version) is no longer valid: \(error.message); "
                            + "save the template again with a definition this server accepts (pushy template create)")
        }
    }

    // MARK: Starting (rights already checked)

    func startSpec(_ job: JobRequest, search: String?, as p: Principal, origin: String?) async throws(APIError) -> Started {
        var job = job
        if let search { job.nodes = try await resolve(search: search, org: p.org.name, what: "the search") }
        try await checkNodesKnown(org: p.org.name, job.nodes)
        let snapshot: ActiveJobSnapshot
        do {
            snapshot = try await engine.startJob(org: p.org.name, orgGUID: p.org.guid, request: job, requestor: p.name,
                                                 origin: origin)
        } catch { throw .from(error) }
        return Started(snapshot: snapshot, job: job, template: nil, templateVersion: nil, values: [])
    }

    /// Checks the values, fills the slots, resolves the target (narrowed to `nodes`) and starts the job.
    func startTemplate(_ record: TemplateRecord, _ t: JobTemplate, parameters: [(String, JSONValue)], nodes subset: [String]?,
                       as p: Principal, origin: String?, adjust: (@Sendable (inout JobRequest) -> Void)? = nil)
        async throws(APIError) -> Started {
        let name = record.name, org = p.org.name
        let instance: JobTemplate.Instance
        do { instance = try t.instantiate(parameters) } catch { throw .validation(error.message) }
        var nodes: [String]
        switch instance.target {
        case .nodes(let names): nodes = names
        case .search(let q): nodes = try await resolve(search: q, org: org, what: "the template's search")
        }
        if let subset {
            let outside = subset.filter { !nodes.contains($0) }
            guard outside.isEmpty else {
                throw .validation("node(s) \(outside.joined(separator: ", ")) are not in the target of template '\(name)' (\(nodes.count) node(s)); 'nodes' may only narrow it")
            }
            nodes = subset
        }
        var job = instance.jobRequest(nodes: nodes)
        adjust?(&job)
        try await checkNodesKnown(org: org, job.nodes)
        let snapshot: ActiveJobSnapshot
        do {
            snapshot = try await engine.startJob(org: org, orgGUID: p.org.guid, request: job, requestor: p.name,
                                                 template: (name, record.version), origin: origin)
        } catch { throw .from(error) }
        return Started(snapshot: snapshot, job: job, template: name, templateVersion: record.version, values: instance.values)
    }

    /// The org's nodes matching `q`, by name; a search that matches nothing is an error (a job
    /// on no node would only confuse).
    func resolve(search q: String, org: String, what: String) async throws(APIError) -> [String] {
        let query: SearchQuery
        do { query = try SearchQuery.parse(q) } catch {
            throw .validation("\(what) '\(q)' is not a valid query: \(error.description)")
        }
        let all: [NodeRecord]
        do { all = try await store.listNodes(org: org) } catch { throw .from(error) }
        let nodes = all.filter { query.matches(PushyAPI.document($0)) }.map(\.name).sorted()
        guard !nodes.isEmpty else { throw .validation("\(what) '\(q)' matches no node: nothing to run") }
        return nodes
    }

    /// Names that are neither a registered client nor a reported node are a typo, not an
    /// offline node: refuse the job and say which names are unknown.
    func checkNodesKnown(org: String, _ names: [String]) async throws(APIError) {
        let unconnected = await engine.namesWithoutSession(org: org, names)
        guard !unconnected.isEmpty else { return }
        let known: Set<String>
        do { known = try await store.knownNodeNames(org: org, among: unconnected) } catch { throw .from(error) }
        let unknown = unconnected.filter { !known.contains($0) }
        guard unknown.isEmpty else {
            let shown = unknown.prefix(20).joined(separator: ", ") + (unknown.count > 20 ? " and \(unknown.count - 20) more" : "")
            throw .validation("unknown node(s): \(shown) (no client or node by that name in organization '\(org)'; create one with 'pushy client create NAME')")
        }
    }
}

extension PushyAPI {
    var starter: JobStarter { JobStarter(store: store, engine: engine) }
}
