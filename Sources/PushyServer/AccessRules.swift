import PushyStore

/// The reference's authorization rules (spec 2.1) over one organization's groups. Membership
/// is recursive through nested groups; a cycle is followed once and then ignored.
struct AccessRules: Sendable {
    static let admins = "admins"
    static let writers = "pushy_job_writers"
    static let readers = "pushy_job_readers"

    let groups: [String: GroupRecord]

    init(groups: [GroupRecord]) {
        self.groups = Dictionary(groups.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// Whether `member` is in `group`, directly or through any nested group.
    func isMember(_ member: GroupMember, of group: String) -> Bool {
        var seen: Set<String> = []
        var pending = [group]
        while let name = pending.popLast() {
            guard seen.insert(name).inserted, let g = groups[name] else { continue }
            if g.members.contains(member) { return true }
            pending += g.members.filter { $0.type == .group }.map(\.name)
        }
        return false
    }

    /// Read endpoints: members of `pushy_job_readers` when it exists, else every org member.
    func canRead(_ member: GroupMember) -> Bool {
        groups[Self.readers] == nil || isMember(member, of: Self.readers)
    }

    /// Starting and aborting jobs: members of `pushy_job_writers` when it exists, else of
    /// `admins`; nobody when neither exists.
    func canWrite(_ member: GroupMember) -> Bool {
        if groups[Self.writers] != nil { return isMember(member, of: Self.writers) }
        return isAdmin(member)
    }

    /// Managing principals, groups and tokens, and reading the audit log.
    func isAdmin(_ member: GroupMember) -> Bool { isMember(member, of: Self.admins) }
}
