import Foundation
import Testing

@testable import PushyProtocol

/// The Foundation-free text helpers (StringProtocol+Trimming) give what Foundation's
/// `CharacterSet` gave.
@Suite(.timeLimit(.minutes(1))) struct FoundationTrimmingParityTests {
    @Test func whitespaceIsFoundationsSet() {
        for value in UInt32(0)...0x10FFFF {
            guard let scalar = Unicode.Scalar(value) else { continue }
            #expect(scalar.isFoundationWhitespace == CharacterSet.whitespaces.contains(scalar), "U+\(String(value, radix: 16))")
        }
    }

    @Test func asciiClassesAreFoundationsRestrictedToASCII() {
        for value in UInt8(0)...127 {
            let scalar = Unicode.Scalar(value)
            #expect(scalar.isASCIILetter == CharacterSet.letters.contains(scalar))
            #expect(scalar.isASCIIAlphanumeric == CharacterSet.alphanumerics.contains(scalar))
        }
    }

    @Test(arguments: ["", " ", "\t a b \t", "\u{a0}x\u{3000}", "x\n", "\ny ", " e\u{301} ", "\u{200b}z\u{200b}",
                      "  ", "a", " \u{301}a", "😀 "])
    func trimsLikeFoundation(_ text: String) {
        #expect(text.trimmingWhitespace() == text.trimmingCharacters(in: .whitespaces))
        #expect(text[...].trimmingWhitespace() == text.trimmingCharacters(in: .whitespaces))
        #expect(text.trimming { $0 == "\"" || $0 == " " } == text.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")))
    }
}
