import Foundation
import PushyProtocol
import Testing

/// Signed calls as one principal, in one org: the calls of `PushyRESTClient` the tests use,
/// over the router. Paths are relative to `/organizations/ORG/` unless they start with `/`.
struct Caller: Sendable {
    let rig: RouterRig
    let signer: Signer
    var org: String

    var name: String { signer.userId }

    func path(_ p: String) -> String { p.hasPrefix("/") ? p : "/organizations/\(org)/" + p }

    /// Any answer.
    func send(_ method: String, _ path: String, json: JSONValue? = nil, accept: String = "application/json",
              headers: [(String, String)] = []) async throws -> Reply {
        try await rig.signed(method, self.path(path), json: json, as: signer, accept: accept, headers: headers)
    }

    /// A 2xx answer, else `HTTPFailure` with the status and the server's message.
    @discardableResult
    func ok(_ method: String, _ path: String, json: JSONValue? = nil, accept: String = "application/json") async throws -> Reply {
        let r = try await send(method, path, json: json, accept: accept)
        guard (200..<300).contains(r.status) else { throw HTTPFailure(status: r.status, message: r.errorMessage ?? r.text) }
        return r
    }

    func json(_ method: String, _ path: String, json: JSONValue? = nil) async throws -> JSONValue {
        let r = try await ok(method, path, json: json)
        guard let v = r.json else { throw RigError("\(method) \(path): body is not JSON: \(r.text.prefix(200))") }
        return v
    }

    // MARK: Jobs and nodes

    /// Starts a job; its id (the end of `uri`, as knife and `PushyRESTClient` take it).
    func startJob(_ job: JobRequest) async throws -> String {
        guard let uri = try await json("POST", "pushy/jobs", json: job.json)["uri"]?.stringValue, uri.count >= 32 else {
            throw RigError("no 'uri' in the job response")
        }
        return String(uri.suffix(32))
    }

