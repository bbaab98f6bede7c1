/// Why a signed REST request was refused, with the status and message of spec section 2.1.
/// Unknown principal / organization errors belong to the server, not here.
public enum AuthError: Error, Sendable, Equatable {
    /// Some of X-Ops-UserId, X-Ops-Timestamp, X-Ops-Sign, X-Ops-Content-Hash are absent (canonical names).
    case missingHeaders([String])
    /// `X-Ops-Timestamp` is not `YYYY-MM-DDTHH:MM:SSZ`.
    case badTimestamp
    /// The timestamp is outside the allowed skew.
    case clockSkew(user: String)
    /// `X-Ops-Sign` names a version/algorithm pair we do not accept.
    case unsupportedVersion
    /// No key of the principal verifies the signature (or the signature is missing/garbled).
    case badSignature(user: String)
    /// `X-Ops-Content-Hash` is not the hash of the body that arrived.
    case contentHashMismatch(user: String)

    /// HTTP status the server answers with.
    public var httpStatus: Int {
        switch self {
        case .missingHeaders, .unsupportedVersion: 400
        case .badTimestamp, .clockSkew, .badSignature, .contentHashMismatch: 401
        }
    }

    /// The message for the `{"error": [message]}` body.
    public var message: String {
        switch self {
        case .missingHeaders(let names):
            "missing required authentication header(s) " + names.map { "'\($0)'" }.joined(separator: ", ")
        case .badTimestamp:
            "bad header(s) 'X-Ops-Timestamp'"
        case .clockSkew(let user):
            "Failed to authenticate as \(user). Synchronize the clock on your host."
        case .unsupportedVersion:
            "Unsupported authentication protocol version"
        case .badSignature(let user):
            "Invalid signature for user or client '\(user)'"
        case .contentHashMismatch(let user):
            "Invalid signature for user or client '\(user)': X-Ops-Content-Hash does not match the request body"
        }
    }

    /// `WWW-Authenticate` value the reference server sends with signature failures.
    public var wwwAuthenticate: String? {
        switch self {
        case .badSignature, .contentHashMismatch: #"X-Ops-Sign version="1.0" version="1.1""#
        default: nil
        }
    }
}
