import Foundation
import PushyProtocol

/// A stored schedule (issue 14): what to run and when (`definition`, parsed by the server),
/// who it runs as, and what the scheduler has handled so far.
public struct ScheduleRecord: Sendable, Hashable {
    /// 32 hex characters, new for every creation: a schedule deleted and created again under the
    /// same name starts a new history (its run times are claimed afresh).
    public var id: String
    public var org: String
    public var name: String
    /// The principal the schedule runs as; their rights are checked at every run.
    public var owner: String
    /// The schedule as `ScheduleSpec.json` writes it.
    public var definition: JSONValue
    public var paused: Bool
    /// Every run time up to this one has been handled (fired, skipped or queued).
    public var cursor: Date
    /// A run time waiting for the previous job to end (overlap `queue`).
    public var queued: Date?
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: String, org: String, name: String, owner: String, definition: JSONValue, paused: Bool = false,
                cursor: Date, queued: Date? = nil, createdAt: Date, updatedAt: Date? = nil) {
        self.id = id
        self.org = org
        self.name = name
        self.owner = owner
        self.definition = definition
        self.paused = paused
        self.cursor = cursor
        self.queued = queued
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
    }
}

/// What became of one run time of a schedule.
public enum ScheduleRunOutcome: String, Sendable, CaseIterable {
    /// The run time is claimed and its job is being started (a server that stops here leaves it so).
    case starting
    /// The job started (`jobId`); its own status says how it went.
    case started
    /// Not run: missed, overlapping, … (`reason`).
    case skipped
    /// Not run: the owner may no longer run it, or the template's rules refuse them (`reason`).
    case refused
    /// The job could not be started (unknown nodes, a search matching nothing, …: `reason`).
    case failed
}

/// One run time of a schedule. `(scheduleId, tick)` is unique: inserting the row is how a
/// server takes the run time, so it never runs twice (across restarts, and across servers
/// sharing a database).
public struct ScheduleRunRecord: Sendable, Hashable {
    public var scheduleId: String
    /// The run time (whole seconds).
    public var tick: Date
    /// When the scheduler decided.
    public var at: Date
    public var outcome: ScheduleRunOutcome
    public var jobId: String?
    public var reason: String?

    public init(scheduleId: String, tick: Date, at: Date, outcome: ScheduleRunOutcome, jobId: String? = nil,
                reason: String? = nil) {
        self.scheduleId = scheduleId
        self.tick = tick
        self.at = at
        self.outcome = outcome
        self.jobId = jobId
        self.reason = reason
    }
}