    func job(_ id: String, nodes: Bool = true, wait: Int? = nil) async throws -> JobView {
        var query: [String] = []
        if !nodes { query.append("nodes=false") }
        if let wait { query.append("wait=\(wait)") }
        let v = try await json("GET", "pushy/jobs/\(id)" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")))
        guard let view = JobView.parse(v) else { throw RigError("not a job object: \(v.serialized().prefix(200))") }
        return view
    }

    func jobs() async throws -> [JobView] {
        (try await json("GET", "pushy/jobs").arrayValue ?? []).compactMap(JobView.parse)
    }

    func abortJob(_ id: String) async throws -> JobView {
        let v = try await json("PUT", "pushy/jobs/\(id)/abort")
        guard let view = JobView.parse(v) else { throw RigError("not a job object") }
        return view
    }

    func jobOutput(id: String, node: String, channel: String = "stdout") async throws -> [UInt8] {
        try await ok("GET", "pushy/jobs/\(id)/output/\(node)/\(channel)", accept: "application/octet-stream").body
    }

    /// Waits (long poll, bounded) until the job has ended and returns it.
    func waitFinished(_ id: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> JobView {
        let view = try await job(id, wait: 10)
        guard view.status.isTerminal else {
            Issue.record("job \(id) still \(view.status.rawValue) after 10 s", sourceLocation: sourceLocation)
            throw RigError("job \(id) did not finish")
        }
        return view
    }

    func nodeStates() async throws -> [NodeStateView] {
        (try await json("GET", "pushy/node_states").arrayValue ?? []).compactMap(NodeStateView.parse)
    }

    func nodeState(_ node: String) async throws -> NodeStateView {
        guard let s = NodeStateView.parse(try await json("GET", "pushy/node_states/\(node)")) else {
            throw RigError("not a node state")
        }
        return s
    }

    func searchNodes(_ query: String) async throws -> [JSONValue] {
        let q = query.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? query
        return try await json("GET", "search/node?q=\(q)")["rows"]?.arrayValue ?? []
    }

    func reportNode(_ report: NodeReport) async throws {
        try await ok("PUT", "nodes/\(report.name)", json: report.json)
    }

    func config(_ node: String, ccpk: String = String(repeating: "0", count: 40)) async throws -> NodeConfig {
        try NodeConfig.parse(try await json("GET", "pushy/config/\(node)?ccpk=\(ccpk)&version=2.0"))
    }

    // MARK: Principals, groups, orgs, tokens, audit

    /// Creates a user with `key`, else its name's test key (remembered by the rig), and returns a caller signing as it.
    @discardableResult
    func createUser(_ name: String, admin: Bool = false, key: RSAPrivateKey? = nil) async throws -> Caller {
        let key = try key ?? TestKeys.named(name)
        try await ok("POST", "users", json: [
            "name": .string(name), "public_key": .string(key.publicKey.pemRepresentation), "admin": .bool(admin),
        ])
        rig.remember(name, key)
        return rig.caller(name, org: org)
    }

    func createClient(_ name: String, key: RSAPrivateKey) async throws {
        try await ok("POST", "clients", json: ["name": .string(name), "public_key": .string(key.publicKey.pemRepresentation)])
    }

    func deleteClient(_ name: String) async throws { try await ok("DELETE", "clients/\(name)") }
    func user(_ name: String) async throws -> JSONValue { try await json("GET", "users/\(name)") }
    func deleteUser(_ name: String) async throws { try await ok("DELETE", "users/\(name)") }
    func groups() async throws -> [String] { try await json("GET", "groups").keys }
    func group(_ name: String) async throws -> JSONValue { try await json("GET", "groups/\(name)") }

    func addGroupMember(group: String, type: String, name: String) async throws {
        try await ok("POST", "groups/\(group)/members", json: ["type": .string(type), "name": .string(name)])
    }

    func removeGroupMember(group: String, type: String, name: String) async throws {
        try await ok("DELETE", "groups/\(group)/members/\(type)/\(name)")
    }

    func deleteGroup(_ name: String) async throws { try await ok("DELETE", "groups/\(name)") }
    func createOrganization(_ name: String) async throws { try await ok("POST", "/organizations", json: ["name": .string(name)]) }
    func deleteOrganization(_ name: String) async throws { try await ok("DELETE", "/organizations/\(name)") }

    /// A one-time enrolment token (valid `expiresIn` seconds, else the server's default).
    func createEnrollmentToken(expiresIn: Int? = nil) async throws -> String {
        let v = try await json("POST", "enrollment_tokens", json: expiresIn.map { ["expires_in": .number(Double($0))] } ?? .object([]))
        guard let token = v["token"]?.stringValue else { throw RigError("no 'token' in the response") }
        return token
    }

    /// The org's audit log, newest first.
    func audit(limit: Int = 100) async throws -> [JSONValue] {
        try await json("GET", "audit?limit=\(limit)").arrayValue ?? []
    }
}

extension RouterRig {
    /// Enrols a node (unsigned, as `PushyRESTClient.enroll`): the status, or `HTTPFailure`.
    func enroll(token: String, name: String, key: RSAPrivateKey, org: String = RouterRig.org) async throws {
        let body: JSONValue = ["token": .string(token), "name": .string(name), "public_key": .string(key.publicKey.pemRepresentation)]
        let r = try await signed("POST", "/organizations/\(org)/enroll", json: body, as: nil)
        guard (200..<300).contains(r.status) else { throw HTTPFailure(status: r.status, message: r.errorMessage ?? r.text) }
    }

    /// Reads an SSE feed (signed as `caller`) until the server ends it; the router client
    /// answers once the body is complete, so the feed must end (a job feed at `job_complete`,
    /// the org feed when `engine.closeFeeds()` ends it, as at shutdown).
    func readFeed(_ caller: Caller, _ path: String, lastEventId: String? = nil,
                  accept: String = "text/event-stream") async throws -> (status: Int, events: [FeedRecord]) {
        let r = try await signed("GET", caller.path(path), as: caller.signer, accept: accept,
                                 headers: lastEventId.map { [("Last-Event-ID", $0)] } ?? [])
        return (r.status, r.status == 200 ? try FeedRecord.parse(r.text) : [])
    }
}

/// One event of an SSE feed.
struct FeedRecord: Equatable, Sendable {
    var name: String
    var id: String
    var data: JSONValue

    static func parse(_ text: String) throws -> [FeedRecord] {
        var events: [FeedRecord] = []
        var name = "", id = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("event: ") { name = String(line.dropFirst(7)) }
            else if line.hasPrefix("id: ") { id = String(line.dropFirst(4)) }
            else if line.hasPrefix("data: ") { events.append(FeedRecord(name: name, id: id, data: try JSONValue.parse(String(line.dropFirst(6))))) }
        }
        return events
    }

    static func summary(_ events: [FeedRecord]) -> [String] {
        events.map { e in e.data["status"]?.stringValue.map { "\(e.name)(\($0))" } ?? e.name }
    }
}
