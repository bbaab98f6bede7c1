import Foundation
import Testing

@testable import PushyAPIClient

/// The REST client's hand-written percent-encoding (PercentEncoding) gives what Foundation's
/// `addingPercentEncoding` gave for path segments and query values.
@Suite(.timeLimit(.minutes(1))) struct PercentEncodingTests {
    static let pathAllowed = CharacterSet.urlPathAllowed.subtracting(CharacterSet(charactersIn: "/?#"))
    static let queryAllowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))

    @Test func everyASCIICharacterAlone() {
        for value in UInt8(0)...127 {
            let s = String(Unicode.Scalar(value))
            #expect(PushyRESTClient.escape(s) == s.addingPercentEncoding(withAllowedCharacters: Self.pathAllowed))
            #expect(PushyRESTClient.escapeQuery(s) == s.addingPercentEncoding(withAllowedCharacters: Self.queryAllowed))
        }
    }

    @Test(arguments: ["web-01", "a b/c?d#e", "role:web AND name:x*", "é😀", "100%", "e\u{301}", "a;b=c&d", "", "[::1]", "日本"])
    func textLikeFoundation(_ s: String) {
        #expect(PushyRESTClient.escape(s) == s.addingPercentEncoding(withAllowedCharacters: Self.pathAllowed))
        #expect(PushyRESTClient.escapeQuery(s) == s.addingPercentEncoding(withAllowedCharacters: Self.queryAllowed))
    }
}
