import Foundation
import Hummingbird
import PushyProtocol
import PushyStore

extension PushyAPI {
    /// The principal described by a `{"name": ..., "public_key": "<PEM>"}` body (users, clients,
    /// enrolment). Private keys never reach the server: the CLI or the agent generates the pair.
    func newPrincipal(_ v: JSONValue, org: String, type: PrincipalType) throws(APIError) -> PrincipalRecord {
        guard let name = v["name"]?.stringValue, Self.validName(name) else {
            throw .badRequest("'name' must be 1-255 characters of letters, digits, '.', '_' or '-'")
        }
        guard let pem = v["public_key"]?.stringValue else { throw .badRequest("'public_key' (a PEM RSA public key) is required") }
        do { _ = try RSAPublicKey(pemRepresentation: pem) } catch {
            throw .badRequest("'public_key' is not a PEM RSA public key: \(error)")
        }
        return PrincipalRecord(org: org, name: name, type: type, publicKey: pem, createdAt: Date())
    }

    /// Stores a new principal; a taken name (user or client) is a 409.
    func insertPrincipal(_ record: PrincipalRecord) async throws(APIError) {
        do { try await store.createPrincipal(record) } catch {
            if error.kind == .duplicate {
                throw .conflict("a user or client named '\(record.name)' already exists in organization '\(record.org)'")
            }
            throw .from(error)
        }
    }

    /// A principal of `type` in `org`, or 404.
    func existingPrincipal(org: String, name: String, type: PrincipalType) async throws(APIError) -> PrincipalRecord {
        let found: PrincipalRecord?
        do { found = try await store.principal(org: org, name: name) } catch { throw .from(error) }
        guard let found, found.type == type else {
            throw .notFound("\(type.rawValue) '\(name)' not found in organization '\(org)'")
        }
        return found
    }

    /// `POST /organizations/{org}/users` with `{"name", "public_key", "admin": bool}` (admins).
    /// `admin: true` also puts the user in the org's `admins` group.
    func createUser(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org")
        let p = try await authenticate(request, org: orgName, body: body)
        try await requireAdmin(p)
        try requireJSONBody(request)
        let v = try parseJSON(body)
        let record = try newPrincipal(v, org: orgName, type: .user)
        var admin = false
        if let a = v["admin"], !a.isNull {
            guard let b = a.boolValue else { throw .badRequest("'admin' must be true or false") }
            admin = b
        }
        try await insertPrincipal(record)
        if admin {
            do { _ = try await store.addGroupMember(org: orgName, group: AccessRules.admins, member: GroupMember(.user, record.name)) }
            catch { throw .from(error) }
        }
        await audit(p, request, context, "user.created", target: "user:\(record.name)", detail: admin ? "added to admins" : "")
        let uri = "/organizations/\(orgName)/users/\(record.name)"
        return .json(["uri": .string(uri), "name": .string(record.name)], status: .created, headers: [.location: uri])
    }

    func listUsers(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org")
        try await requireReader(try await authenticate(request, org: orgName, body: body))
        let list: [PrincipalRecord]
        do { list = try await store.listPrincipals(org: orgName, type: .user) } catch { throw .from(error) }
        return .json(.object(list.map { ($0.name, .string("/organizations/\(orgName)/users/\($0.name)")) }))
    }

    func getUser(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org"), name = param(context, "name")
        try await requireReader(try await authenticate(request, org: orgName, body: body))
        let u = try await existingPrincipal(org: orgName, name: name, type: .user)
        let rules = try await accessRules(orgName)
        let groups = rules.groups.keys.sorted().filter { rules.isMember(GroupMember(.user, name), of: $0) }
        return .json([
            "username": .string(u.name), "name": .string(u.name), "orgname": .string(orgName),
            "public_key": .string(u.publicKey), "superuser": .bool(u.isSuperuser),
            "groups": .array(groups.map(JSONValue.string)),
        ])
    }

    /// `DELETE /organizations/{org}/users/{name}` (admins). Nobody deletes themselves or a
    /// superuser, so the server always keeps a way in.
    func deleteUser(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org"), name = param(context, "name")
        let p = try await authenticate(request, org: orgName, body: body)
        try await requireAdmin(p)
        let u = try await existingPrincipal(org: orgName, name: name, type: .user)
        if u.isSuperuser { throw .conflict("'\(name)' is a server superuser and cannot be deleted") }
        if p.record.org == orgName, p.name == name { throw .conflict("you cannot delete yourself ('\(name)')") }
        do { _ = try await store.deletePrincipal(org: orgName, name: name) } catch { throw .from(error) }
        await audit(p, request, context, "user.deleted", target: "user:\(name)")
        return .json(["name": .string(name)])
    }
}
