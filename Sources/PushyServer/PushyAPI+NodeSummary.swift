import Foundation
import Hummingbird
import PushyCore
import PushyProtocol
import PushyStore

extension PushyAPI {
    static let summaryStates = ["available", "unavailable", "online", "offline"]
    static let summaryMaxRows = 500

    /// `GET /organizations/{org}/pushy/node_summary?q=QUERY&state=STATE&start=N&rows=N` (readers;
    /// Pushy extension for the dashboard's nodes page): one page of nodes — every node the org has a
    /// record or a connection for, matching the search `q` (the syntax of `search/node`) and `state`
    /// (available, unavailable, online, offline), by name — each with its availability, last
    /// heartbeat, roles, tags, environment and facts; plus the org's counts by state and how many
    /// match. A page is at most 500 nodes, so 10,000 nodes never travel at once.
    func nodeSummary(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org")
        try await requireReader(try await authenticate(request, org: orgName, body: body))
        let params = request.uri.queryParameters
        let q = params.get("q").map { String($0) }.flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 } ?? "*:*"
        let query: SearchQuery
        do { query = try SearchQuery.parse(q) } catch {
            throw .badRequest("invalid search query '\(q)': \(error.description)")
        }
        let state = params.get("state").map { String($0) } ?? ""
        guard state.isEmpty || Self.summaryStates.contains(state) else {
            throw .badRequest("state must be one of \(Self.summaryStates.joined(separator: ", ")), not '\(state)'")
        }
        let start = try intParameter(request, "start", default: 0, range: 0...Int.max)
        let rows = try intParameter(request, "rows", default: 50, range: 1...Self.summaryMaxRows)

        let records: [NodeRecord]
        do { records = try await store.listNodes(org: orgName) } catch { throw .from(error) }
        let activity = await engine.clusterNodeActivity(org: orgName)
        var byName: [String: NodeRecord] = [:]
        for r in records { byName[r.name] = r }
        let names = Set(byName.keys).union(activity.keys).sorted()

        var counts = ["online": 0, "offline": 0, "available": 0, "unavailable": 0]
        var matched: [String] = []
        for name in names {
            let a = activity[name]
            let states = [a == nil ? "offline" : "online", a?.available == true ? "available" : "unavailable"]
            for s in states { counts[s, default: 0] += 1 }
            guard state.isEmpty || states.contains(state) else { continue }
            let doc = byName[name].map(Self.document) ?? SearchDocument.node(name: name, environment: "_default", roles: [], tags: [],
                                                                               attributes: .object([]))
            if query.matches(doc) { matched.append(name) }
        }
        let now = Date().timeIntervalSince1970
        let page = matched.dropFirst(start).prefix(rows).map { name -> JSONValue in
            let a = activity[name], r = byName[name]
            var o: [(String, JSONValue)] = [
                ("name", .string(name)), ("status", .string(a == nil ? "offline" : "online")),
                ("availability", .string(a?.available == true ? "available" : "unavailable")),
            ]
            if let beat = a?.lastHeartbeat {
                o.append(("last_heartbeat", .string(WireTime.iso8601(Date(timeIntervalSince1970: beat)))))
                o.append(("seconds_since_heartbeat", .number(max(0, (now - beat) * 10).rounded() / 10)))
            }
            if let r {
                o += [("chef_environment", .string(r.environment)), ("roles", .array(r.roles.map(JSONValue.string))),
                      ("tags", .array(r.tags.map(JSONValue.string))), ("automatic", r.attributes),
                      ("updated_at", .string(WireTime.iso8601(r.updatedAt)))]
            }
            return .object(o)
        }
        var countFields: [(String, JSONValue)] = [("total", .number(Double(names.count)))]
        for k in ["online", "offline", "available", "unavailable"] { countFields.append((k, .number(Double(counts[k] ?? 0)))) }
        return .json([
            "counts": .object(countFields),
            "matched": .number(Double(matched.count)), "start": .number(Double(start)), "rows": .array(Array(page)),
        ])
    }

    /// A whole-number query parameter within `range`; anything else is a 400 that says so.
    func intParameter(_ request: Request, _ name: String, default value: Int, range: ClosedRange<Int>) throws(APIError) -> Int {
        guard let text = request.uri.queryParameters.get(name) else { return value }
        guard let n = Int(text), range.contains(n) else {
            let upper = range.upperBound == Int.max ? "" : " to \(range.upperBound)"
            throw .badRequest("\(name) must be a whole number from \(range.lowerBound)\(upper), not '\(text)'")
        }
        return n
    }
}
