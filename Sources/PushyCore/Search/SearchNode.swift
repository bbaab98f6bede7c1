/// A parsed query: terms combined with Lucene's occur rules.
indirect enum SearchNode: Sendable, Equatable {
    /// `*:*`
    case all
    /// `field:pattern`; a nil or `*` field means any field.
    case term(field: String?, ValuePattern)
    /// Lucene boolean query: every `must` and no `mustNot`; when there is no `must`, at least one `should`
    /// (if any). A query of only `mustNot` clauses matches everything else, as Solr does for `NOT x`.
    case boolean(must: [SearchNode], should: [SearchNode], mustNot: [SearchNode])

    func matches(_ doc: SearchDocument) -> Bool {
        switch self {
        case .all:
            return true
        case .term(let field, let pattern):
            if let field { return doc.fields[field]?.contains(where: pattern.matches) ?? false }
            return doc.allValues.contains(where: pattern.matches)
        case .boolean(let must, let should, let mustNot):
            if mustNot.contains(where: { $0.matches(doc) }) { return false }
            if !must.isEmpty { return must.allSatisfy { $0.matches(doc) } }
            return should.isEmpty || should.contains(where: { $0.matches(doc) })
        }
    }
}
