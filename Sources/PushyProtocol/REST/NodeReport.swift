/// What an agent reports about its node so search can find it: `PUT /organizations/{org}/nodes/{name}`
/// (Chef's node path). Pushy's own shape: name, chef_environment, roles, tags, and free-form
/// `automatic` (facts the agent found: hostname, platform, ipaddress, ...) and `normal` (operator
/// attributes from `--attribute k=v`) objects.
public struct NodeReport: Sendable, Equatable {
    public var name: String
    public var environment: String
    public var roles: [String]
    public var tags: [String]
    public var automatic: JSONValue
    public var normal: JSONValue

    public init(name: String, environment: String = "_default", roles: [String] = [], tags: [String] = [],
                automatic: JSONValue = .object([]), normal: JSONValue = .object([])) {
        self.name = name
        self.environment = environment
        self.roles = roles
        self.tags = tags
        self.automatic = automatic
        self.normal = normal
    }

    /// Attributes merged for search and display (`normal` wins over `automatic` on the same key).
    public var mergedAttributes: JSONValue {
        var pairs = automatic.objectValue ?? []
        for (k, v) in normal.objectValue ?? [] {
            if let i = pairs.firstIndex(where: { $0.0 == k }) { pairs[i].1 = v } else { pairs.append((k, v)) }
        }
        return .object(pairs)
    }

    public var json: JSONValue {
        [
            "name": .string(name), "chef_environment": .string(environment),
            "roles": .array(roles.map(JSONValue.string)), "tags": .array(tags.map(JSONValue.string)),
            "run_list": .array(roles.map { .string("role[\($0)]") }),
            "automatic": automatic, "normal": normal,
        ]
    }

    public static func parse(_ v: JSONValue) throws(MessageError) -> NodeReport {
        guard case .object = v else { throw .invalidJSON("node must be a JSON object") }
        guard let name = v["name"]?.stringValue, !name.isEmpty else { throw .missingField("name") }
        func strings(_ key: String) throws(MessageError) -> [String] {
            guard let a = v[key] else { return [] }
            guard let arr = a.arrayValue else { throw .badField(key) }
            var out: [String] = []
            for e in arr {
                guard let s = e.stringValue else { throw .badField(key) }
                out.append(s)
            }
            return out
        }
        let auto = v["automatic"] ?? .object([])
        let normal = v["normal"] ?? .object([])
        guard auto.objectValue != nil else { throw .badField("automatic") }
        guard normal.objectValue != nil else { throw .badField("normal") }
        return NodeReport(
            name: name, environment: v["chef_environment"]?.stringValue ?? "_default", roles: try strings("roles"),
            tags: try strings("tags"), automatic: auto, normal: normal)
    }
}
