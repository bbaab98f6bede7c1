import Foundation
import GRDB

/// Groups, enrolment tokens and the audit log (schema v3-identity).
extension SQLiteStore {
    // MARK: Groups

    public func createGroup(org: String, name: String) async throws(StoreError) {
        try await write { db in
            try Self.requireOrg(db, org)
            if try Self.exists(db, "SELECT 1 FROM groups WHERE org = ? AND name = ?", [org, name]) {
                throw StoreError.duplicate("group '\(name)' in organization '\(org)'")
            }
            try db.execute(sql: "INSERT INTO groups (org, name) VALUES (?, ?)", arguments: [org, name])
        }
    }

    public func group(org: String, name: String) async throws(StoreError) -> GroupRecord? {
        try await read { db in
            guard try Self.exists(db, "SELECT 1 FROM groups WHERE org = ? AND name = ?", [org, name]) else { return nil }
            let rows = try Row.fetchAll(
                db, sql: "SELECT member_type, member_name FROM group_members WHERE org = ? AND group_name = ?",
                arguments: [org, name])
            return GroupRecord(org: org, name: name, members: try rows.map(Self.member))
        }
    }

    public func listGroups(org: String) async throws(StoreError) -> [GroupRecord] {
        try await read { db in
            let names = try String.fetchAll(db, sql: "SELECT name FROM groups WHERE org = ? ORDER BY name", arguments: [org])
            var members: [String: [GroupMember]] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT group_name, member_type, member_name FROM group_members WHERE org = ?", arguments: [org])
            {
                members[row["group_name"], default: []].append(try Self.member(row))
            }
            return names.map { GroupRecord(org: org, name: $0, members: members[$0] ?? []) }
        }
    }

    public func addGroupMember(org: String, group: String, member: GroupMember) async throws(StoreError) -> Bool {
        try await write { db in
            try Self.requireOrg(db, org)
            return try Self.insertMember(db, org: org, group: group, member: member)
        }
    }

    public func removeGroupMember(org: String, group: String, member: GroupMember) async throws(StoreError) -> Bool {
        try await write { db in
            try db.execute(
                sql: """
                    DELETE FROM group_members
                    WHERE org = ? AND group_name = ? AND member_type = ? AND member_name = ?
                    """,
                arguments: [org, group, member.type.rawValue, member.name])
            return db.changesCount > 0
        }
    }

    public func deleteGroup(org: String, name: String) async throws(StoreError) -> Bool {
        try await write { db in
            try db.execute(sql: "DELETE FROM groups WHERE org = ? AND name = ?", arguments: [org, name])
            let deleted = db.changesCount > 0
            try db.execute(
                sql: "DELETE FROM group_members WHERE org = ? AND member_type = 'group' AND member_name = ?",
                arguments: [org, name])
            return deleted
        }
    }

    /// Creates the group if needed and inserts the member; false when it was already there.
    @discardableResult
    static func insertMember(_ db: Database, org: String, group: String, member: GroupMember) throws -> Bool {
        try db.execute(sql: "INSERT OR IGNORE INTO groups (org, name) VALUES (?, ?)", arguments: [org, group])
        try db.execute(
            sql: """
                INSERT OR IGNORE INTO group_members (org, group_name, member_type, member_name)
                VALUES (?, ?, ?, ?)
                """,
            arguments: [org, group, member.type.rawValue, member.name])
        return db.changesCount > 0
    }

    static func member(_ row: Row) throws -> GroupMember {
        let typeText: String = row["member_type"]
        guard let type = GroupMemberType(rawValue: typeText) else {
            throw StoreError.io("unknown group member type '\(typeText)'")
        }
        return GroupMember(type, row["member_name"])
    }

    // MARK: Enrolment tokens

    public func createEnrollmentToken(_ t: EnrollmentTokenRecord) async throws(StoreError) {
        try await write { db in
            try Self.requireOrg(db, t.org)
            if try Self.exists(db, "SELECT 1 FROM enrollment_tokens WHERE token_hash = ?", [t.tokenHash]) {
                throw StoreError.duplicate("enrolment token")
            }
            try db.execute(
                sql: """
                    INSERT INTO enrollment_tokens (token_hash, org, created_by, created_at, expires_at, used_at, used_by)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [t.tokenHash, t.org, t.createdBy, Self.seconds(t.createdAt), Self.seconds(t.expiresAt),
                            t.usedAt.map(Self.seconds), t.usedBy])
        }
    }

    public func enrollmentToken(hash: String) async throws(StoreError) -> EnrollmentTokenRecord? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM enrollment_tokens WHERE token_hash = ?", arguments: [hash])
                .map(Self.token)
        }
    }

    public func enroll(tokenHash: String, client: PrincipalRecord, at: Date) async throws(StoreError) -> EnrollmentOutcome {
        try await write { db in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT * FROM enrollment_tokens WHERE token_hash = ? AND org = ?",
                arguments: [tokenHash, client.org])
            else { return .unknownToken }
            var token = Self.token(row)
            if token.usedAt != nil { return .alreadyUsed }
            if token.expiresAt <= at { return .expired }
            if try Self.exists(db, "SELECT 1 FROM principals WHERE org = ? AND name = ?", [client.org, client.name]) {
                throw StoreError.duplicate("principal '\(client.name)' in organization '\(client.org)'")
            }
            try db.execute(
                sql: """
                    INSERT INTO principals (org, name, type, public_key, is_admin, is_superuser, created_at)
                    VALUES (?, ?, ?, ?, 0, 0, ?)
                    """,
                arguments: [client.org, client.name, client.type.rawValue, client.publicKey, Self.seconds(client.createdAt)])
            // The `used_at IS NULL` guard keeps the token single-use even against a racing writer.
            try db.execute(
                sql: "UPDATE enrollment_tokens SET used_at = ?, used_by = ? WHERE token_hash = ? AND used_at IS NULL",
                arguments: [Self.seconds(at), client.name, tokenHash])
            if db.changesCount == 0 { throw StoreError.io("enrolment token changed during enrolment") }
            token.usedAt = at
            token.usedBy = client.name
            return .enrolled(token)
        }
    }

    static func token(_ row: Row) -> EnrollmentTokenRecord {
        let used: Double? = row["used_at"]
        return EnrollmentTokenRecord(
            org: row["org"], tokenHash: row["token_hash"], createdBy: row["created_by"],
            createdAt: date(row, "created_at"), expiresAt: date(row, "expires_at"),
            usedAt: used.map { Date(timeIntervalSince1970: $0) }, usedBy: row["used_by"])
    }

    // MARK: Audit

    @discardableResult
    public func appendAudit(_ e: AuditRecord) async throws(StoreError) -> Int64 {
        try await write { db in
            try Self.requireOrg(db, e.org)
            try db.execute(
                sql: """
                    INSERT INTO audit (at, org, actor, actor_type, action, target, detail, remote_address)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [Self.seconds(e.at), e.org, e.actor, e.actorType, e.action, e.target, e.detail, e.remoteAddress])
            return db.lastInsertedRowID
        }
    }

    public func listAudit(org: String, limit: Int) async throws(StoreError) -> [AuditRecord] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM audit WHERE org = ? ORDER BY id DESC LIMIT ?", arguments: [org, max(0, limit)]
            ).map { row in
                AuditRecord(
                    id: row["id"], at: Self.date(row, "at"), org: row["org"], actor: row["actor"], actorType: row["actor_type"],
                    action: row["action"], target: row["target"], detail: row["detail"],
                    remoteAddress: row["remote_address"])
            }
        }
    }
}
