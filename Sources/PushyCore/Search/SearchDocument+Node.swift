import PushyProtocol

extension SearchDocument {
    /// The index of one node, flattened the way Chef's expander does it, so Chef queries find the same nodes:
    ///
    /// - `name`, `chef_environment` (and `environment`), `role`/`roles` and `tag`/`tags` from the arguments;
    /// - each attribute under its path joined with `_` (`kernel_machine`) and under its own key (`machine`);
    /// - each object also lists its child keys as values of its path (`kernel:machine` matches);
    /// - array elements are indexed under the array's key; numbers, booleans and null are written as Ruby's
    ///   `to_s` would (`4`, `2.5`, `true`, ``).
    ///
    /// Attribute keys that collide with the fixed fields (e.g. a nested `name`) add values, as in Chef.
    public static func node(
        name: String, environment: String, roles: [String], tags: [String], attributes: JSONValue
    ) -> SearchDocument {
        var index: [String: [String]] = [
            "name": [name],
            "chef_environment": [environment],
            "environment": [environment],
            "role": roles,
            "roles": roles,
            "tag": tags,
            "tags": tags,
        ]
        if case .object(let pairs) = attributes {
            for (key, value) in pairs { flatten(path: [key], value: value, into: &index) }
        }
        return SearchDocument(fields: index)
    }

    private static func flatten(path: [String], value: JSONValue, into index: inout [String: [String]]) {
        switch value {
        case .object(let pairs):
            for (key, child) in pairs {
                add(key, at: path, into: &index)
                flatten(path: path + [key], value: child, into: &index)
            }
        case .array(let elements):
            for element in elements { flatten(path: path, value: element, into: &index) }
        case .string(let text): add(text, at: path, into: &index)
        case .number(let number): add(rubyString(number), at: path, into: &index)
        case .bool(let flag): add(flag ? "true" : "false", at: path, into: &index)
        case .null: add("", at: path, into: &index)
        }
    }

    private static func add(_ value: String, at path: [String], into index: inout [String: [String]]) {
        index[path.joined(separator: "_"), default: []].append(value)
        if path.count > 1, let leaf = path.last { index[leaf, default: []].append(value) }
    }

    /// JSON does not say whether `4` was an Integer or a Float; whole numbers that a Double holds exactly are
    /// written as integers, others like Ruby's `Float#to_s` (`2.5`, `1.0e+20`).
    static func rubyString(_ number: Double) -> String {
        if number.rounded() == number, abs(number) <= 9_007_199_254_740_992 { return String(Int(number)) }
        let text = "\(number)"
        guard let e = text.firstIndex(of: "e"), !text[..<e].contains(".") else { return text }
        return text[..<e] + ".0" + text[e...]
    }
}
