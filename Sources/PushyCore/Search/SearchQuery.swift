/// A node search in Chef's (Lucene/Solr) query syntax, e.g. `role:webapp AND NOT chef_environment:dev`.
///
/// Syntax and meaning (documented once here; `SearchParser` implements it):
/// - `field:value`; a bare `value` matches any field. Field names use the same characters as values (letters,
///   digits, `_`, `.`, `-`, `/`, … — anything but whitespace and `( ) [ ] { } " : ^ ~`, which need a `\`).
///   A field of `*` means any field.
/// - Values match the whole indexed value, case-insensitively (Chef lowercases its index). Unescaped `*`
///   (any run) and `?` (one character) are wildcards: `field:*` means the field exists, `*:*` (or `*`) matches
///   every node. `"quoted values"` are taken literally (no wildcards) and may contain spaces and colons.
/// - `\` escapes the next character anywhere (`name:web\-1`, `mac:00\:11`, `\*`). `-`, `+` and `!` inside a
///   word, and dots (`ipaddress:10.0.0.1`), need no escape; a colon inside an unquoted value does.
/// - `field:(a OR b)` applies the field to every bare word inside the parentheses.
/// - Ranges `field:[a TO b]` (inclusive), `{a TO b}` (exclusive) or mixed; `*` is an open end. Numeric when every
///   given end is a decimal number (then only numeric values match), lexicographic otherwise.
/// - Operators, tightest first: prefix `NOT`/`!`/`-` (prohibit) and `+` (require); `AND`/`&&`; `OR`/`||` and plain
///   adjacency (Solr's default operator is OR). So `a OR b AND c` is `a OR (b AND c)` and `a b` is `a OR b`.
///   Keywords are upper case only; `and` is an ordinary word.
/// - Within one OR-list clauses follow Lucene's occur rules: `NOT x`, `!x` and `-x` prohibit, `+x` requires;
///   with any required clause the optional ones no longer matter. So `web NOT dev` is "web and not dev",
///   `NOT dev` alone is "everything but dev", and, as in Solr, `a OR NOT b` means `a AND NOT b`;
///   write `a OR (NOT b)` for the other reading.
/// - Not supported (parse error): boosts `^`, fuzzy/proximity `~`, regex values.
public struct SearchQuery: Sendable, Equatable {
    let root: SearchNode

    /// Parses `text`; an empty or malformed query throws an error that says what was expected and where.
    public static func parse(_ text: String) throws(SearchParseError) -> SearchQuery {
        var parser = SearchParser(text)
        return SearchQuery(root: try parser.parseQuery())
    }

    /// Whether the document (a node's flattened index) satisfies the query.
    public func matches(_ doc: SearchDocument) -> Bool {
        root.matches(doc)
    }
}
