/// What a search query is evaluated against: field names mapped to every value indexed under them.
///
/// Keys and values are lowercased on the way in, like Chef's lowercasing search index, so field names and
/// values both match case-insensitively.
public struct SearchDocument: Sendable, Equatable {
    /// The lowercased index.
    public let fields: [String: [String]]

    public init(fields: [String: [String]]) {
        var index: [String: [String]] = [:]
        for (key, values) in fields {
            index[key.lowercased(), default: []].append(contentsOf: values.map { $0.lowercased() })
        }
        self.fields = index
    }

    /// Every value of every field, for queries without a field name.
    var allValues: some Sequence<String> { fields.values.joined() }
}
