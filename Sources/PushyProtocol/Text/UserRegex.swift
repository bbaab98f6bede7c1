/// Regular expressions users write (whitelist entries, template parameter patterns), compiled
/// with the standard library's `Regex` rather than Foundation's ICU-backed
/// `NSRegularExpression`, which would make the agent load all of Foundation and ICU.
///
/// Set up to match as ICU did: over Unicode scalars (ICU walks code points; `Regex` walks
/// grapheme clusters by default). The syntax is a superset of ICU's for what users write;
/// the known differences are in docs/decisions.md "The agent without Foundation".
package enum UserRegex {
    /// The compiled pattern, or nil when it is not a valid regular expression. With
    /// `anchorsMatchLines`, `^` and `$` also match at line breaks (ICU's `anchorsMatchLines`).
    package static func compile(_ pattern: String, anchorsMatchLines: Bool = false) -> Regex<AnyRegexOutput>? {
        guard let regex = try? Regex(pattern) else { return nil }
        return regex.matchingSemantics(.unicodeScalar).anchorsMatchLineEndings(anchorsMatchLines)
    }
}
