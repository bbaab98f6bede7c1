import Foundation
import Hummingbird
import PushyProtocol
import PushyStore

/// Organizations are managed by a superuser, who signs as a user of the default org; the audit
/// entries go to that org's log (a deleted org's own log goes with it).
extension PushyAPI {
    func listOrgs(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        try requireSuperuser(try await authenticate(request, org: config.defaultOrg, body: body))
        let orgs: [OrgRecord]
        do { orgs = try await store.listOrgs() } catch { throw .from(error) }
        return .json(.object(orgs.map { ($0.name, .string("/organizations/\($0.name)")) }))
    }

    /// `POST /organizations` with `{"name": ...}`: the org and its (empty) `admins` group.
    func createOrg(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let p = try await authenticate(request, org: config.defaultOrg, body: body)
        try requireSuperuser(p)
        try requireJSONBody(request)
        let v = try parseJSON(body)
        guard let name = v["name"]?.stringValue, Self.validName(name) else {
            throw .badRequest("'name' must be 1-255 characters of letters, digits, '.', '_' or '-'")
        }
        let org = OrgRecord(name: name, guid: DataDirectory.randomHex(32), createdAt: Date())
        do {
            try await store.createOrg(org)
            try await store.createGroup(org: name, name: AccessRules.admins)
        } catch {
            if error.kind == .duplicate { throw .conflict("organization '\(name)' already exists") }
            throw .from(error)
        }
        await audit(p, request, context, "org.created", target: "organization:\(name)")
        let uri = "/organizations/\(name)"
        return .json(["uri": .string(uri), "name": .string(name), "guid": .string(org.guid)],
                     status: .created, headers: [.location: uri])
    }

    /// `DELETE /organizations/{org}`: everything in it goes. Refused for the default org and
    /// while jobs are still running there.
    func deleteOrg(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let name = param(context, "org")
        let p = try await authenticate(request, org: config.defaultOrg, body: body)
        try requireSuperuser(p)
        if name == config.defaultOrg { throw .conflict("the default organization '\(name)' cannot be deleted") }
        do {
            guard try await store.org(named: name) != nil else { throw APIError.unknownOrg(name) }
            if try await store.listJobs(org: name).contains(where: { !$0.status.isTerminal }) {
                throw APIError.conflict("organization '\(name)' has unfinished jobs; abort them first")
            }
            _ = try await store.deleteOrg(named: name)
        } catch let e as APIError {
            throw e
        } catch let e as StoreError {
            throw .from(e)
        } catch {
            throw .internalError("\(error)")
        }
        await audit(p, request, context, "org.deleted", target: "organization:\(name)")
        return .json(["name": .string(name)])
    }
}
