import Foundation
import GRDB
import PushyProtocol

/// Job templates, every version kept (schema v5-templates, issue 13).
extension SQLiteStore {
    public func createTemplate(_ t: TemplateRecord) async throws(StoreError) {
        try await write { db in
            try Self.requireOrg(db, t.org)
            if try Self.exists(db, "SELECT 1 FROM templates WHERE org = ? AND name = ?", [t.org, t.name]) {
                throw StoreError.duplicate("template '\(t.name)' in organization '\(t.org)'")
            }
            guard t.version == 1 else { throw StoreError.io("a new template starts at version 1, not \(t.version)") }
            try Self.insertTemplate(db, t)
        }
    }

    public func addTemplateVersion(_ t: TemplateRecord) async throws(StoreError) {
        try await write { db in
            let latest = try Int.fetchOne(
                db, sql: "SELECT MAX(version) FROM templates WHERE org = ? AND name = ?", arguments: [t.org, t.name])
            guard let latest else { throw StoreError.notFound("template '\(t.name)' in organization '\(t.org)'") }
            guard t.version == latest + 1 else {
                throw StoreError.duplicate("version \(t.version) of template '\(t.name)' (the latest is \(latest))")
            }
            try Self.insertTemplate(db, t)
        }
    }

    public func template(org: String, name: String, version: Int?) async throws(StoreError) -> TemplateRecord? {
        try await read { db in
            let row: Row?
            if let version {
                row = try Row.fetchOne(
                    db, sql: "SELECT * FROM templates WHERE org = ? AND name = ? AND version = ?", arguments: [org, name, version])
            } else {
                row = try Row.fetchOne(
                    db, sql: "SELECT * FROM templates WHERE org = ? AND name = ? ORDER BY version DESC LIMIT 1",
                    arguments: [org, name])
            }
            return try row.map(Self.templateRecord)
        }
    }

    public func listTemplates(org: String) async throws(StoreError) -> [TemplateRecord] {
        try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT t.* FROM templates t
                    WHERE t.org = ? AND t.version = (SELECT MAX(version) FROM templates u WHERE u.org = t.org AND u.name = t.name)
                    ORDER BY t.name
                    """,
                arguments: [org]
            ).map(Self.templateRecord)
        }
    }

    public func deleteTemplate(org: String, name: String) async throws(StoreError) -> Bool {
        try await write { db in
            try db.execute(sql: "DELETE FROM templates WHERE org = ? AND name = ?", arguments: [org, name])
            return db.changesCount > 0
        }
    }

    static func insertTemplate(_ db: Database, _ t: TemplateRecord) throws {
        try db.execute(
            sql: """
                INSERT INTO templates (org, name, version, definition, created_by, author, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [t.org, t.name, t.version, t.definition.serialized(), t.createdBy, t.author, seconds(t.createdAt)])
    }

    static func templateRecord(_ row: Row) throws(StoreError) -> TemplateRecord {
        TemplateRecord(
            org: row["org"], name: row["name"], version: row["version"], definition: try json(row["definition"], "definition"),
            createdBy: row["created_by"], author: row["author"], createdAt: date(row, "created_at"))
    }
}
