/// Recursive-descent parser for `SearchQuery` (grammar and meaning are documented there):
///
///     query   := or EOF
///     or      := and ( ("OR" | "||")? and )*
///     and     := unary ( ("AND" | "&&") unary )*
///     unary   := ("NOT" | "!") unary | ("+" | "-") unary | primary
///     primary := "(" or ")" | range | quoted | word (":" value)?
///     value   := "(" or ")" | range | quoted | word
struct SearchParser {
    private let chars: [Character]
    private var pos = 0
    private var depth = 0
    /// Deep enough for any real query, shallow enough that hostile input cannot exhaust the stack.
    private static let maxDepth = 100

    init(_ text: String) { chars = Array(text) }

    private enum Occur { case must, should, mustNot }
    private typealias Clause = (occur: Occur, node: SearchNode)
    private enum Operator { case and, or, not, plus, minus }

    /// A run of term characters; `escaped` marks characters written with a backslash (never wildcards).
    private struct Word {
        var chars: [(char: Character, escaped: Bool)] = []
        var start: Int
        var text: String { String(chars.map(\.char)) }
        var isStar: Bool { chars.count == 1 && chars[0] == ("*", false) }
        var hasWildcard: Bool { chars.contains { !$0.escaped && ($0.char == "*" || $0.char == "?") } }
    }

    mutating func parseQuery() throws(SearchParseError) -> SearchNode {
        skipSpace()
        guard pos < chars.count else { throw SearchParseError("empty query: expected a search term", at: pos) }
        let node = try parseOr(field: nil)
        if pos < chars.count { throw SearchParseError("unexpected ')' with no matching '('", at: pos) }
        return node
    }

    // MARK: Boolean structure

    /// Stops before `)` or at the end, leaving either for the caller.
    private mutating func parseOr(field: String?) throws(SearchParseError) -> SearchNode {
        var clauses: [Clause] = []
        while true {
            skipSpace()
            if atGroupEnd { break }
            if !clauses.isEmpty, let (op, length) = peekOperator(), op == .or {
                let name = text(length)
                pos += length
                skipSpace()
                if atGroupEnd { throw SearchParseError("expected a search term after '\(name)'", at: pos) }
            }
            clauses.append(try parseAnd(field: field))
        }
        guard !clauses.isEmpty else { throw SearchParseError("expected a search term", at: pos) }
        if clauses.count == 1, clauses[0].occur == .should { return clauses[0].node }
        return Self.boolean(clauses)
    }

    private mutating func parseAnd(field: String?) throws(SearchParseError) -> Clause {
        var items = [try parseUnary(field: field)]
        while true {
            let save = pos
            skipSpace()
            guard let (op, length) = peekOperator(), op == .and else { pos = save; break }
            let name = text(length)
            pos += length
            skipSpace()
            if atGroupEnd { throw SearchParseError("expected a search term after '\(name)'", at: pos) }
            items.append(try parseUnary(field: field))
        }
        if items.count == 1 { return items[0] }
        // AND makes every side required, except sides that prohibit.
        return (.should, Self.boolean(items.map { ($0.occur == .mustNot ? .mustNot : .must, $0.node) }))
    }

    private mutating func parseUnary(field: String?) throws(SearchParseError) -> Clause {
        skipSpace()
        guard pos < chars.count else { throw SearchParseError("expected a search term", at: pos) }
        guard let (op, length) = peekOperator() else { return (.should, try parsePrimary(field: field)) }
        let name = text(length)
        switch op {
        case .and, .or:
            throw SearchParseError("unexpected '\(name)': expected a search term", at: pos)
        case .not:
            pos += length
            skipSpace()
            if atGroupEnd { throw SearchParseError("expected a search term after '\(name)'", at: pos) }
        case .plus, .minus:
            pos += length
            if atGroupEnd || chars[pos].isWhitespace {
                throw SearchParseError("expected a search term right after '\(name)'", at: pos)
            }
        }
        try enter()
        defer { depth -= 1 }
        let inner = try parseUnary(field: field)
        let node = inner.occur == .should ? inner.node : Self.boolean([inner])
        return (op == .plus ? .must : .mustNot, node)
    }

    private static func boolean(_ clauses: [Clause]) -> SearchNode {
        .boolean(
            must: clauses.filter { $0.occur == .must }.map(\.node),
            should: clauses.filter { $0.occur == .should }.map(\.node),
            mustNot: clauses.filter { $0.occur == .mustNot }.map(\.node))
    }

