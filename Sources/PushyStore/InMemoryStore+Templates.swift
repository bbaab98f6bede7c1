import Foundation

/// Job templates, every version kept (issue 13).
extension InMemoryStore {
    public func createTemplate(_ t: TemplateRecord) throws(StoreError) {
        try requireOrg(t.org)
        let key = Key(scope: t.org, name: t.name)
        if templates[key] != nil { throw .duplicate("template '\(t.name)' in organization '\(t.org)'") }
        guard t.version == 1 else { throw .io("a new template starts at version 1, not \(t.version)") }
        templates[key] = [t]
    }

    public func addTemplateVersion(_ t: TemplateRecord) throws(StoreError) {
        let key = Key(scope: t.org, name: t.name)
        guard let versions = templates[key], let latest = versions.last else {
            throw .notFound("template '\(t.name)' in organization '\(t.org)'")
        }
        guard t.version == latest.version + 1 else {
            throw .duplicate("version \(t.version) of template '\(t.name)' (the latest is \(latest.version))")
        }
        templates[key]!.append(t)
    }

    public func template(org: String, name: String, version: Int?) -> TemplateRecord? {
        guard let versions = templates[Key(scope: org, name: name)] else { return nil }
        guard let version else { return versions.last }
        return versions.first { $0.version == version }
    }

    public func listTemplates(org: String) -> [TemplateRecord] {
        templates.filter { $0.key.scope == org }.compactMap(\.value.last).sorted { byteOrder($0.name, $1.name) }
    }

    public func deleteTemplate(org: String, name: String) -> Bool {
        templates.removeValue(forKey: Key(scope: org, name: name)) != nil
    }
}
