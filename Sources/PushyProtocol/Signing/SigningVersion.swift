/// Chef request-signing protocol versions (the `version=` in `X-Ops-Sign`).
public enum SigningVersion: String, Sendable, Hashable, CaseIterable {
    /// Raw RSA "private encrypt" of a canonical string with hashed path and plain user id.
    case v1_0 = "1.0"
    /// As 1.0, but the user id is hashed too (Chef's default).
    case v1_1 = "1.1"
    /// As 1.1, but a standard RSASSA-PKCS1-v1_5 SHA-1 signature (Erlang chef_authn only).
    case v1_2 = "1.2"
    /// RSASSA-PKCS1-v1_5 SHA-256 over a canonical string that also signs the API version.
    case v1_3 = "1.3"

    /// The only digest algorithm each version is accepted with.
    public var algorithm: SigningAlgorithm {
        self == .v1_3 ? .sha256 : .sha1
    }

    /// The `X-Ops-Sign` header value a signer sends.
    public var signHeaderValue: String {
        "algorithm=\(algorithm.rawValue);version=\(rawValue)"
    }
}

/// Digest algorithm named by `algorithm=` in `X-Ops-Sign`.
public enum SigningAlgorithm: String, Sendable, Hashable {
    case sha1
    case sha256
}
