extension AgentSettings.Key {
    /// The key's default as text, read off a fresh `AgentSettings` (so it cannot drift from the
    /// property's initial value): "(none)" for an unset optional, "(required)" for the three
    /// settings an agent cannot start without.
    public var defaultText: String {
        if ["server_url", "node_name", "client_key"].contains(name) { return "(required)" }
        let d = AgentSettings()
        switch kind {
        case .string(let p): return d[keyPath: p]
        case .optionalString(let p): return d[keyPath: p] ?? "(none)"
        case .int(let p): return String(d[keyPath: p])
        case .bool(let p): return String(d[keyPath: p])
        case .strings(let p): return d[keyPath: p].isEmpty ? "(none)" : d[keyPath: p].joined(separator: ", ")
        case .optionalStrings(let p): return d[keyPath: p].map { $0.joined(separator: ", ") } ?? "(every key)"
        case .whitelist: return "chef-client only"
        case .attributes: return "(none)"
        }
    }
}
