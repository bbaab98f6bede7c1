import FoundationEssentials
import PushyProtocol

extension PushyRESTClient {
    /// `s` as one path segment.
    static func escape(_ s: String) -> String {
        PercentEncoding.encode(s, allowing: PercentEncoding.isPathSegmentAllowed)
    }

    /// `s` as a query value.
    static func escapeQuery(_ s: String) -> String {
        PercentEncoding.encode(s, allowing: PercentEncoding.isUnreserved)
    }

    public func status() async throws(PushyClientError) -> JSONValue {
        try await send("GET", "/pushy/_status").json()
    }

    /// The node's config. `features`: optional agent features asked for (`features=a,b`; a
    /// server that knows none of them ignores the parameter).
    public func config(node: String, ccpk: String? = nil, features: [String] = []) async throws(PushyClientError) -> NodeConfig {
        var path = "pushy/config/\(Self.escape(node))"
        var query: [String] = []
        if let ccpk { query += ["ccpk=\(Self.escapeQuery(ccpk))", "version=2.0"] }
        if !features.isEmpty { query.append("features=\(Self.escapeQuery(features.joined(separator: ",")))") }
        if !query.isEmpty { path += "?" + query.joined(separator: "&") }
        do { return try NodeConfig.parse(try await send("GET", path).json()) } catch let e as PushyClientError {
            throw e
        } catch { throw .invalidResponse("config: \(error)") }
    }

    /// Starts a job; returns its id (the last 32 characters of `uri`, as knife does).
    public func startJob(_ job: JobRequest) async throws(PushyClientError) -> String {
        let v = try await send("POST", "pushy/jobs", json: job.json).json()
        guard let uri = v["uri"]?.stringValue, uri.count >= 32 else { throw .invalidResponse("no 'uri' in job response") }
        return String(uri.suffix(32))
    }

    /// Runs a finished job again on its failed / not succeeded / all nodes (issue 13); returns
    /// the new job's id.
    public func rerunJob(_ id: String, nodes: RerunSelection) async throws(PushyClientError) -> String {
        let v = try await send("POST", "pushy/jobs/\(Self.escape(id))/rerun", json: ["nodes": .string(nodes.rawValue)]).json()
        guard let uri = v["uri"]?.stringValue, uri.count >= 32 else { throw .invalidResponse("no 'uri' in re-run response") }
        return String(uri.suffix(32))
    }

    /// Every distinct stdout and stderr of a job once, with the nodes that produced it (issue 13).
    public func groupedOutput(_ id: String) async throws(PushyClientError) -> JSONValue {
        try await send("GET", "pushy/jobs/\(Self.escape(id))/output?group=true").json()
    }

    /// A job; `nodes: false` asks for the status without the per-node groups (cheap to poll);
    /// `wait` (≤ 60 s) has the server answer once the job has ended or the time is up.
    public func job(_ id: String, nodes: Bool = true, wait: Int? = nil) async throws(PushyClientError) -> JobView {
        var query: [String] = []
        if !nodes { query.append("nodes=false") }
        if let wait { query.append("wait=\(wait)") }
        let path = "pushy/jobs/\(Self.escape(id))" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
        let v = try await send("GET", path).json()
        guard let view = JobView.parse(v) else { throw .invalidResponse("not a job object") }
        return view
    }

    public func jobs() async throws(PushyClientError) -> [JobView] {
        let v = try await send("GET", "pushy/jobs").json()
        return (v.arrayValue ?? []).compactMap(JobView.parse)
    }

    public func abortJob(_ id: String) async throws(PushyClientError) -> JobView {
        let v = try await send("PUT", "pushy/jobs/\(Self.escape(id))/abort").json()
        guard let view = JobView.parse(v) else { throw .invalidResponse("not a job object") }
        return view
    }

    /// The exact bytes a node's command wrote to `channel` (`stdout` or `stderr`), as captured
    /// for a job started with capture_output. 404 (`.http`) when nothing was captured.
    public func jobOutput(id: String, node: String, channel: String = "stdout") async throws(PushyClientError) -> JobOutput {
        let r = try await send("GET", "pushy/jobs/\(Self.escape(id))/output/\(Self.escape(node))/\(Self.escape(channel))",
                               accept: "application/octet-stream")
        return JobOutput(bytes: r.body, truncated: r.header("X-Pushy-Output-Truncated")?.lowercased() == "true")
    }

    public func nodeStates() async throws(PushyClientError) -> [NodeStateView] {
        let v = try await send("GET", "pushy/node_states").json()
        return (v.arrayValue ?? []).compactMap(NodeStateView.parse)
    }

    public func nodeState(_ node: String) async throws(PushyClientError) -> NodeStateView {
        let v = try await send("GET", "pushy/node_states/\(Self.escape(node))").json()
        guard let s = NodeStateView.parse(v) else { throw .invalidResponse("not a node state") }
        return s
    }

    /// Node search; returns the matching node objects.
    public func searchNodes(_ query: String) async throws(PushyClientError) -> [JSONValue] {
        let v = try await send("GET", "search/node?q=\(Self.escapeQuery(query))").json()
        return v["rows"]?.arrayValue ?? []
    }

    public func createClient(name: String, publicKeyPEM: String) async throws(PushyClientError) {
        _ = try await send("POST", "clients", json: ["name": .string(name), "public_key": .string(publicKeyPEM)])
    }

    public func deleteClient(name: String) async throws(PushyClientError) {
        _ = try await send("DELETE", "clients/\(Self.escape(name))")
    }

    public func clients() async throws(PushyClientError) -> [String] {
        try await send("GET", "clients").json().keys
    }

    public func reportNode(_ report: NodeReport) async throws(PushyClientError) {
        _ = try await send("PUT", "nodes/\(Self.escape(report.name))", json: report.json)
    }
}

/// Captured output of one node's command on one channel.
public struct JobOutput: Sendable, Equatable {
    /// Exactly what the process wrote (the tail of it when `truncated`).
    public var bytes: [UInt8]
    /// The agent kept only the tail because the output exceeded its message budget.
    public var truncated: Bool
}
