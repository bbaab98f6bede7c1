import Foundation

/// What a group member is: a user, a client, or another group (nested groups).
public enum GroupMemberType: String, Sendable, Hashable, CaseIterable, Comparable {
    case user
    case client
    case group

    public static func < (a: Self, b: Self) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// One entry of a group: a principal or a nested group, named within the group's organization.
public struct GroupMember: Sendable, Hashable, Comparable {
    public var type: GroupMemberType
    public var name: String

    public init(_ type: GroupMemberType, _ name: String) {
        self.type = type
        self.name = name
    }

    /// By type (users, clients, groups), then by name in byte order.
    public static func < (a: Self, b: Self) -> Bool {
        a.type != b.type ? a.type < b.type : a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
    }
}

/// A named set of members in one organization (`admins`, `pushy_job_writers`,
/// `pushy_job_readers`, or any other). Authorization follows members recursively.
public struct GroupRecord: Sendable, Hashable {
    public var org: String
    public var name: String
    /// Sorted (see `GroupMember.<`).
    public var members: [GroupMember]

    public init(org: String, name: String, members: [GroupMember] = []) {
        self.org = org
        self.name = name
        self.members = members.sorted()
    }
}

extension PrincipalType {
    /// The member type naming a principal of this type in a group.
    public var groupMemberType: GroupMemberType { self == .user ? .user : .client }
}
