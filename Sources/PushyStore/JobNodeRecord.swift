import Foundation
import PushyProtocol

/// One node's place in one job.
public struct JobNodeRecord: Sendable, Hashable {
    public var jobId: String
    public var node: String
    public var status: NodeJobStatus
    /// Why the node is unavailable, nacked, crashed, … (free text for people).
    public var reason: String?
    public var updatedAt: Date

    public init(jobId: String, node: String, status: NodeJobStatus = .new, reason: String? = nil, updatedAt: Date) {
        self.jobId = jobId
        self.node = node
        self.status = status
        self.reason = reason
        self.updatedAt = updatedAt
    }
}

/// A node-in-job transition to persist; the job engine batches these so a burst of votes or
/// results costs one transaction.
public struct JobNodeUpdate: Sendable, Hashable {
    public var jobId: String
    public var node: String
    public var status: NodeJobStatus
    public var reason: String?
    public var at: Date

    public init(jobId: String, node: String, status: NodeJobStatus, reason: String? = nil, at: Date) {
        self.jobId = jobId
        self.node = node
        self.status = status
        self.reason = reason
        self.at = at
    }
}
