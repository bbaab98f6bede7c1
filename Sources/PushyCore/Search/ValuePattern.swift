/// How one term compares a (lowercased) indexed value.
enum ValuePattern: Sendable, Equatable {
    /// The whole value, case-insensitively (quoted phrases and words without wildcards).
    case exact(String)
    /// A word with unescaped `*` (any run) or `?` (one character).
    case glob([GlobToken])
    case range(RangePattern)

    enum GlobToken: Sendable, Equatable {
        case literal(Character)
        case one
        case any
    }

    func matches(_ value: String) -> Bool {
        switch self {
        case .exact(let text): return value == text
        case .glob(let tokens): return Self.glob(tokens, matches: Array(value))
        case .range(let range): return range.contains(value)
        }
    }

    /// Greedy wildcard match that remembers only the last `*`, so it runs in O(pattern × value) at worst.
    private static func glob(_ pattern: [GlobToken], matches text: [Character]) -> Bool {
        var p = 0, t = 0
        var star: Int? = nil, starText = 0
        while t < text.count {
            if p < pattern.count {
                switch pattern[p] {
                case .any:
                    star = p; starText = t; p += 1; continue
                case .one:
                    p += 1; t += 1; continue
                case .literal(let c) where c == text[t]:
                    p += 1; t += 1; continue
                case .literal:
                    break
                }
            }
            guard let s = star else { return false }
            p = s + 1
            starText += 1
            t = starText
        }
        while p < pattern.count, pattern[p] == .any { p += 1 }
        return p == pattern.count
    }
}

/// `[a TO b]` (inclusive), `{a TO b}` (exclusive) or a mix; `nil` ends are open (`*`).
/// Numeric when every given end is a decimal number (then only numeric values match), else lexicographic.
struct RangePattern: Sendable, Equatable {
    var lower: String?
    var upper: String?
    var includeLower: Bool
    var includeUpper: Bool

    func contains(_ value: String) -> Bool {
        let ends = [lower, upper].compactMap { $0 }
        let numeric = !ends.isEmpty && ends.allSatisfy { Self.number($0) != nil }
        if numeric {
            guard let v = Self.number(value) else { return false }
            return check(v, lower.flatMap(Self.number), upper.flatMap(Self.number))
        }
        return check(value, lower, upper)
    }

    private func check<T: Comparable>(_ v: T, _ low: T?, _ high: T?) -> Bool {
        if let low, includeLower ? v < low : v <= low { return false }
        if let high, includeUpper ? v > high : v >= high { return false }
        return true
    }

    /// A plain decimal number (`-12`, `3.5`, `1e3`); not `nan`, `inf` or hex, which `Double.init` would take.
    static func number(_ text: String) -> Double? {
        var chars = Substring(text)
        if chars.first == "-" || chars.first == "+" { chars = chars.dropFirst() }
        guard let first = chars.first, first.isASCII, first.isNumber || first == "." else { return nil }
        guard chars.allSatisfy({ $0.isASCII && ($0.isNumber || ".eE+-".contains($0)) }) else { return nil }
        return Double(text)
    }
}
