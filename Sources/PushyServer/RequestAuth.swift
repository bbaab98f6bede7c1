import Foundation
import HTTPTypes
import Hummingbird
import PushyProtocol
import PushyStore

/// Who made a verified request.
struct Principal: Sendable {
    var org: OrgRecord
    var record: PrincipalRecord
    var name: String { record.name }
    var isUser: Bool { record.type == .user }
    var isAdmin: Bool { record.isAdmin }
}

extension PushyAPI {
    /// Verifies a signed request (spec 8, 2.1): headers, org, principal, clock, body hash, signature.
    func authenticate(_ request: Request, org orgName: String, body: [UInt8]) async throws(APIError) -> Principal {
        let parsed: ParsedSignedRequest
        do {
            parsed = try RequestAuthenticator.parse { name in
                guard let field = HTTPField.Name(name) else { return nil }
                return request.headers[field]
            }
        } catch let e as AuthError { throw .auth(e) } catch { throw .internalError("\(error)") }
        let org: OrgRecord?
        do { org = try await store.org(named: orgName) } catch { throw .from(error) }
        guard let org else { throw .unknownOrg(orgName) }
        let p: PrincipalRecord?
        do { p = try await store.principal(org: orgName, name: parsed.userId) } catch { throw .from(error) }
        guard let p else {
            // Known elsewhere → not a member of this org (403); known nowhere → 401.
            if await principalExistsElsewhere(parsed.userId) { throw .notInOrg(user: parsed.userId, org: orgName) }
            throw .unknownPrincipal(parsed.userId)
        }
        let key: RSAPublicKey
        do { key = try RSAPublicKey(pemRepresentation: p.publicKey) } catch {
            throw .internalError("stored public key of '\(p.name)' is unreadable")
        }
        do {
            try parsed.verify(method: request.method.rawValue, path: request.uri.path, body: body, publicKeys: [key],
                              now: Date(), allowedSkew: config.authSkew)
        } catch { throw .auth(error) }
        return Principal(org: org, record: p)
    }

    func principalExistsElsewhere(_ name: String) async -> Bool {
        guard let orgs = try? await store.listOrgs() else { return false }
        for o in orgs { if (try? await store.principal(org: o.name, name: name)) != nil { return true } }
        return false
    }

    /// Reading jobs, nodes and search: any member of the org (groups come with the security issue).
    func requireReader(_ p: Principal) throws(APIError) {}

    /// Starting jobs and managing clients: admins of the org.
    func requireAdmin(_ p: Principal) throws(APIError) {
        guard p.isAdmin else {
            throw .forbidden("User or client '\(p.name)' does not have access to that action on this server.")
        }
    }
}