    // MARK: Terms

    private mutating func parsePrimary(field: String?) throws(SearchParseError) -> SearchNode {
        switch chars[pos] {
        case "(": return try parseGroup(field: field)
        case "[", "{": return .term(field: field, .range(try parseRange()))
        case "\"":
            let value = try parseQuoted()
            try checkAfterTerm()
            return .term(field: field, .exact(value.lowercased()))
        case ")": throw SearchParseError("unexpected ')' with no matching '('", at: pos)
        case "]", "}", ":", "^", "~":
            throw SearchParseError("unexpected '\(chars[pos])': expected a search term", at: pos)
        default: break
        }
        let word = try parseWord()
        guard pos < chars.count, chars[pos] == ":" else {
            try checkAfterTerm()
            return Self.term(field: field, word)
        }
        let label = String(chars[word.start..<pos])
        pos += 1
        if word.isStar { return try parseValue(field: nil, label: label) }
        if word.hasWildcard {
            throw SearchParseError("wildcards are not supported in field names ('\(label)')", at: word.start)
        }
        return try parseValue(field: word.text.lowercased(), label: label)
    }

    /// What follows `field:`.
    private mutating func parseValue(field: String?, label: String) throws(SearchParseError) -> SearchNode {
        skipSpace()
        let missing = SearchParseError("expected a value after '\(label):'", at: pos)
        guard !atGroupEnd else { throw missing }
        if let (op, _) = peekOperator(), op == .and || op == .or || op == .not, chars[pos] != "!" { throw missing }
        switch chars[pos] {
        case "(": return try parseGroup(field: field)
        case "[", "{": return .term(field: field, .range(try parseRange()))
        case "\"":
            let value = try parseQuoted()
            try checkAfterTerm()
            return .term(field: field, .exact(value.lowercased()))
        case "]", "}", ":", "^", "~": throw missing
        default: break
        }
        let word = try parseWord()
        if pos < chars.count, chars[pos] == ":" {
            throw SearchParseError(
                "unexpected ':' in the value of '\(label)': escape it as '\\:' or quote the value", at: pos)
        }
        try checkAfterTerm()
        return Self.term(field: field, word)
    }

    private mutating func parseGroup(field: String?) throws(SearchParseError) -> SearchNode {
        let open = pos
        pos += 1
        try enter()
        defer { depth -= 1 }
        let node = try parseOr(field: field)
        guard pos < chars.count, chars[pos] == ")" else {
            throw SearchParseError("expected ')' to close the '(' at position \(open)", at: pos)
        }
        pos += 1
        try checkAfterTerm()
        return node
    }

    private static func term(field: String?, _ word: Word) -> SearchNode {
        if word.isStar, field == nil { return .all }
        guard word.hasWildcard else { return .term(field: field, .exact(word.text.lowercased())) }
        var tokens: [ValuePattern.GlobToken] = []
        var literal = ""
        func flush() {
            tokens += literal.lowercased().map { .literal($0) }
            literal = ""
        }
        for (char, escaped) in word.chars {
            if !escaped, char == "*" || char == "?" {
                flush()
                tokens.append(char == "*" ? .any : .one)
            } else {
                literal.append(char)
            }
        }
        flush()
        return .term(field: field, .glob(tokens))
    }

    /// `[` or `{`, lower bound, `TO`, upper bound, `]` or `}`.
    private mutating func parseRange() throws(SearchParseError) -> RangePattern {
        let open = pos
        let includeLower = chars[pos] == "["
        pos += 1
        skipSpace()
        let lower = try parseRangeBound()
        skipSpace()
        guard pos + 2 <= chars.count, chars[pos] == "T", chars[pos + 1] == "O",
            pos + 2 == chars.count || chars[pos + 2].isWhitespace || "]}".contains(chars[pos + 2])
        else {
            throw SearchParseError("expected 'TO' in the range opened at position \(open)", at: pos)
        }
        pos += 2
        skipSpace()
        let upper = try parseRangeBound()
        skipSpace()
        guard pos < chars.count, chars[pos] == "]" || chars[pos] == "}" else {
            throw SearchParseError("expected ']' or '}' to close the range opened at position \(open)", at: pos)
        }
        let includeUpper = chars[pos] == "]"
        pos += 1
        try checkAfterTerm()
        return RangePattern(lower: lower, upper: upper, includeLower: includeLower, includeUpper: includeUpper)
    }

