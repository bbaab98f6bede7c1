import Crypto
import Foundation
import Hummingbird
import PushyProtocol
import PushyStore

/// Enrolment: an admin creates a one-time token; a new node sends it with its own public key
/// (unsigned, since it has no key the server knows yet) and becomes a client.
extension PushyAPI {
    static let defaultTokenLifetime = 3600
    static let maxTokenLifetime = 30 * 24 * 3600

    /// Lowercase hex SHA-256: only this is stored, never the token.
    static func tokenHash(_ token: String) -> String {
        SHA256.hash(data: Array(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// `POST /organizations/{org}/enrollment_tokens` with `{"expires_in": seconds}` (admins)
    /// → 201 `{"token", "expires_at", "expires_in"}`. The token is shown once.
    func createEnrollmentToken(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org")
        let p = try await authenticate(request, org: orgName, body: body)
        try await requireAdmin(p)
        try requireJSONBody(request)
        let v = body.isEmpty ? JSONValue.object([]) : try parseJSON(body)
        var lifetime = Self.defaultTokenLifetime
        if let e = v["expires_in"], !e.isNull {
            guard let n = e.intValue, n >= 1, n <= Self.maxTokenLifetime else {
                throw .badRequest("'expires_in' must be a whole number of seconds from 1 to \(Self.maxTokenLifetime)")
            }
            lifetime = n
        }
        var bytes = [UInt8](repeating: 0, count: 32)
        var rng = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = rng.next() }
        let token = bytes.map { String(format: "%02x", $0) }.joined()
        let now = Date()
        let record = EnrollmentTokenRecord(org: orgName, tokenHash: Self.tokenHash(token), createdBy: p.name, createdAt: now,
                                           expiresAt: now.addingTimeInterval(Double(lifetime)))
        do { try await store.createEnrollmentToken(record) } catch { throw .from(error) }
        await audit(p, request, context, "token.created", target: "token:\(record.tokenHash.prefix(12))",
                    detail: "expires \(WireTime.iso8601(record.expiresAt))")
        return .json([
            "token": .string(token), "expires_at": .string(WireTime.iso8601(record.expiresAt)),
            "expires_in": .number(Double(lifetime)),
        ], status: .created)
    }

    /// `POST /organizations/{org}/enroll` (unsigned) with `{"token", "name", "public_key"}` →
    /// 201 and a new client. Unknown, used or expired token → 401; name taken → 409 (the token
    /// stays usable).
    func enroll(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org")
        let org: OrgRecord?
        do { org = try await store.org(named: orgName) } catch { throw .from(error) }
        guard org != nil else { throw .unknownOrg(orgName) }
        try requireJSONBody(request)
        let v = try parseJSON(body)
        guard let token = v["token"]?.stringValue, !token.isEmpty else { throw .badRequest("'token' is required") }
        let client = try newPrincipal(v, org: orgName, type: .client)
        let hash = Self.tokenHash(token)
        let outcome: EnrollmentOutcome
        do { outcome = try await store.enroll(tokenHash: hash, client: client, at: Date()) } catch {
            if error.kind == .duplicate {
                throw .conflict("a user or client named '\(client.name)' already exists in organization '\(orgName)'")
            }
            throw .from(error)
        }
        switch outcome {
        case .unknownToken:
            throw .enrollmentRefused("unknown enrolment token for organization '\(orgName)'")
        case .alreadyUsed:
            throw .enrollmentRefused("this enrolment token was already used; create a new one with 'pushy token create'")
        case .expired:
            throw .enrollmentRefused("this enrolment token has expired; create a new one with 'pushy token create'")
        case .enrolled(let t):
            await audit(org: orgName, actor: client.name, actorType: "enrollment", request, context, "token.used",
                        target: "token:\(hash.prefix(12))", detail: "created by \(t.createdBy)")
            await audit(org: orgName, actor: client.name, actorType: "enrollment", request, context, "client.enrolled",
                        target: "client:\(client.name)", detail: "token:\(hash.prefix(12))")
        }
        let uri = "/organizations/\(orgName)/clients/\(client.name)"
        return .json(["uri": .string(uri), "name": .string(client.name)], status: .created, headers: [.location: uri])
    }
}
