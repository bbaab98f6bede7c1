import Foundation
import PostgresNIO
import PushyStore

/// Job templates, every version kept.
extension PostgresStore {
    public func createTemplate(_ t: TemplateRecord) async throws(StoreError) {
        try await transaction { s in
            try await s.requireOrg(t.org)
            if try await s.exists("SELECT 1 FROM templates WHERE org = \(t.org) AND name = \(t.name)") {
                throw StoreError.duplicate("template '\(t.name)' in organization '\(t.org)'")
            }
            guard t.version == 1 else { throw StoreError.io("a new template starts at version 1, not \(t.version)") }
            try await Self.insertTemplate(s, t)
        }
    }

    public func addTemplateVersion(_ t: TemplateRecord) async throws(StoreError) {
        // Two edits racing: both read the same latest version, the second insert hits the key
        // (org, name, version) and fails with `.duplicate`, as the protocol asks.
        try await transaction { s in
            let latest = try await s.rows("SELECT MAX(version) AS latest FROM templates WHERE org = \(t.org) AND name = \(t.name)")
                .first?.optionalInt("latest")
            guard let latest else { throw StoreError.notFound("template '\(t.name)' in organization '\(t.org)'") }
            guard t.version == latest + 1 else {
                throw StoreError.duplicate("version \(t.version) of template '\(t.name)' (the latest is \(latest))")
            }
            try await Self.insertTemplate(s, t)
        }
    }

    public func template(org: String, name: String, version: Int?) async throws(StoreError) -> TemplateRecord? {
        try await read { s in
            let rows =
                if let version {
                    try await s.rows("SELECT * FROM templates WHERE org = \(org) AND name = \(name) AND version = \(version)")
                } else {
                    try await s.rows("SELECT * FROM templates WHERE org = \(org) AND name = \(name) ORDER BY version DESC LIMIT 1")
                }
            return try rows.first.map(Self.decodeTemplate)
        }
    }

    public func listTemplates(org: String) async throws(StoreError) -> [TemplateRecord] {
        try await read { s in
            try await s.rows("SELECT DISTINCT ON (name) * FROM templates WHERE org = \(org) ORDER BY name, version DESC")
                .map(Self.decodeTemplate)
        }
    }

    public func deleteTemplate(org: String, name: String) async throws(StoreError) -> Bool {
        try await transaction { s in
            try await s.run("DELETE FROM templates WHERE org = \(org) AND name = \(name) RETURNING 1") > 0
        }
    }

    static func insertTemplate(_ s: PostgresSession, _ t: TemplateRecord) async throws {
        try await s.run("""
            INSERT INTO templates (org, name, version, definition, created_by, author, created_at)
            VALUES (\(t.org), \(t.name), \(t.version), \(t.definition.serialized()), \(t.createdBy), \(t.author),
                    \(Self.seconds(t.createdAt)))
            """)
    }
}
