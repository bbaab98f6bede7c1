import Crypto
import FoundationEssentials

/// The strings Chef request signatures are computed over (spec section 8). Public so tests
/// and other implementations can pin them exactly.
public enum CanonicalRequest {
    /// The request path without query string, runs of `/` collapsed, trailing `/` removed
    /// (except for `/` itself).
    public static func path(_ rawPath: String) -> String {
        let withoutQuery = rawPath.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        var result = ""
        for character in withoutQuery where !(character == "/" && result.hasSuffix("/")) {
            result.append(character)
        }
        if result.count > 1, result.hasSuffix("/") {
            result.removeLast()
        }
        return result
    }

    /// `X-Ops-Content-Hash`: base64 of the body's digest.
    public static func contentHash(of body: [UInt8], algorithm: SigningAlgorithm) -> String {
        switch algorithm {
        case .sha1: base64(Insecure.SHA1.hash(data: body))
        case .sha256: base64(SHA256.hash(data: body))
        }
    }

    /// The canonical string for `version`, lines joined by `\n` with no trailing newline.
    /// `timestamp` is the exact `X-Ops-Timestamp` text; `serverAPIVersion` only matters for 1.3.
    public static func string(
        version: SigningVersion, method: String, path: String, contentHash: String,
        timestamp: String, userId: String, serverAPIVersion: String = "0"
    ) -> String {
        let canonicalPath = self.path(path)
        let method = method.uppercased()
        switch version {
        case .v1_0, .v1_1, .v1_2:
            let hashedPath = base64(Insecure.SHA1.hash(data: Array(canonicalPath.utf8)))
            let user = version == .v1_0 ? userId : base64(Insecure.SHA1.hash(data: Array(userId.utf8)))
            return [
                "Method:\(method)",
                "Hashed Path:\(hashedPath)",
                "X-Ops-Content-Hash:\(contentHash)",
                "X-Ops-Timestamp:\(timestamp)",
                "X-Ops-UserId:\(user)",
            ].joined(separator: "\n")
        case .v1_3:
            return [
                "Method:\(method)",
                "Path:\(canonicalPath)",
                "X-Ops-Content-Hash:\(contentHash)",
                "X-Ops-Sign:version=1.3",
                "X-Ops-Timestamp:\(timestamp)",
                "X-Ops-UserId:\(userId)",
                "X-Ops-Server-API-Version:\(serverAPIVersion)",
            ].joined(separator: "\n")
        }
    }

    private static func base64(_ digest: some Digest) -> String {
        Data(digest).base64EncodedString()
    }
}
