import FoundationEssentials

/// Builds the `X-Ops-*` headers that sign a Chef API request (spec section 8).
public struct SignedRequestHeaders: Sendable {
    /// Length of each `X-Ops-Authorization-N` chunk (Ruby `encode64` line length).
    public static let chunkLength = 60

    /// The signing headers in the order Chef sends them: `X-Ops-Sign`, `X-Ops-Userid`,
    /// `X-Ops-Timestamp`, `X-Ops-Content-Hash`, `X-Ops-Authorization-1..N`, `X-Ops-Server-API-Version`.
    public static func sign(
        method: String, path: String, body: [UInt8], userId: String, timestamp: Date,
        key: RSAPrivateKey, version: SigningVersion = .v1_3, serverAPIVersion: String = "0"
    ) throws(CryptoKeyError) -> [(String, String)] {
        let contentHash = CanonicalRequest.contentHash(of: body, algorithm: version.algorithm)
        let timestampText = ChefTimestamp.format(timestamp)
        let canonical = Array(CanonicalRequest.string(
            version: version, method: method, path: path, contentHash: contentHash,
            timestamp: timestampText, userId: userId, serverAPIVersion: serverAPIVersion).utf8)
        let signature: [UInt8] = switch version {
        case .v1_0, .v1_1: try key.privateEncryptRaw(canonical)
        case .v1_2: try key.signSHA1(canonical)
        case .v1_3: try key.signSHA256(canonical)
        }
        var headers: [(String, String)] = [
            ("X-Ops-Sign", version.signHeaderValue),
            ("X-Ops-Userid", userId),
            ("X-Ops-Timestamp", timestampText),
            ("X-Ops-Content-Hash", contentHash),
        ]
        for (index, chunk) in chunks(Data(signature).base64EncodedString()).enumerated() {
            headers.append(("X-Ops-Authorization-\(index + 1)", chunk))
        }
        headers.append(("X-Ops-Server-API-Version", serverAPIVersion))
        return headers
    }

    /// Splits `text` into `chunkLength`-character pieces.
    static func chunks(_ text: String) -> [String] {
        var pieces: [String] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            pieces.append(String(rest.prefix(chunkLength)))
            rest = rest.dropFirst(chunkLength)
        }
        return pieces
    }
}
