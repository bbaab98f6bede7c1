import Foundation
import PushyProtocol

/// Everything the server persists, behind one async protocol so SQLite (the embedded default),
/// PostgreSQL (later) and the in-memory twin used by tests are interchangeable.
///
/// Shared rules, pinned by the conformance suite:
/// - Records that belong to an organization need it to exist (`.notFound` otherwise).
/// - Lists are sorted: orgs, principals, nodes and job nodes by name (byte order), jobs newest first.
/// - Multi-record writes are one transaction: on error nothing is written.
public protocol PushyStore: Sendable {
    /// Throws `.duplicate` when the name or the guid is taken.
    func createOrg(_ org: OrgRecord) async throws(StoreError)
    func org(named: String) async throws(StoreError) -> OrgRecord?
    func listOrgs() async throws(StoreError) -> [OrgRecord]

    /// Throws `.duplicate` when `(org, name)` is taken (by a user or a client), `.notFound` without the org.
    func createPrincipal(_ p: PrincipalRecord) async throws(StoreError)
    func principal(org: String, name: String) async throws(StoreError) -> PrincipalRecord?
    /// All principals of `org`, or only those of `type`.
    func listPrincipals(org: String, type: PrincipalType?) async throws(StoreError) -> [PrincipalRecord]
    /// Returns whether a principal was deleted.
    func deletePrincipal(org: String, name: String) async throws(StoreError) -> Bool

    /// Inserts the node or replaces every field of the existing one. `.notFound` without the org.
    func upsertNode(_ n: NodeRecord) async throws(StoreError)
    func node(org: String, name: String) async throws(StoreError) -> NodeRecord?
    func listNodes(org: String) async throws(StoreError) -> [NodeRecord]

    /// Inserts the job and its nodes in one transaction. The nodes are stored under `job.id`
    /// whatever their `jobId` says. `.duplicate` for a taken id or a node named twice,
    /// `.notFound` without the org.
    func insertJob(_ job: JobRecord, nodes: [JobNodeRecord]) async throws(StoreError)
    /// Sets the job's status, reason and `updatedAt`. `.notFound` for an unknown id.
    func updateJob(id: String, status: JobStatus, reason: String?, updatedAt: Date) async throws(StoreError)
    /// Applies the updates in order in one transaction (the job's own `updatedAt` is untouched).
    /// `.notFound` if any `(jobId, node)` is unknown, and then none is applied.
    func applyNodeUpdates(_ updates: [JobNodeUpdate]) async throws(StoreError)
    /// The job if it belongs to `org`; another organization's job is nil.
    func job(org: String, id: String) async throws(StoreError) -> JobRecord?
    /// The job's nodes by name; empty for an unknown job.
    func jobNodes(jobId: String) async throws(StoreError) -> [JobNodeRecord]
    /// The organization's jobs, newest first (ties by id, descending).
    func listJobs(org: String) async throws(StoreError) -> [JobRecord]

    /// At server start: every job in new/voting/running (any org) becomes `crashed` with `reason`
    /// and `updatedAt = at`; its new/ready/running nodes become `crashed` with the same reason.
    /// Returns the affected job ids, oldest first.
    func crashUnfinishedJobs(reason: String, at: Date) async throws(StoreError) -> [String]
    /// Stores (replaces) a node's captured output for a job.
    func saveOutput(_ output: JobOutputRecord) async throws(StoreError)
    /// A node's captured output for a job, nil when none was stored.
    func output(jobId: String, node: String) async throws(StoreError) -> JobOutputRecord?
}
