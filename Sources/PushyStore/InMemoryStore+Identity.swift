import Foundation

/// The in-memory groups, enrolment tokens and audit log, kept in one value so the actor's
/// extension can reach them.
struct IdentityTables: Sendable {
    /// org → group name → members.
    var groups: [String: [String: Set<GroupMember>]] = [:]
    var tokens: [String: EnrollmentTokenRecord] = [:]
    var audit: [AuditRecord] = []
    var nextAuditId: Int64 = 1

    @discardableResult
    mutating func addMember(org: String, group: String, _ member: GroupMember) -> Bool {
        groups[org, default: [:]][group, default: []].insert(member).inserted
    }

    mutating func removePrincipalEverywhere(org: String, name: String) {
        guard var table = groups[org] else { return }
        for g in table.keys {
            table[g]!.remove(GroupMember(.user, name))
            table[g]!.remove(GroupMember(.client, name))
        }
        groups[org] = table
    }

    mutating func removeOrg(_ org: String) {
        groups[org] = nil
        tokens = tokens.filter { $0.value.org != org }
        audit.removeAll { $0.org == org }
    }
}

extension InMemoryStore {
    public func createGroup(org: String, name: String) throws(StoreError) {
        try requireOrg(org)
        if identity.groups[org]?[name] != nil { throw .duplicate("group '\(name)' in organization '\(org)'") }
        identity.groups[org, default: [:]][name] = []
    }

    public func group(org: String, name: String) -> GroupRecord? {
        identity.groups[org]?[name].map { GroupRecord(org: org, name: name, members: Array($0)) }
    }

    public func listGroups(org: String) -> [GroupRecord] {
        (identity.groups[org] ?? [:]).sorted { byteOrder($0.key, $1.key) }
            .map { GroupRecord(org: org, name: $0.key, members: Array($0.value)) }
    }

    public func addGroupMember(org: String, group: String, member: GroupMember) throws(StoreError) -> Bool {
        try requireOrg(org)
        return identity.addMember(org: org, group: group, member)
    }

    public func removeGroupMember(org: String, group: String, member: GroupMember) -> Bool {
        identity.groups[org]?[group]?.remove(member) != nil
    }

    public func deleteGroup(org: String, name: String) -> Bool {
        guard identity.groups[org]?.removeValue(forKey: name) != nil else { return false }
        for g in identity.groups[org]!.keys { identity.groups[org]![g]!.remove(GroupMember(.group, name)) }
        return true
    }

    public func createEnrollmentToken(_ t: EnrollmentTokenRecord) throws(StoreError) {
        try requireOrg(t.org)
        if identity.tokens[t.tokenHash] != nil { throw .duplicate("enrolment token") }
        identity.tokens[t.tokenHash] = t
    }

    public func enrollmentToken(hash: String) -> EnrollmentTokenRecord? { identity.tokens[hash] }

    public func enroll(tokenHash: String, client: PrincipalRecord, at: Date) throws(StoreError) -> EnrollmentOutcome {
        guard var token = identity.tokens[tokenHash], token.org == client.org else { return .unknownToken }
        if token.usedAt != nil { return .alreadyUsed }
        if token.expiresAt <= at { return .expired }
        var record = client
        record.isAdmin = false
        record.isSuperuser = false
        try createPrincipal(record)
        token.usedAt = at
        token.usedBy = client.name
        identity.tokens[tokenHash] = token
        return .enrolled(token)
    }

    @discardableResult
    public func appendAudit(_ e: AuditRecord) throws(StoreError) -> Int64 {
        try requireOrg(e.org)
        var entry = e
        entry.id = identity.nextAuditId
        identity.nextAuditId += 1
        identity.audit.append(entry)
        return entry.id
    }

    public func listAudit(org: String, limit: Int) -> [AuditRecord] {
        Array(identity.audit.lazy.filter { $0.org == org }.reversed().prefix(max(0, limit)))
    }
}
