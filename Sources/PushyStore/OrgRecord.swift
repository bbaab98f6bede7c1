import Foundation

/// A tenant. Every other record lives under one organization's `name`.
public struct OrgRecord: Sendable, Hashable {
    public var name: String
    /// 32 lowercase hex characters; job ids start with its last 12 characters (spec 2.3).
    public var guid: String
    public var createdAt: Date

    public init(name: String, guid: String, createdAt: Date) {
        self.name = name
        self.guid = guid
        self.createdAt = createdAt
    }
}
