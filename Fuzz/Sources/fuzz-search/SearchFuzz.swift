import FuzzSupport
@testable import PushyCore

/// Two small documents every parsed query is evaluated against (matching must not trap).
private let documents = [
    SearchDocument(fields: ["name": ["web-1"], "role": ["webapp", "db"], "ipaddress": ["10.0.0.1"], "uptime": ["42"]]),
    SearchDocument(fields: ["name": ["Db*Node"], "chef_environment": ["_default"], "tags": ["a b", "x:y", ""]]),
]

/// `SearchQuery.parse` (the `q` of job and node searches from any authenticated user).
///
/// There is no query printer in Pushy, so the harness has its own (`text(of:)` below): every
/// parsed query is printed in a canonical form (explicit fields, quoted exact values, escaped
/// glob words, `+`/`-` for required/prohibited clauses) and must parse back to the same tree.
/// That checks the escaping, quoting and operator rules against each other. Only for ASCII
/// queries: Swift compares characters as grapheme clusters, so a printed backslash or quote
/// next to a combining mark would read differently from the original, which is not a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSearch(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let query = fuzzString(data, count), let parsed = try? SearchQuery.parse(query) else { return 0 }
    for document in documents { _ = parsed.matches(document) }
    guard query.utf8.allSatisfy({ $0 < 0x80 }) else { return 0 }

    let printed = text(of: parsed.root)
    do {
        let again = try SearchQuery.parse(printed)
        fuzzCheck(again == parsed, "'\(query)' printed as '\(printed)' parses to a different query")
    } catch {
        // The canonical form nests more (each required group is `+(…)`): too deep is fine.
        fuzzCheck(error.message.hasPrefix("query nests too deeply"), "'\(query)' printed as '\(printed)' fails: \(error)")
    }
    return 0
}

/// Canonical query text for `node`.
func text(of node: SearchNode) -> String {
    switch node {
    case .all:
        return "*:*"
    case .term(let field, let pattern):
        let prefix = field.map { escapedWord($0) + ":" } ?? ""
        switch pattern {
        case .exact(let value):
            return prefix + quoted(value)
        case .glob(let tokens):
            return prefix + tokens.map { token -> String in
                switch token {
                case .any: return "*"
                case .one: return "?"
                case .literal(let c): return escapedWord(String(c))
                }
            }.joined()
        case .range(let range):
            let lower = range.lower.map(quoted) ?? "*"
            let upper = range.upper.map(quoted) ?? "*"
            return prefix + (range.includeLower ? "[" : "{") + lower + " TO " + upper + (range.includeUpper ? "]" : "}")
        }
    case .boolean(let must, let should, let mustNot):
        let clauses = must.map { "+" + text(of: $0) } + should.map(text(of:)) + mustNot.map { "-" + text(of: $0) }
        return "(" + clauses.joined(separator: " ") + ")"
    }
}

/// Every character but ASCII letters and digits behind a backslash (so no operator, wildcard,
/// separator or keyword can form).
private func escapedWord(_ word: String) -> String {
    var out = ""
    for c in word {
        if !(c.isASCII && (c.isLetter || c.isNumber)) { out.append("\\") }
        out.append(c)
    }
    return out
}

private func quoted(_ value: String) -> String {
    var out = "\""
    for c in value {
        if c == "\"" || c == "\\" { out.append("\\") }
        out.append(c)
    }
    return out + "\""
}

@_cdecl("fuzz_search_main")
public func fuzzSearchMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    fuzzMain(argc, argv, fuzzSearch)
}
