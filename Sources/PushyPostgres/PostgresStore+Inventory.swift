import Foundation
import PostgresNIO
import PushyProtocol
import PushyStore

/// Organizations, principals and nodes.
extension PostgresStore {
    // MARK: Organizations

    public func createOrg(_ org: OrgRecord) async throws(StoreError) {
        try await transaction { s in
            if try await s.exists("SELECT 1 FROM orgs WHERE name = \(org.name)") {
                throw StoreError.duplicate("organization '\(org.name)'")
            }
            if try await s.exists("SELECT 1 FROM orgs WHERE guid = \(org.guid)") {
                throw StoreError.duplicate("organization guid '\(org.guid)'")
            }
            try await s.run("INSERT INTO orgs (name, guid, created_at) VALUES (\(org.name), \(org.guid), \(Self.seconds(org.createdAt)))")
        }
    }

    public func org(named name: String) async throws(StoreError) -> OrgRecord? {
        try await read { s in try await s.rows("SELECT * FROM orgs WHERE name = \(name)").first.map(Self.decodeOrg) }
    }

    public func listOrgs() async throws(StoreError) -> [OrgRecord] {
        try await read { s in try await s.rows("SELECT * FROM orgs ORDER BY name").map(Self.decodeOrg) }
    }

    public func deleteOrg(named name: String) async throws(StoreError) -> Bool {
        // Everything else hangs off orgs(name) with ON DELETE CASCADE.
        try await transaction { s in try await s.run("DELETE FROM orgs WHERE name = \(name) RETURNING 1") > 0 }
    }

    // MARK: Principals

    public func createPrincipal(_ p: PrincipalRecord) async throws(StoreError) {
        try await transaction { s in
            try await s.requireOrg(p.org)
            if try await s.exists("SELECT 1 FROM principals WHERE org = \(p.org) AND name = \(p.name)") {
                throw StoreError.duplicate("principal '\(p.name)' in organization '\(p.org)'")
            }
            try await s.run("""
                INSERT INTO principals (org, name, type, public_key, is_admin, is_superuser, created_at)
                VALUES (\(p.org), \(p.name), \(p.type.rawValue), \(p.publicKey), \(p.isAdmin), \(p.isSuperuser),
                        \(Self.seconds(p.createdAt)))
                """)
            if p.isAdmin {
                try await Self.insertMember(s, org: p.org, group: "admins", member: GroupMember(p.type.groupMemberType, p.name))
            }
        }
    }

    public func principal(org: String, name: String) async throws(StoreError) -> PrincipalRecord? {
        try await read { s in
            try await s.rows("SELECT * FROM principals WHERE org = \(org) AND name = \(name)").first.map(Self.decodePrincipal)
        }
    }

    public func orgAndPrincipal(org: String, name: String) async throws(StoreError) -> (org: OrgRecord?, principal: PrincipalRecord?) {
        try await read { s in
            let o = try await s.rows("SELECT * FROM orgs WHERE name = \(org)").first.map(Self.decodeOrg)
            let p = try await s.rows("SELECT * FROM principals WHERE org = \(org) AND name = \(name)").first.map(Self.decodePrincipal)
            return (o, p)
        }
    }

    public func listPrincipals(org: String, type: PrincipalType?) async throws(StoreError) -> [PrincipalRecord] {
        try await read { s in
            let rows =
                if let type {
                    try await s.rows("SELECT * FROM principals WHERE org = \(org) AND type = \(type.rawValue) ORDER BY name")
                } else {
                    try await s.rows("SELECT * FROM principals WHERE org = \(org) ORDER BY name")
                }
            return try rows.map(Self.decodePrincipal)
        }
    }

    public func deletePrincipal(org: String, name: String) async throws(StoreError) -> Bool {
        try await transaction { s in
            let deleted = try await s.run("DELETE FROM principals WHERE org = \(org) AND name = \(name) RETURNING 1") > 0
            try await s.run("""
                DELETE FROM group_members WHERE org = \(org) AND member_type IN ('user', 'client') AND member_name = \(name)
                """)
            return deleted
        }
    }

    // MARK: Nodes

    public func upsertNode(_ n: NodeRecord) async throws(StoreError) {
        try await transaction { s in
            try await s.requireOrg(n.org)
            try await s.run("""
                INSERT INTO nodes (org, name, environment, roles, tags, attributes, updated_at)
                VALUES (\(n.org), \(n.name), \(n.environment), \(Self.stringsText(n.roles)), \(Self.stringsText(n.tags)),
                        \(n.attributes.serialized()), \(Self.seconds(n.updatedAt)))
                ON CONFLICT (org, name) DO UPDATE SET
                    environment = excluded.environment, roles = excluded.roles, tags = excluded.tags,
                    attributes = excluded.attributes, updated_at = excluded.updated_at
                """)
        }
    }

    public func node(org: String, name: String) async throws(StoreError) -> NodeRecord? {
        try await read { s in try await s.rows("SELECT * FROM nodes WHERE org = \(org) AND name = \(name)").first.map(Self.decodeNode) }
    }

    public func listNodes(org: String) async throws(StoreError) -> [NodeRecord] {
        try await read { s in try await s.rows("SELECT * FROM nodes WHERE org = \(org) ORDER BY name").map(Self.decodeNode) }
    }

    public func knownNodeNames(org: String, among names: [String]) async throws(StoreError) -> Set<String> {
        guard !names.isEmpty else { return [] }
        // One array parameter, whatever the count (no chunking as with SQLite's parameter limit).
        return try await read { s in
            Set(try await s.strings("""
                SELECT name FROM principals WHERE org = \(org) AND type = 'client' AND name = ANY(\(names))
                UNION SELECT name FROM nodes WHERE org = \(org) AND name = ANY(\(names))
                """))
        }
    }
}
