import Foundation
import PushyProtocol

/// A job as persisted: the request that created it plus its current status.
public struct JobRecord: Sendable, Hashable {
    /// 32 lowercase hex characters.
    public var id: String
    public var org: String
    /// A whitelist key on the node, not a shell line.
    public var command: String
    /// An absolute node count.
    public var quorum: Int
    /// Seconds allowed in `running`.
    public var runTimeout: Int
    public var status: JobStatus
    /// Why the job reached its status, when that is worth saying (e.g. crashed at restart).
    public var statusReason: String?
    /// The principal that started the job.
    public var requestor: String
    /// The run-as user on the nodes.
    public var user: String?
    public var dir: String?
    /// A JSON object of string → string.
    public var env: JSONValue?
    /// `raw:…` or `base64:…`.
    public var file: String?
    public var captureOutput: Bool
    public var createdAt: Date
    /// Changes only when the job's status changes (spec 2.3).
    public var updatedAt: Date
    /// How fast the job reaches its nodes (issue 13); nil: all at once.
    public var rateControl: RateControl?
    /// The job this one re-runs (`POST .../jobs/ID/rerun`).
    public var rerunOf: String?
    /// The template the job was made from, and its version (issue 13); nil for an ad-hoc job.
    public var template: String?
    public var templateVersion: Int?
    /// What started the job when no person did directly (issue 14): `schedule:NAME` or
    /// `plan_run:ID`; nil for a job started by a REST call.
    public var origin: String?

    public init(
        id: String, org: String, command: String, quorum: Int, runTimeout: Int = 3600, status: JobStatus = .new,
        statusReason: String? = nil, requestor: String, user: String? = nil, dir: String? = nil, env: JSONValue? = nil,
        file: String? = nil, captureOutput: Bool = false, createdAt: Date, updatedAt: Date? = nil,
        rateControl: RateControl? = nil, rerunOf: String? = nil, template: String? = nil, templateVersion: Int? = nil,
        origin: String? = nil
    ) {
        self.id = id
        self.org = org
        self.command = command
        self.quorum = quorum
        self.runTimeout = runTimeout
        self.status = status
        self.statusReason = statusReason
        self.requestor = requestor
        self.user = user
        self.dir = dir
        self.env = env
        self.file = file
        self.captureOutput = captureOutput
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
        self.rateControl = rateControl
        self.rerunOf = rerunOf
        self.template = template
        self.templateVersion = templateVersion
        self.origin = origin
    }
}
