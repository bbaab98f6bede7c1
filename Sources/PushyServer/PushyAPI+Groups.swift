import Foundation
import Hummingbird
import PushyProtocol
import PushyStore

extension PushyAPI {
    /// Chef's group shape: `{"groupname", "orgname", "actors", "users", "clients", "groups"}`.
    static func groupJSON(_ g: GroupRecord) -> JSONValue {
        func names(_ t: GroupMemberType) -> JSONValue {
            .array(g.members.filter { $0.type == t }.map { .string($0.name) })
        }
        return [
            "groupname": .string(g.name), "name": .string(g.name), "orgname": .string(g.org),
            "actors": .array(g.members.filter { $0.type != .group }.map { .string($0.name) }),
            "users": names(.user), "clients": names(.client), "groups": names(.group),
        ]
    }

    func existingGroup(org: String, name: String) async throws(APIError) -> GroupRecord {
        let g: GroupRecord?
        do { g = try await store.group(org: org, name: name) } catch { throw .from(error) }
        guard let g else { throw .notFound("group '\(name)' not found in organization '\(org)'") }
        return g
    }

    func listGroups(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org")
        try await requireReader(try await authenticate(request, org: orgName, body: body))
        let groups: [GroupRecord]
        do { groups = try await store.listGroups(org: orgName) } catch { throw .from(error) }
        return .json(.object(groups.map { ($0.name, .string("/organizations/\(orgName)/groups/\($0.name)")) }))
    }

    func getGroup(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org")
        try await requireReader(try await authenticate(request, org: orgName, body: body))
        return .json(Self.groupJSON(try await existingGroup(org: orgName, name: param(context, "group"))))
    }

    /// `POST /organizations/{org}/groups/{group}/members` with `{"type": "user"|"client"|"group",
    /// "name": ...}` (admins). A missing group is created; the member must exist; a group may
    /// not end up containing itself.
    func addGroupMember(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org"), groupName = param(context, "group")
        let p = try await authenticate(request, org: orgName, body: body)
        try await requireAdmin(p)
        try requireJSONBody(request)
        guard Self.validName(groupName) else {
            throw .badRequest("a group name must be 1-255 characters of letters, digits, '.', '_' or '-'")
        }
        let v = try parseJSON(body)
        guard let typeText = v["type"]?.stringValue, let type = GroupMemberType(rawValue: typeText) else {
            throw .badRequest("'type' must be \"user\", \"client\" or \"group\"")
        }
        guard let name = v["name"]?.stringValue, !name.isEmpty else { throw .badRequest("'name' is required") }
        let member = GroupMember(type, name)
        switch type {
        case .user: _ = try await existingPrincipal(org: orgName, name: name, type: .user)
        case .client: _ = try await existingPrincipal(org: orgName, name: name, type: .client)
        case .group:
            _ = try await existingGroup(org: orgName, name: name)
            let rules = try await accessRules(orgName)
            if name == groupName || rules.isMember(GroupMember(.group, groupName), of: name) {
                throw .badRequest("adding group '\(name)' to '\(groupName)' would make a group contain itself")
            }
        }
        let added: Bool
        do { added = try await store.addGroupMember(org: orgName, group: groupName, member: member) } catch { throw .from(error) }
        if added {
            await audit(p, request, context, "group.member_added", target: "group:\(groupName)", detail: "\(type.rawValue):\(name)")
        }
        return .json(Self.groupJSON(try await existingGroup(org: orgName, name: groupName)))
    }

    /// `DELETE /organizations/{org}/groups/{group}/members/{type}/{name}` (admins).
    func removeGroupMember(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org"), groupName = param(context, "group")
        let typeText = param(context, "type"), name = param(context, "name")
        let p = try await authenticate(request, org: orgName, body: body)
        try await requireAdmin(p)
        guard let type = GroupMemberType(rawValue: typeText) else {
            throw .notFound("no member type '\(typeText)' (use user, client or group)")
        }
        let removed: Bool
        do { removed = try await store.removeGroupMember(org: orgName, group: groupName, member: GroupMember(type, name)) }
        catch { throw .from(error) }
        guard removed else { throw .notFound("\(typeText) '\(name)' is not a member of group '\(groupName)' in organization '\(orgName)'") }
        await audit(p, request, context, "group.member_removed", target: "group:\(groupName)", detail: "\(typeText):\(name)")
        return .json(Self.groupJSON(try await existingGroup(org: orgName, name: groupName)))
    }

    /// `DELETE /organizations/{org}/groups/{group}` (admins); `admins` itself stays.
    func deleteGroup(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org"), groupName = param(context, "group")
        let p = try await authenticate(request, org: orgName, body: body)
        try await requireAdmin(p)
        if groupName == AccessRules.admins { throw .conflict("the 'admins' group cannot be deleted") }
        let deleted: Bool
        do { deleted = try await store.deleteGroup(org: orgName, name: groupName) } catch { throw .from(error) }
        guard deleted else { throw .notFound("group '\(groupName)' not found in organization '\(orgName)'") }
        await audit(p, request, context, "group.deleted", target: "group:\(groupName)")
        return .json(["name": .string(groupName)])
    }
}
