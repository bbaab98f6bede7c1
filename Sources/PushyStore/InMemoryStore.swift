import Foundation
import PushyProtocol

/// The in-memory twin of `SQLiteStore` for tests: same rules, same orderings, no files.
public actor InMemoryStore: PushyStore {
    private var orgs: [String: OrgRecord] = [:]
    private var principals: [Key: PrincipalRecord] = [:]
    private var nodes: [Key: NodeRecord] = [:]
    private var jobs: [String: JobRecord] = [:]
    private var jobNodeTable: [String: [String: JobNodeRecord]] = [:]
    private var outputs: [String: JobOutputRecord] = [:]
    /// Groups, tokens and audit entries (`InMemoryStore+Identity.swift`).
    var identity = IdentityTables()
    /// (org, template name) → versions, oldest first (`InMemoryStore+Templates.swift`).
    var templates: [Key: [TemplateRecord]] = [:]
    /// Schedules by id and their runs by run time (`InMemoryStore+Schedules.swift`).
    var schedules: [String: ScheduleRecord] = [:]
    var scheduleRunTable: [String: [Date: ScheduleRunRecord]] = [:]
    /// Plans by (org, name) and plan runs by id (`InMemoryStore+Plans.swift`).
    var plans: [Key: PlanRecord] = [:]
    var planRuns: [String: PlanRunRecord] = [:]

    /// An `(org, name)` or `(jobId, node)` pair.
    struct Key: Hashable {
        var scope: String
        var name: String
    }

    public init() {}

    public func createOrg(_ org: OrgRecord) throws(StoreError) {
        if orgs[org.name] != nil { throw .duplicate("organization '\(org.name)'") }
        if orgs.values.contains(where: { $0.guid == org.guid }) { throw .duplicate("organization guid '\(org.guid)'") }
        orgs[org.name] = org
    }

    public func org(named name: String) -> OrgRecord? { orgs[name] }

    public func listOrgs() -> [OrgRecord] { orgs.values.sorted { byteOrder($0.name, $1.name) } }

    public func deleteOrg(named name: String) -> Bool {
        guard orgs.removeValue(forKey: name) != nil else { return false }
        principals = principals.filter { $0.key.scope != name }
        nodes = nodes.filter { $0.key.scope != name }
        let gone = Set(jobs.values.filter { $0.org == name }.map(\.id))
        jobs = jobs.filter { !gone.contains($0.key) }
        jobNodeTable = jobNodeTable.filter { !gone.contains($0.key) }
        outputs = outputs.filter { !gone.contains($0.value.jobId) }
        identity.removeOrg(name)
        templates = templates.filter { $0.key.scope != name }
        plans = plans.filter { $0.key.scope != name }
        planRuns = planRuns.filter { $0.value.org != name }
        for s in schedules.values where s.org == name {
            schedules[s.id] = nil
            scheduleRunTable[s.id] = nil
        }
        return true
    }

    public func createPrincipal(_ p: PrincipalRecord) throws(StoreError) {
        try requireOrg(p.org)
        let key = Key(scope: p.org, name: p.name)
        if principals[key] != nil { throw .duplicate("principal '\(p.name)' in organization '\(p.org)'") }
        principals[key] = p
        if p.isAdmin { identity.addMember(org: p.org, group: "admins", GroupMember(p.type.groupMemberType, p.name)) }
    }

    public func principal(org: String, name: String) -> PrincipalRecord? {
        principals[Key(scope: org, name: name)]
    }

    public func listPrincipals(org: String, type: PrincipalType?) -> [PrincipalRecord] {
        principals.values
            .filter { $0.org == org && (type == nil || $0.type == type) }
            .sorted { byteOrder($0.name, $1.name) }
    }

    public func deletePrincipal(org: String, name: String) -> Bool {
        identity.removePrincipalEverywhere(org: org, name: name)
        return principals.removeValue(forKey: Key(scope: org, name: name)) != nil
    }

    public func upsertNode(_ n: NodeRecord) throws(StoreError) {
        try requireOrg(n.org)
        nodes[Key(scope: n.org, name: n.name)] = n
    }

    public func node(org: String, name: String) -> NodeRecord? { nodes[Key(scope: org, name: name)] }

    public func knownNodeNames(org: String, among names: [String]) -> Set<String> {
        Set(names.filter { n in
            principals.values.contains { $0.org == org && $0.name == n && $0.type == .client }
                || nodes.values.contains { $0.org == org && $0.name == n }
        })
    }

    public func listNodes(org: String) -> [NodeRecord] {
        nodes.values.filter { $0.org == org }.sorted { byteOrder($0.name, $1.name) }
    }

    /// Tests: runs before every `insertJob` (which waits for it, and fails with its error), to
    /// stand for a slow or failing disk.
    public var beforeInsertJob: (@Sendable () async throws(StoreError) -> Void)?

    public func setBeforeInsertJob(_ hook: (@Sendable () async throws(StoreError) -> Void)?) { beforeInsertJob = hook }

    /// When set, job updates fail with it (a full or read-only disk, for tests of retries).
    public var failJobUpdates: StoreError?
    public func setFailJobUpdates(_ error: StoreError?) { failJobUpdates = error }

    public func insertJob(_ job: JobRecord, nodes jobNodes: [JobNodeRecord]) async throws(StoreError) {
        if let hook = beforeInsertJob { try await hook() }
        try requireOrg(job.org)
        if jobs[job.id] != nil { throw .duplicate("job '\(job.id)'") }
        var table: [String: JobNodeRecord] = [:]
        for var n in jobNodes {
            if table[n.node] != nil { throw .duplicate("node '\(n.node)' in job '\(job.id)'") }
            n.jobId = job.id
            table[n.node] = n
        }
        jobs[job.id] = job
        jobNodeTable[job.id] = table
    }

    public func updateJob(id: String, status: JobStatus, reason: String?, updatedAt: Date) throws(StoreError) {
        if let failJobUpdates { throw failJobUpdates }
        guard var job = jobs[id] else { throw .notFound("job '\(id)'") }
        job.status = status
        job.statusReason = reason
        job.updatedAt = updatedAt
        jobs[id] = job
    }

    public func applyNodeUpdates(_ updates: [JobNodeUpdate]) throws(StoreError) {
        if let failJobUpdates { throw failJobUpdates }
        // Check everything first so a failing batch changes nothing, like the SQL transaction.
        for u in updates where jobNodeTable[u.jobId]?[u.node] == nil {
            throw .notFound("node '\(u.node)' in job '\(u.jobId)'")
        }
        for u in updates {
            jobNodeTable[u.jobId]![u.node] = JobNodeRecord(
                jobId: u.jobId, node: u.node, status: u.status, reason: u.reason ?? jobNodeTable[u.jobId]![u.node]!.reason,
                updatedAt: u.at)
        }
    }

    public func job(org: String, id: String) -> JobRecord? {
        guard let job = jobs[id], job.org == org else { return nil }
        return job
    }

    public func jobNodes(jobId: String) -> [JobNodeRecord] {
        (jobNodeTable[jobId] ?? [:]).values.sorted { byteOrder($0.node, $1.node) }
    }

    public func listJobs(org: String) -> [JobRecord] {
        jobs.values.filter { $0.org == org }.sorted(by: newestFirst)
    }

    public func crashUnfinishedJobs(reason: String, at: Date) -> [String] {
        let unfinished = jobs.values.filter { !$0.status.isTerminal }.sorted(by: newestFirst).reversed()
        for job in unfinished {
            jobs[job.id]?.status = .crashed
            jobs[job.id]?.statusReason = reason
            jobs[job.id]?.updatedAt = at
            for (name, n) in jobNodeTable[job.id] ?? [:] where !n.status.isTerminal {
                jobNodeTable[job.id]![name] = JobNodeRecord(
                    jobId: job.id, node: name, status: .crashed, reason: reason, updatedAt: at)
            }
        }
        return unfinished.map(\.id)
    }

    public func saveOutput(_ o: JobOutputRecord) async throws(StoreError) {
        guard jobs[o.jobId] != nil else { throw .notFound("job '\(o.jobId)'") }
        outputs[o.jobId + "/" + o.node] = o
    }

    public func output(jobId: String, node: String) async throws(StoreError) -> JobOutputRecord? {
        outputs[jobId + "/" + node]
    }

    public func outputs(jobId: String) async throws(StoreError) -> [JobOutputRecord] {
        outputs.values.filter { $0.jobId == jobId }.sorted { byteOrder($0.node, $1.node) }
    }

    func requireOrg(_ name: String) throws(StoreError) {
        if orgs[name] == nil { throw .notFound("organization '\(name)'") }
    }
}

/// SQLite's default BINARY collation: compare UTF-8 bytes.
func byteOrder(_ a: String, _ b: String) -> Bool {
    a.utf8.lexicographicallyPrecedes(b.utf8)
}

/// Newest first; equal times fall back to the id, descending (as `ORDER BY created_at DESC, id DESC`).
func newestFirst(_ a: JobRecord, _ b: JobRecord) -> Bool {
    if a.createdAt != b.createdAt { return a.createdAt > b.createdAt }
    return byteOrder(b.id, a.id)

}
