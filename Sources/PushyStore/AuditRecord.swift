import Foundation

/// One state-changing request: who did what to which target, when, and from where.
public struct AuditRecord: Sendable, Hashable {
    /// Assigned by the store on append (increasing); ignored on input.
    public var id: Int64
    public var at: Date
    public var org: String
    /// The signing principal's name (or the enrolling node's name).
    public var actor: String
    /// `user`, `client` or `enrollment`.
    public var actorType: String
    /// A dotted verb, e.g. `job.created`, `group.member_added`.
    public var action: String
    /// What was acted on, e.g. `job:0123…`, `user:alice`, `group:admins`.
    public var target: String
    /// Free text (may be empty).
    public var detail: String
    /// The peer's IP address (or `X-Forwarded-For`), `unknown` when neither is known.
    public var remoteAddress: String

    public init(id: Int64 = 0, at: Date, org: String, actor: String, actorType: String, action: String,
                target: String, detail: String = "", remoteAddress: String) {
        self.id = id
        self.at = at
        self.org = org
        self.actor = actor
        self.actorType = actorType
        self.action = action
        self.target = target
        self.detail = detail
        self.remoteAddress = remoteAddress
    }
}
