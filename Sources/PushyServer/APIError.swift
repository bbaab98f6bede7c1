import Foundation
import Hummingbird
import PushyProtocol
import PushyStore

/// Every error the REST API answers with, mapped to HTTP in one place (`response`).
/// Auth errors carry the reference's array body `{"error":["..."]}`; job validation errors
/// a plain string (spec 2.1).
public enum APIError: Error, Sendable {
    case auth(AuthError)
    /// Config request without the agent's CURVE key (spec 4.5): 400.
    case missingCCPK
    /// A `ccpk` that is not a 40-character Z85 key: 401.
    case badCCPK
    case unknownOrg(String)
    case unknownPrincipal(String)
    case notInOrg(user: String, org: String)
    /// An enrolment token that is unknown, used or expired: 401.
    case enrollmentRefused(String)
    case forbidden(String)
    case validation(String)
    case badRequest(String)
    case notFound(String)
    case conflict(String)
    case methodNotAllowed(allowed: [String])
    case bodyTooLarge(limit: Int)
    case notAcceptable(String)
    case unsupportedMediaType
    /// The server holds as many ZeroMQ connections as its descriptor budget allows (issue 5): 503
    /// with `Retry-After`, so agents wait instead of connecting.
    case atConnectionBudget(open: Int, budget: Int)
    /// The store failed (disk full, read-only, I/O error): 503, the request may work later.
    /// The server itself is fine and keeps running jobs; their writes are retried (issue 11).
    case storeUnavailable(String)
    /// A dashboard request without a live session (no cookie, signed out or expired): 401.
    case signInRequired(String)
    case internalError(String)
    /// `/metrics` on the REST port without the right `Authorization: Bearer` token: 401.
    case metricsTokenRefused

    /// A short stable name when this is an authentication refusal (the server log's
    /// `pushy.reason`, `RefusalLog`), nil for every other error.
    var refusalReason: String? {
        switch self {
        case .auth(let e):
            switch e {
            case .missingHeaders: "missing_headers"
            case .badTimestamp: "bad_timestamp"
            case .clockSkew: "clock_skew"
            case .unsupportedVersion: "unsupported_signing_version"
            case .badSignature: "bad_signature"
            case .contentHashMismatch: "content_hash_mismatch"
            }
        case .unknownPrincipal: "unknown_principal"
        case .notInOrg: "not_in_org"
        default: nil
        }
    }

    /// Seconds an agent refused at the budget waits before asking again.
    static let budgetRetryAfter = 10

    var status: HTTPResponse.Status {
        switch self {
        case .auth(let e): .init(code: e.httpStatus)
        case .missingCCPK: .badRequest
        case .badCCPK: .unauthorized
        case .unknownOrg, .notFound: .notFound
        case .unknownPrincipal, .enrollmentRefused, .signInRequired: .unauthorized
        case .notInOrg, .forbidden: .forbidden
        case .validation, .badRequest: .badRequest
        case .conflict: .conflict
        case .methodNotAllowed: .methodNotAllowed
        case .bodyTooLarge: .contentTooLarge
        case .notAcceptable: .notAcceptable
        case .unsupportedMediaType: .unsupportedMediaType
        case .atConnectionBudget, .storeUnavailable: .serviceUnavailable
        case .internalError: .internalServerError
        case .metricsTokenRefused: .unauthorized
        }
    }

    var message: String {
        switch self {
        case .auth(let e): e.message + Self.hint(e)
        case .missingCCPK: "Missing ccpk: send the agent's CURVE public key as ?ccpk=<40 Z85 characters>"
        case .badCCPK: "Bad ccpk: the agent's CURVE public key must be 40 Z85 characters (32 bytes)"
        case .unknownOrg(let o): "organization '\(o)' does not exist."
        case .unknownPrincipal(let n):
            "Failed to authenticate as '\(n)'. Ensure that your node_name and client key are correct."
        case .notInOrg(let u, let o): "'\(u)' is not associated with organization '\(o)'"
        case .forbidden(let m), .enrollmentRefused(let m), .signInRequired(let m), .validation(let m), .badRequest(let m), .notFound(let m), .conflict(let m): m
        case .methodNotAllowed(let allowed): "method not allowed here (allowed: \(allowed.joined(separator: ", ")))"
        case .bodyTooLarge(let limit): "JSON must be no more than \(limit) bytes."
        case .notAcceptable(let m): m
        case .unsupportedMediaType: "request body must be JSON (Content-Type: application/json)"
        case .atConnectionBudget(let open, let budget):
            "the server is at its connection budget (\(open) of \(budget) ZeroMQ connections, 2 per agent); "
                + "retry in \(Self.budgetRetryAfter) s. Operators: raise the server's file limit (LimitNOFILE) "
                + "or max_agent_connections, or add a server"
        case .storeUnavailable(let m): "the server cannot use its store right now; try again later (\(m))"
        case .internalError(let m): "internal error: \(m)"
        case .metricsTokenRefused:
            "/metrics on this port needs 'Authorization: Bearer TOKEN' with the server's metrics_token (or scrape the metrics_listen address)"
        }
    }

    /// How to fix an authentication failure, after the reference's own message (spec 2.1), which
    /// says only what is wrong.
    static func hint(_ e: AuthError) -> String {
        switch e {
        case .missingHeaders:
            "; sign the request with the key of a user or client of the organization (Chef request signing)"
        case .badTimestamp:
            ": expected UTC time as YYYY-MM-DDTHH:MM:SSZ"
        case .unsupportedVersion:
            ": send X-Ops-Sign as algorithm=sha1;version=1.1 (or version=1.0 or 1.2) or algorithm=sha256;version=1.3"
        case .badSignature:
            " (check that the key is the one registered for this name and that method, path, body and headers were signed as sent)"
        case .clockSkew, .contentHashMismatch:
            ""
        }
    }

    /// The reference uses an array for auth/authz errors and a string for everything else.
    var usesArrayBody: Bool {
        switch self {
        case .auth, .missingCCPK, .badCCPK, .unknownOrg, .unknownPrincipal, .notInOrg, .forbidden, .enrollmentRefused: true
        default: false
        }
    }

    var response: Response {
        let body: JSONValue = usesArrayBody ? ["error": [.string(message)]] : ["error": .string(message)]
        var headers: HTTPFields = [.contentType: "application/json"]
        if case .auth(let e) = self, let w = e.wwwAuthenticate { headers[.wwwAuthenticate] = w }
        if case .unknownPrincipal = self { headers[.wwwAuthenticate] = #"X-Ops-Sign version="1.0" version="1.1""# }
        if case .methodNotAllowed(let allowed) = self { headers[.allow] = allowed.joined(separator: ", ") }
        if case .atConnectionBudget = self { headers[.retryAfter] = "\(Self.budgetRetryAfter)" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body.serialized())))
    }

    static func from(_ e: StoreError) -> APIError {
        switch e.kind {
        case .duplicate: .conflict(e.description)
        case .notFound: .notFound(e.description)
        case .io: .storeUnavailable(e.description)
        }
    }
}

extension Response {
    /// A JSON response.
    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        headers.append(contentsOf: extra)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: value.bytes)))
    }
}
