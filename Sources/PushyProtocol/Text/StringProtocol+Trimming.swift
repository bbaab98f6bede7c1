/// Trimming without Foundation's `CharacterSet` (the agent links FoundationEssentials only, for its
/// memory: docs/decisions.md "The agent without Foundation").
extension StringProtocol {
    /// Foundation's `trimmingCharacters(in: .whitespaces)`: drops tabs and Unicode space
    /// separators from both ends.
    package func trimmingWhitespace() -> String {
        trimming { $0.isFoundationWhitespace }
    }

    /// Drops the leading and trailing scalars for which `drop` is true (Foundation's
    /// `trimmingCharacters(in:)` with a set given as a predicate).
    package func trimming(where drop: (Unicode.Scalar) -> Bool) -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !drop($0) }) else { return "" }
        guard let last = scalars.lastIndex(where: { !drop($0) }) else { return "" }
        var kept = String.UnicodeScalarView()
        kept.append(contentsOf: scalars[first...last])
        return String(kept)
    }
}

extension Unicode.Scalar {
    /// Exactly the members of Foundation's `CharacterSet.whitespaces` on Linux: the tab, the space
    /// separators (Zs) and U+200B, which that set still lists.
    package var isFoundationWhitespace: Bool {
        switch value {
        case 0x09, 0x20, 0xA0, 0x1680, 0x2000...0x200B, 0x202F, 0x205F, 0x3000: true
        default: false
        }
    }

    /// `A`–`Z` or `a`–`z` (`CharacterSet.letters` limited to ASCII).
    package var isASCIILetter: Bool {
        ("A"..."Z").contains(self) || ("a"..."z").contains(self)
    }

    /// An ASCII letter or digit (`CharacterSet.alphanumerics` limited to ASCII).
    package var isASCIIAlphanumeric: Bool {
        isASCIILetter || ("0"..."9").contains(self)
    }
}
