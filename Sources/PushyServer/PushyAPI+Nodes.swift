import Foundation
import Hummingbird
import PushyCore
import PushyProtocol
import PushyStore

extension PushyAPI {
    static func nodeJSON(_ n: NodeRecord) -> JSONValue {
        [
            "name": .string(n.name), "chef_type": "node", "json_class": "Chef::Node",
            "chef_environment": .string(n.environment), "roles": .array(n.roles.map(JSONValue.string)),
            "tags": .array(n.tags.map(JSONValue.string)),
            "run_list": .array(n.roles.map { .string("role[\($0)]") }), "automatic": n.attributes,
            "updated_at": .string(WireTime.rfc1123(n.updatedAt)),
        ]
    }

    static func document(_ n: NodeRecord) -> SearchDocument {
        SearchDocument.node(name: n.name, environment: n.environment, roles: n.roles, tags: n.tags, attributes: n.attributes)
    }

    /// `GET /organizations/{org}/search/node?q=...` — Chef's search response shape.
    func searchNodes(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org")
        try await requireReader(try await authenticate(request, org: orgName, body: body))
        let q = request.uri.queryParameters.get("q").map { String($0) } ?? "*:*"
        let query: SearchQuery
        do { query = try SearchQuery.parse(q) } catch {
            throw .badRequest("invalid search query '\(q)': \(error.description)")
        }
        let nodes: [NodeRecord]
        do { nodes = try await store.listNodes(org: orgName) } catch { throw .from(error) }
        let rows = nodes.filter { query.matches(Self.document($0)) }.sorted { $0.name < $1.name }
        return .json(["total": .number(Double(rows.count)), "start": 0, "rows": .array(rows.map(Self.nodeJSON))])
    }

    func listNodes(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org")
        try await requireReader(try await authenticate(request, org: orgName, body: body))
        let nodes: [NodeRecord]
        do { nodes = try await store.listNodes(org: orgName) } catch { throw .from(error) }
        let base = "/organizations/\(orgName)/nodes/"
        return .json(.object(nodes.sorted { $0.name < $1.name }.map { ($0.name, .string(base + $0.name)) }))
    }

    func getNode(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org"), name = param(context, "node")
        try await requireReader(try await authenticate(request, org: orgName, body: body))
        let n: NodeRecord?
        do { n = try await store.node(org: orgName, name: name) } catch { throw .from(error) }
        guard let n else { throw .notFound("node '\(name)' not found in organization '\(orgName)'") }
        return .json(Self.nodeJSON(n))
    }

    /// An agent reports its node (or an admin sets one): the node's own client or an admin.
    func putNode(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org"), name = param(context, "node")
        let p = try await authenticate(request, org: orgName, body: body)
        if p.isUser { try await requireAdmin(p) } else if p.name != name {
            throw .forbidden("client '\(p.name)' may only update its own node, not '\(name)'")
        }
        try requireJSONBody(request)
        let report: NodeReport
        do { report = try NodeReport.parse(try parseJSON(body)) } catch let e as APIError { throw e } catch {
            throw .badRequest("invalid node: \(error)")
        }
        guard report.name == name else { throw .badRequest("node name in body ('\(report.name)') does not match the URL ('\(name)')") }
        let record = NodeRecord(org: orgName, name: name, environment: report.environment, roles: report.roles,
                                tags: report.tags, attributes: report.mergedAttributes, updatedAt: Date())
        do { try await store.upsertNode(record) } catch { throw .from(error) }
        await audit(p, request, context, "node.updated", target: "node:\(name)")
        return .json(Self.nodeJSON(record))
    }
}
