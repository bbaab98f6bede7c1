import Foundation
import PushyProtocol

/// A stored orchestration plan (issue 14): its definition as written (`PlanSpec.json`).
public struct PlanRecord: Sendable, Hashable {
    public var org: String
    public var name: String
    public var definition: JSONValue
    public var createdBy: String
    public var createdAt: Date
    public var updatedAt: Date

    public init(org: String, name: String, definition: JSONValue, createdBy: String, createdAt: Date, updatedAt: Date? = nil) {
        self.org = org
        self.name = name
        self.definition = definition
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
    }
}

/// One run of a plan: the definition it ran (a copy: the plan may change or come from a file),
/// its parameter values, who ran it, its status and each step's state (JSON, as the REST view
/// shows it).
public struct PlanRunRecord: Sendable, Hashable {
    /// 32 hex characters.
    public var id: String
    public var org: String
    /// The stored plan's name, or the file's plan name.
    public var plan: String
    public var definition: JSONValue
    public var parameters: JSONValue
    public var requestor: String
    /// running, succeeded, failed, aborted.
    public var status: String
    public var reason: String?
    public var steps: JSONValue
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: String, org: String, plan: String, definition: JSONValue, parameters: JSONValue, requestor: String,
                status: String, reason: String? = nil, steps: JSONValue, createdAt: Date, updatedAt: Date? = nil) {
        self.id = id
        self.org = org
        self.plan = plan
        self.definition = definition
        self.parameters = parameters
        self.requestor = requestor
        self.status = status
        self.reason = reason
        self.steps = steps
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
    }
}
