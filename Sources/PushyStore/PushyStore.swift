import Foundation
import PushyProtocol

/// Everything the server persists, behind one async protocol so SQLite (the embedded default),
/// PostgreSQL (`PushyPostgres.PostgresStore`) and the in-memory twin used by tests are interchangeable.
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

    /// Deletes the organization and everything in it (principals, groups, nodes, jobs, output,
    /// tokens, audit entries). Returns whether it existed.
    func deleteOrg(named: String) async throws(StoreError) -> Bool

    /// Throws `.duplicate` when `(org, name)` is taken (by a user or a client), `.notFound` without the org.
    /// A principal with the legacy `isAdmin` flag is also added to the org's `admins` group.
    func createPrincipal(_ p: PrincipalRecord) async throws(StoreError)
    func principal(org: String, name: String) async throws(StoreError) -> PrincipalRecord?
    /// The org and one of its principals in one read (every signed request needs both): one
    /// trip to the store instead of two. The default asks for each in turn.
    func orgAndPrincipal(org: String, name: String) async throws(StoreError) -> (org: OrgRecord?, principal: PrincipalRecord?)
    /// All principals of `org`, or only those of `type`.
    func listPrincipals(org: String, type: PrincipalType?) async throws(StoreError) -> [PrincipalRecord]
    /// Returns whether a principal was deleted. Its group memberships go with it, so a later
    /// principal of the same name inherits no rights.
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
    /// Which of `names` are known in the org as a client or a reported node (one query for a
    /// whole job's node list, instead of listing the org).
    func knownNodeNames(org: String, among names: [String]) async throws(StoreError) -> Set<String>
    /// Stores (replaces) a node's captured output for a job.
    func saveOutput(_ output: JobOutputRecord) async throws(StoreError)
    /// A node's captured output for a job, nil when none was stored.
    func output(jobId: String, node: String) async throws(StoreError) -> JobOutputRecord?
    /// Every node's captured output for a job, in node-name order (for grouped output).
    func outputs(jobId: String) async throws(StoreError) -> [JobOutputRecord]

    // MARK: Groups (nested; authorization resolves membership recursively)

    /// `.duplicate` when the group exists, `.notFound` without the org.
    func createGroup(org: String, name: String) async throws(StoreError)
    func group(org: String, name: String) async throws(StoreError) -> GroupRecord?
    /// Every group of the org with its members, by name.
    func listGroups(org: String) async throws(StoreError) -> [GroupRecord]
    /// Adds `member`, creating the group when it does not exist. Returns false when it was
    /// already a member. `.notFound` without the org. Whether the member exists is the caller's check.
    func addGroupMember(org: String, group: String, member: GroupMember) async throws(StoreError) -> Bool
    /// Returns whether the member was removed.
    func removeGroupMember(org: String, group: String, member: GroupMember) async throws(StoreError) -> Bool
    /// Deletes the group and its entries in other groups. Returns whether it existed.
    func deleteGroup(org: String, name: String) async throws(StoreError) -> Bool

    // MARK: Enrolment tokens

    /// `.duplicate` for a hash already stored, `.notFound` without the org.
    func createEnrollmentToken(_ token: EnrollmentTokenRecord) async throws(StoreError)
    func enrollmentToken(hash: String) async throws(StoreError) -> EnrollmentTokenRecord?
    /// In one transaction: checks the token (it must belong to `client.org`, be unused and not
    /// expired at `at`), creates `client` and marks the token used by it. Throws `.duplicate`
    /// when the client's name is taken, and then the token stays unused.
    func enroll(tokenHash: String, client: PrincipalRecord, at: Date) async throws(StoreError) -> EnrollmentOutcome

    // MARK: Audit log

    /// Appends an entry (its `id` is ignored) and returns the id it was given. `.notFound` without the org.
    @discardableResult
    func appendAudit(_ entry: AuditRecord) async throws(StoreError) -> Int64
    /// The org's most recent `limit` entries, newest first.
    func listAudit(org: String, limit: Int) async throws(StoreError) -> [AuditRecord]

    // MARK: Job templates (issue 13; versioned)

    /// Stores version 1 of a new template (`t.version` must be 1). `.duplicate` when the org
    /// has a template of that name, `.notFound` without the org.
    func createTemplate(_ t: TemplateRecord) async throws(StoreError)
    /// Stores the next version of an existing template: `t.version` must be the latest + 1
    /// (`.duplicate` otherwise, e.g. two edits racing); `.notFound` for an unknown template.
    func addTemplateVersion(_ t: TemplateRecord) async throws(StoreError)
    /// One version of a template, the latest when `version` is nil; nil when there is none.
    func template(org: String, name: String, version: Int?) async throws(StoreError) -> TemplateRecord?
    /// The latest version of each of the org's templates, by name.
    func listTemplates(org: String) async throws(StoreError) -> [TemplateRecord]
    /// Deletes every version of a template. Returns whether it existed. (Jobs keep its name
    /// and version; a template created again later starts at version 1.)
    func deleteTemplate(org: String, name: String) async throws(StoreError) -> Bool

    // MARK: Schedules (issue 14)

    /// `.duplicate` when the org has a schedule of that name, `.notFound` without the org.
    func createSchedule(_ s: ScheduleRecord) async throws(StoreError)
    func schedule(org: String, name: String) async throws(StoreError) -> ScheduleRecord?
    /// The org's schedules by name.
    func listSchedules(org: String) async throws(StoreError) -> [ScheduleRecord]
    /// Every org's schedules (the scheduler's view), by org then name.
    func allSchedules() async throws(StoreError) -> [ScheduleRecord]
    /// Replaces owner, definition, paused, cursor, queued and updatedAt of the schedule with
    /// `s.id`. `.notFound` when it is gone.
    func updateSchedule(_ s: ScheduleRecord) async throws(StoreError)
    /// The scheduler's progress only (cursor and queued run time), written only while the
    /// schedule's `updatedAt` is still `readUpdatedAt` (the scheduler's read), so a pause, resume
    /// or edit made meanwhile wins. Returns whether it was written (false too for a schedule
    /// that is gone).
    @discardableResult
    func setScheduleProgress(id: String, cursor: Date, queued: Date?, readUpdatedAt: Date) async throws(StoreError) -> Bool
    /// Deletes the schedule and its run history. Returns whether it existed.
    func deleteSchedule(org: String, name: String) async throws(StoreError) -> Bool
    /// Takes a run time: inserts the row unless `(scheduleId, tick)` exists. Returns false when
    /// it did (another server, or an earlier life of this one, took it). Keeps the newest
    /// `keep` rows of the schedule. `.notFound` when the schedule is gone.
    func claimScheduleRun(_ r: ScheduleRunRecord, keep: Int) async throws(StoreError) -> Bool
    /// Sets a claimed run's outcome, job and reason. `.notFound` for an unknown run.
    func updateScheduleRun(_ r: ScheduleRunRecord) async throws(StoreError)
    /// The schedule's newest `limit` runs, newest run time first.
    func scheduleRuns(scheduleId: String, limit: Int) async throws(StoreError) -> [ScheduleRunRecord]

    // MARK: Plans (issue 14)

    /// `.duplicate` when the org has a plan of that name, `.notFound` without the org.
    func createPlan(_ p: PlanRecord) async throws(StoreError)
    func plan(org: String, name: String) async throws(StoreError) -> PlanRecord?
    /// The org's plans by name.
    func listPlans(org: String) async throws(StoreError) -> [PlanRecord]
    /// Deletes the plan (its runs stay). Returns whether it existed.
    func deletePlan(org: String, name: String) async throws(StoreError) -> Bool
    /// Inserts or replaces the run with `r.id`. `.notFound` without the org.
    func savePlanRun(_ r: PlanRunRecord) async throws(StoreError)
    /// The run if it belongs to `org`.
    func planRun(org: String, id: String) async throws(StoreError) -> PlanRunRecord?
    /// The org's newest `limit` runs, newest first.
    func listPlanRuns(org: String, limit: Int) async throws(StoreError) -> [PlanRunRecord]
    /// At server start: every run still `running` becomes `failed` with `reason`. Returns their ids.
    func failUnfinishedPlanRuns(reason: String, at: Date) async throws(StoreError) -> [String]

    /// Releases what the store holds open (a PostgreSQL store's connections and their task); later
    /// calls fail with `.io`. The server calls it when it stops. The default does nothing.
    func shutdown() async
}

extension PushyStore {
    public func shutdown() async {}

    public func orgAndPrincipal(org: String, name: String) async throws(StoreError) -> (org: OrgRecord?, principal: PrincipalRecord?) {
        (try await self.org(named: org), try await principal(org: org, name: name))
    }
}
