import Foundation
import PushyProtocol

/// What the server knows about a node for search: its declared environment, roles and tags
/// plus the attributes it reported. Liveness is not stored here (it lives in memory).
public struct NodeRecord: Sendable, Hashable {
    public var org: String
    public var name: String
    public var environment: String
    public var roles: [String]
    public var tags: [String]
    /// A JSON object; key order is kept.
    public var attributes: JSONValue
    public var updatedAt: Date

    public init(
        org: String, name: String, environment: String = "_default", roles: [String] = [], tags: [String] = [],
        attributes: JSONValue = .object([]), updatedAt: Date
    ) {
        self.org = org
        self.name = name
        self.environment = environment
        self.roles = roles
        self.tags = tags
        self.attributes = attributes
        self.updatedAt = updatedAt
    }
}
