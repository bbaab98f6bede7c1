import FoundationEssentials

/// Verifies Chef-signed REST requests (spec sections 8 and 2.1).
///
/// The server calls ``parse(headers:)`` first (to learn the principal), looks up that
/// principal's public keys, then calls ``ParsedSignedRequest/verify(method:path:body:publicKeys:now:allowedSkew:)``.
public struct RequestAuthenticator: Sendable {
    /// Allowed clock skew of the reference pushy server (`AUTH_SKEW`).
    public static let defaultAllowedSkew: TimeInterval = 900

    /// Most `X-Ops-Authorization-N` chunks read (a 16384-bit signature needs 46).
    static let maximumChunks = 64

    /// Reads and checks the signing headers. `headers` looks a header up by name, case-insensitively.
    public static func parse(headers: (String) -> String?) throws(AuthError) -> ParsedSignedRequest {
        func value(_ name: String) -> String? {
            guard let raw = headers(name)?.trimmingWhitespace(), !raw.isEmpty else { return nil }
            return raw
        }
        let userId = value("X-Ops-UserId")
        let timestamp = value("X-Ops-Timestamp")
        let sign = value("X-Ops-Sign")
        let contentHash = value("X-Ops-Content-Hash")
        let missing = [("X-Ops-UserId", userId), ("X-Ops-Timestamp", timestamp),
                       ("X-Ops-Sign", sign), ("X-Ops-Content-Hash", contentHash)]
            .filter { $0.1 == nil }.map(\.0)
        guard missing.isEmpty, let userId, let timestamp, let sign, let contentHash else {
            throw .missingHeaders(missing)
        }

        let (version, algorithm) = try parseSignDescription(sign)
        guard let date = ChefTimestamp.parse(timestamp) else { throw .badTimestamp }

        // Bytes, not characters: whitespace inside a chunk is dropped without Unicode tables
        // (base64 is ASCII; anything else fails to decode below, as before).
        var encoded: [UInt8] = []
        for index in 1...maximumChunks {
            guard let chunk = headers("X-Ops-Authorization-\(index)") else { break }
            encoded += chunk.utf8.lazy.filter { $0 != 0x20 && !(0x09...0x0D).contains($0) }
        }
        // A missing or undecodable signature is reported as a bad signature by `verify`,
        // after the server has had the chance to reject an unknown principal.
        let signature = Data(base64Encoded: Data(encoded)).map { [UInt8]($0) } ?? []

        return ParsedSignedRequest(
            userId: userId, timestamp: date, timestampText: timestamp, version: version,
            algorithm: algorithm, contentHash: contentHash, signature: signature,
            serverAPIVersion: value("X-Ops-Server-API-Version"))
    }

    /// Parses `X-Ops-Sign` (`algorithm=sha1;version=1.1;`): split on `;` then `=`, empty parts ignored,
    /// algorithm defaulting to the version's own.
    static func parseSignDescription(_ text: String) throws(AuthError) -> (SigningVersion, SigningAlgorithm) {
        var fields: [String: String] = [:]
        for part in text.split(separator: ";") {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            fields[pair[0].trimmingWhitespace().lowercased()] =
                pair[1].trimmingWhitespace()
        }
        guard let versionText = fields["version"], let version = SigningVersion(rawValue: versionText) else {
            throw .unsupportedVersion
        }
        guard let algorithmText = fields["algorithm"] else { return (version, version.algorithm) }
        guard SigningAlgorithm(rawValue: algorithmText.lowercased()) == version.algorithm else {
            throw .unsupportedVersion
        }
        return (version, version.algorithm)
    }

    /// Parse and verify in one go, for callers that already hold the principal's keys.
    public static func authenticate(
        headers: (String) -> String?, method: String, path: String, body: [UInt8],
        publicKeys: [RSAPublicKey], now: Date, allowedSkew: TimeInterval = defaultAllowedSkew
    ) throws(AuthError) -> ParsedSignedRequest {
        let request = try parse(headers: headers)
        try request.verify(method: method, path: path, body: body, publicKeys: publicKeys,
                           now: now, allowedSkew: allowedSkew)
        return request
    }
}

/// The signing headers of one request, syntactically valid but not yet verified.
public struct ParsedSignedRequest: Sendable, Equatable {
    /// `X-Ops-UserId`: the user or client name.
    public let userId: String
    /// `X-Ops-Timestamp`, parsed.
    public let timestamp: Date
    /// `X-Ops-Timestamp` exactly as sent (it is part of the canonical string).
    public let timestampText: String
    public let version: SigningVersion
    public let algorithm: SigningAlgorithm
    /// `X-Ops-Content-Hash` as sent.
    public let contentHash: String
    /// The concatenated, decoded `X-Ops-Authorization-N` headers (empty if absent or not base64).
    public let signature: [UInt8]
    /// `X-Ops-Server-API-Version` if sent; 1.3 signs it, with `0` when absent.
    public let serverAPIVersion: String?

    /// Fails with ``AuthError/clockSkew(user:)`` unless |now − timestamp| < `allowedSkew`.
    public func checkClock(now: Date, allowedSkew: TimeInterval = RequestAuthenticator.defaultAllowedSkew) throws(AuthError) {
        guard abs(now.timeIntervalSince(timestamp)) < allowedSkew else { throw .clockSkew(user: userId) }
    }

    /// Checks clock skew, the content hash against `body`, then the signature against each key
    /// in turn (any one verifying is enough). `path` may include a query string.
    public func verify(
        method: String, path: String, body: [UInt8], publicKeys: [RSAPublicKey], now: Date,
        allowedSkew: TimeInterval = RequestAuthenticator.defaultAllowedSkew
    ) throws(AuthError) {
        try checkClock(now: now, allowedSkew: allowedSkew)
        guard CanonicalRequest.contentHash(of: body, algorithm: algorithm) == contentHash else {
            throw .contentHashMismatch(user: userId)
        }
        let canonical = Array(CanonicalRequest.string(
            version: version, method: method, path: path, contentHash: contentHash,
            timestamp: timestampText, userId: userId, serverAPIVersion: serverAPIVersion ?? "0").utf8)
        guard !signature.isEmpty, publicKeys.contains(where: { isValid(canonical, $0) }) else {
            throw .badSignature(user: userId)
        }
    }

    private func isValid(_ canonical: [UInt8], _ key: RSAPublicKey) -> Bool {
        switch version {
        case .v1_0, .v1_1: key.publicDecryptRaw(signature) == canonical
        case .v1_2: key.verifySHA1(signature: signature, for: canonical)
        case .v1_3: key.verifySHA256(signature: signature, for: canonical)
        }
    }
}