    /// A quoted or bare bound, lowercased; nil for an open (`*`) end.
    private mutating func parseRangeBound() throws(SearchParseError) -> String? {
        if pos < chars.count, chars[pos] == "\"" { return try parseQuoted().lowercased() }
        let start = pos
        var bound = ""
        var escapedAny = false
        while pos < chars.count, !chars[pos].isWhitespace, chars[pos] != "]", chars[pos] != "}" {
            if chars[pos] == "\\" {
                guard pos + 1 < chars.count else { throw danglingEscape() }
                bound.append(chars[pos + 1])
                escapedAny = true
                pos += 2
            } else {
                bound.append(chars[pos])
                pos += 1
            }
        }
        guard pos > start else { throw SearchParseError("expected a range bound", at: pos) }
        return bound == "*" && !escapedAny ? nil : bound.lowercased()
    }

    /// The text between double quotes, with backslash escapes resolved.
    private mutating func parseQuoted() throws(SearchParseError) -> String {
        let open = pos
        pos += 1
        var value = ""
        while pos < chars.count, chars[pos] != "\"" {
            if chars[pos] == "\\", pos + 1 < chars.count {
                value.append(chars[pos + 1])
                pos += 2
            } else {
                value.append(chars[pos])
                pos += 1
            }
        }
        guard pos < chars.count else {
            throw SearchParseError("unterminated quoted value: expected a closing '\"' for the one at position \(open)", at: pos)
        }
        pos += 1
        return value
    }

    private mutating func parseWord() throws(SearchParseError) -> Word {
        var word = Word(start: pos)
        while pos < chars.count {
            let char = chars[pos]
            if char == "\\" {
                guard pos + 1 < chars.count else { throw danglingEscape() }
                word.chars.append((chars[pos + 1], true))
                pos += 2
                continue
            }
            if char.isWhitespace || "()[]{}\":^~".contains(char) { break }
            word.chars.append((char, false))
            pos += 1
        }
        return word
    }

    /// A term must end at whitespace, `)` or the end; unsupported Lucene suffixes get a specific message.
    private func checkAfterTerm() throws(SearchParseError) {
        guard pos < chars.count else { return }
        switch chars[pos] {
        case "^": throw SearchParseError("boosts ('^') are not supported", at: pos)
        case "~": throw SearchParseError("fuzzy and proximity searches ('~') are not supported", at: pos)
        case "[", "]", "{", "}", "\"", ":":
            throw SearchParseError("unexpected '\(chars[pos])' right after a term", at: pos)
        default: return
        }
    }

    // MARK: Scanning helpers

    private var atGroupEnd: Bool { pos >= chars.count || chars[pos] == ")" }

    private mutating func skipSpace() {
        while pos < chars.count, chars[pos].isWhitespace { pos += 1 }
    }

    private func text(_ length: Int) -> String { String(chars[pos..<min(pos + length, chars.count)]) }

    /// The operator starting at `pos`, if any. Keywords count only as whole upper-case words.
    private func peekOperator() -> (Operator, Int)? {
        guard pos < chars.count else { return nil }
        let next: Character? = pos + 1 < chars.count ? chars[pos + 1] : nil
        switch chars[pos] {
        case "+": return (.plus, 1)
        case "-": return (.minus, 1)
        case "!": return (.not, 1)
        case "&" where next == "&": return (.and, 2)
        case "|" where next == "|": return (.or, 2)
        default: break
        }
        for (keyword, op) in [("AND", Operator.and), ("OR", .or), ("NOT", .not)] {
            let end = pos + keyword.count
            guard end <= chars.count, String(chars[pos..<end]) == keyword else { continue }
            if end == chars.count || chars[end].isWhitespace || "()\"".contains(chars[end]) { return (op, keyword.count) }
        }
        return nil
    }

    private mutating func enter() throws(SearchParseError) {
        depth += 1
        if depth > Self.maxDepth {
            throw SearchParseError("query nests too deeply (more than \(Self.maxDepth) levels)", at: pos)
        }
    }

    private func danglingEscape() -> SearchParseError {
        SearchParseError("expected a character after '\\' at the end of the query", at: pos)
    }
}
