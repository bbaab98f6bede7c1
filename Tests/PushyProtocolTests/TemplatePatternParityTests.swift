import Foundation
import Testing

@testable import PushyProtocol

/// Template parameter patterns moved from ICU's `NSRegularExpression` to the standard library's
/// `Regex` (UserRegex). The old check runs here beside the new one on typical patterns and values.
@Suite(.timeLimit(.minutes(1))) struct TemplatePatternParityTests {
    /// The check as it was: `^(?:pattern)$` matched over the whole value, never across a line break.
    static func icuAccepts(_ pattern: String, _ value: String) -> Bool? {
        guard let re = try? NSRegularExpression(pattern: "^(?:" + pattern + ")$") else { return nil }
        let range = NSRange(value.startIndex..<value.endIndex, in: value)
        guard !value.contains("\n"), !value.contains("\r") else { return false }
        return re.firstMatch(in: value, options: [], range: range)?.range == range
    }

    static func newAccepts(_ pattern: String, _ value: String) -> Bool? {
        guard let re = TemplateParameter.compile(pattern) else { return nil }
        return TemplateParameter.matchesWhole(re, value)
    }

    static let patterns = [
        "[0-9]+\\.[0-9]+\\.[0-9]+", "\\d+(\\.\\d+)*", "[a-z][a-z0-9-]*", "v?\\d+", "a|ab", "(ab)+", ".*", ".+",
        "[[:alnum:]_]+", "\\w+", "\\S+", "[^/]+", "(?i)prod|staging", "\\p{L}+", "[a-f0-9]{7,40}", "", "x?",
        "\\d{1,3}(\\.\\d{1,3}){3}", "[\\w.-]+@[\\w.-]+", "é+", ".", "\\s*", "(?:a)", "a$", "^a",
    ]

    static let values = [
        "", "1.2.3", "1.2", "10.20.30", "v12", "abc", "ab", "a", "abab", "prod", "PROD", "Staging", "web-01",
        "a/b", "a b", "x\ny", "x\r\ny", "x\r", "éé", "e\u{301}", "😀", "a\u{2028}", "a\u{85}", "deadbeef",
        "192.168.0.1", "me@example.com", " ", "\t", "ab\n",
    ]

    @Test func sameVerdictsAsICU() {
        var compared = 0
        for pattern in Self.patterns {
            for value in Self.values {
                let old = Self.icuAccepts(pattern, value)
                guard old != nil else { continue }
                // Known: Regex's \w leaves out combining marks (WhitelistICUParityTests).
                if pattern.contains("\\w"), value.unicodeScalars.contains("\u{301}") { continue }
                #expect(Self.newAccepts(pattern, value) == old, "/\(pattern)/ on \(value.debugDescription)")
                compared += 1
            }
        }
        #expect(compared > 600)
    }

    @Test func lineBreaksNeverMatch() throws {
        let re = try #require(TemplateParameter.compile(".*"))
        for value in ["a\nb", "a\r\nb", "a\r", "\n"] { #expect(!TemplateParameter.matchesWhole(re, value)) }
    }

    @Test func invalidPatternsStayInvalid() {
        for pattern in ["([", "(", "[", "*", "a)", "\\"] {
            #expect(Self.icuAccepts(pattern, "a") == nil)
            #expect(Self.newAccepts(pattern, "a") == nil)
        }
    }
}
