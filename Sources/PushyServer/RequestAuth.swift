import Foundation
import HTTPTypes
import Hummingbird
import PushyProtocol
import PushyStore

/// Who made a verified request.
struct Principal: Sendable {
    /// The organization named in the URL (for a superuser acting elsewhere, not its own).
    var org: OrgRecord
    var record: PrincipalRecord
    var name: String { record.name }
    var isUser: Bool { record.type == .user }
    var isSuperuser: Bool { record.isSuperuser }
    /// How groups name this principal.
    var member: GroupMember { GroupMember(record.type.groupMemberType, record.name) }
}

extension PushyAPI {
    /// Verifies a signed request (spec 8, 2.1): headers, org, principal, clock, body hash, signature.
    /// A dashboard call (`DashboardAuth.session` set by `dashboardCall`) is the session's user instead.
    /// A refusal is logged (rate-limited: `RefusalLog`) with the principal, reason and peer.
    func authenticate(_ request: Request, org orgName: String, body: [UInt8]) async throws(APIError) -> Principal {
        if let session = DashboardAuth.session { return try await sessionPrincipal(session, org: orgName) }
        do {
            return try await verifySignedRequest(request, org: orgName, body: body)
        } catch {
            if let reason = error.refusalReason {
                let principal = HTTPField.Name("X-Ops-UserId").flatMap { request.headers[$0] } ?? "(none)"
                engine.refusals.refused(principal: principal, reason: reason, remote: RequestPeer.address,
                                        path: request.uri.path)
            }
            throw error
        }
    }

    private func verifySignedRequest(_ request: Request, org orgName: String, body: [UInt8]) async throws(APIError) -> Principal {
        let parsed: ParsedSignedRequest
        do {
            parsed = try RequestAuthenticator.parse { name in
                guard let field = HTTPField.Name(name) else { return nil }
                return request.headers[field]
            }
        } catch let e as AuthError { throw .auth(e) } catch { throw .internalError("\(error)") }
        let org: OrgRecord?, p: PrincipalRecord?
        do { (org, p) = try await store.orgAndPrincipal(org: orgName, name: parsed.userId) } catch { throw .from(error) }
        guard let org else { throw .unknownOrg(orgName) }
        var principal = p
        if principal == nil, orgName != config.defaultOrg {
            // A superuser of the default org acts as an admin of every organization.
            do {
                principal = try await store.principal(org: config.defaultOrg, name: parsed.userId).flatMap {
                    $0.isSuperuser ? $0 : nil
                }
            } catch { throw .from(error) }
        }
        guard let p = principal else {
            // Known elsewhere → not a member of this org (403); known nowhere → 401.
            if await principalExistsElsewhere(parsed.userId) { throw .notInOrg(user: parsed.userId, org: orgName) }
            throw .unknownPrincipal(parsed.userId)
        }
        let key: RSAPublicKey
        do { key = try publicKeys.key(p.publicKey) } catch {
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

    /// The org's groups as authorization rules.
    func accessRules(_ org: String) async throws(APIError) -> AccessRules {
        do { return AccessRules(groups: try await store.listGroups(org: org)) } catch { throw .from(error) }
    }

    /// The reference's 403 for a principal outside the required group (spec 2.1).
    func denied(_ p: Principal) -> APIError {
        .forbidden("User or client '\(p.name)' does not have access to that action on this server.")
    }

    /// Reading jobs, nodes, principals, groups and search: `pushy_job_readers` if it exists,
    /// else any member of the org.
    func requireReader(_ p: Principal) async throws(APIError) {
        if p.isSuperuser { return }
        guard try await accessRules(p.org.name).canRead(p.member) else { throw denied(p) }
    }

    /// Starting and aborting jobs: `pushy_job_writers` if it exists, else `admins`.
    func requireWriter(_ p: Principal) async throws(APIError) {
        if p.isSuperuser { return }
        guard try await accessRules(p.org.name).canWrite(p.member) else { throw denied(p) }
    }

    /// Managing principals, groups and tokens, and reading the audit log: members of `admins`.
    func requireAdmin(_ p: Principal) async throws(APIError) {
        if p.isSuperuser { return }
        guard try await accessRules(p.org.name).isAdmin(p.member) else { throw denied(p) }
    }

    /// Creating, listing and deleting organizations: a superuser (the user `pushy-server init` creates).
    func requireSuperuser(_ p: Principal) throws(APIError) {
        guard p.isSuperuser else { throw denied(p) }
    }
}
