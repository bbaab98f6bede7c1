import Foundation
import PostgresNIO
import PushyStore

/// Groups, enrolment tokens and the audit log.
extension PostgresStore {
    // MARK: Groups

    public func createGroup(org: String, name: String) async throws(StoreError) {
        try await transaction { s in
            try await s.requireOrg(org)
            if try await s.exists("SELECT 1 FROM groups WHERE org = \(org) AND name = \(name)") {
                throw StoreError.duplicate("group '\(name)' in organization '\(org)'")
            }
            try await s.run("INSERT INTO groups (org, name) VALUES (\(org), \(name))")
        }
    }

    public func group(org: String, name: String) async throws(StoreError) -> GroupRecord? {
        try await read { s in
            guard try await s.exists("SELECT 1 FROM groups WHERE org = \(org) AND name = \(name)") else { return nil }
            let rows = try await s.rows(
                "SELECT member_type, member_name FROM group_members WHERE org = \(org) AND group_name = \(name)")
            return GroupRecord(org: org, name: name, members: try rows.map(Self.decodeMember))
        }
    }

    public func listGroups(org: String) async throws(StoreError) -> [GroupRecord] {
        try await read { s in
            let names = try await s.strings("SELECT name FROM groups WHERE org = \(org) ORDER BY name")
            var members: [String: [GroupMember]] = [:]
            for r in try await s.rows("SELECT group_name, member_type, member_name FROM group_members WHERE org = \(org)") {
                let group = try r.string("group_name")
                members[group, default: []].append(try Self.decodeMember(r))
            }
            return names.map { GroupRecord(org: org, name: $0, members: members[$0] ?? []) }
        }
    }

    public func addGroupMember(org: String, group: String, member: GroupMember) async throws(StoreError) -> Bool {
        try await transaction { s in
            try await s.requireOrg(org)
            return try await Self.insertMember(s, org: org, group: group, member: member)
        }
    }

    public func removeGroupMember(org: String, group: String, member: GroupMember) async throws(StoreError) -> Bool {
        try await transaction { s in
            try await s.run("""
                DELETE FROM group_members
                WHERE org = \(org) AND group_name = \(group) AND member_type = \(member.type.rawValue) AND member_name = \(member.name)
                RETURNING 1
                """) > 0
        }
    }

    public func deleteGroup(org: String, name: String) async throws(StoreError) -> Bool {
        try await transaction { s in
            let deleted = try await s.run("DELETE FROM groups WHERE org = \(org) AND name = \(name) RETURNING 1") > 0
            try await s.run("DELETE FROM group_members WHERE org = \(org) AND member_type = 'group' AND member_name = \(name)")
            return deleted
        }
    }

    /// Creates the group if needed and inserts the member; false when it was already there.
    @discardableResult
    static func insertMember(_ s: PostgresSession, org: String, group: String, member: GroupMember) async throws -> Bool {
        try await s.run("INSERT INTO groups (org, name) VALUES (\(org), \(group)) ON CONFLICT DO NOTHING")
        return try await s.run("""
            INSERT INTO group_members (org, group_name, member_type, member_name)
            VALUES (\(org), \(group), \(member.type.rawValue), \(member.name))
            ON CONFLICT DO NOTHING RETURNING 1
            """) > 0
    }

    // MARK: Enrolment tokens

    public func createEnrollmentToken(_ t: EnrollmentTokenRecord) async throws(StoreError) {
        try await transaction { s in
            try await s.requireOrg(t.org)
            if try await s.exists("SELECT 1 FROM enrollment_tokens WHERE token_hash = \(t.tokenHash)") {
                throw StoreError.duplicate("enrolment token")
            }
            try await s.run("""
                INSERT INTO enrollment_tokens (token_hash, org, created_by, created_at, expires_at, used_at, used_by)
                VALUES (\(t.tokenHash), \(t.org), \(t.createdBy), \(Self.seconds(t.createdAt)), \(Self.seconds(t.expiresAt)),
                        \(t.usedAt.map(Self.seconds)), \(t.usedBy))
                """)
        }
    }

    public func enrollmentToken(hash: String) async throws(StoreError) -> EnrollmentTokenRecord? {
        try await read { s in try await s.rows("SELECT * FROM enrollment_tokens WHERE token_hash = \(hash)").first.map(Self.decodeToken) }
    }

    public func enroll(tokenHash: String, client: PrincipalRecord, at: Date) async throws(StoreError) -> EnrollmentOutcome {
        try await transaction { s in
            // FOR UPDATE: two enrolments with one token (on any server) take turns; the second sees it used.
            guard let row = try await s.rows("""
                SELECT * FROM enrollment_tokens WHERE token_hash = \(tokenHash) AND org = \(client.org) FOR UPDATE
                """).first
            else { return .unknownToken }
            var token = try Self.decodeToken(row)
            if token.usedAt != nil { return .alreadyUsed }
            if token.expiresAt <= at { return .expired }
            if try await s.exists("SELECT 1 FROM principals WHERE org = \(client.org) AND name = \(client.name)") {
                throw StoreError.duplicate("principal '\(client.name)' in organization '\(client.org)'")
            }
            try await s.run("""
                INSERT INTO principals (org, name, type, public_key, is_admin, is_superuser, created_at)
                VALUES (\(client.org), \(client.name), \(client.type.rawValue), \(client.publicKey), FALSE, FALSE,
                        \(Self.seconds(client.createdAt)))
                """)
            try await s.run("""
                UPDATE enrollment_tokens SET used_at = \(Self.seconds(at)), used_by = \(client.name)
                WHERE token_hash = \(tokenHash)
                """)
            token.usedAt = at
            token.usedBy = client.name
            return .enrolled(token)
        }
    }

    // MARK: Audit

    @discardableResult
    public func appendAudit(_ e: AuditRecord) async throws(StoreError) -> Int64 {
        try await transaction { s in
            try await s.requireOrg(e.org)
            let rows = try await s.rows("""
                INSERT INTO audit (at, org, actor, actor_type, action, target, detail, remote_address)
                VALUES (\(Self.seconds(e.at)), \(e.org), \(e.actor), \(e.actorType), \(e.action), \(e.target), \(e.detail),
                        \(e.remoteAddress))
                RETURNING id
                """)
            guard let row = rows.first else { throw StoreError.io("the audit insert returned no id") }
            return Int64(try row.int("id"))
        }
    }

    public func listAudit(org: String, limit: Int) async throws(StoreError) -> [AuditRecord] {
        try await read { s in
            try await s.rows("SELECT * FROM audit WHERE org = \(org) ORDER BY id DESC LIMIT \(max(0, limit))").map(Self.decodeAudit)
        }
    }
}
