import FoundationEssentials

/// A job as REST returns it (spec 2.3): GET /jobs lists these without `nodes`; GET /jobs/{id}
/// adds `nodes` grouped by node status. Pushy adds `quorum` and `node_reasons` (new keys only).
public struct JobView: Sendable, Equatable {
    public var id: String
    public var command: String
    public var status: JobStatus
    public var runTimeout: Int
    public var createdAt: Date
    public var updatedAt: Date
    public var user: String?
    public var dir: String?
    public var env: JSONValue?
    public var captureOutput: Bool
    public var fileSpecified: Bool
    public var file: String?
    public var quorum: Int?
    /// Node names grouped by status; nil in list views.
    public var nodes: [(NodeJobStatus, [String])]?
    /// Pushy extension (spec 12 point 10): why a node ended unavailable/nacked/crashed/...
    public var nodeReasons: [(String, String)]?
    /// Pushy extension: why the job ended as it did (crashed at restart, quorum failed, ...).
    public var statusReason: String?
    /// Pushy extension (issue 13): the job's rate control, as requested.
    public var rateControl: RateControl?
    /// Pushy extension (issue 13): the job this one re-runs.
    public var rerunOf: String?
    /// Pushy extension (issue 13): the template the job was made from, and its version.
    public var template: String?
    public var templateVersion: Int?
    /// Pushy extension (issue 14): what started the job (`schedule:NAME`, `plan_run:ID`).
    public var origin: String?

    public init(
        id: String, command: String, status: JobStatus, runTimeout: Int, createdAt: Date, updatedAt: Date,
        user: String? = nil, dir: String? = nil, env: JSONValue? = nil, captureOutput: Bool = false,
        fileSpecified: Bool = false, file: String? = nil, quorum: Int? = nil,
        nodes: [(NodeJobStatus, [String])]? = nil, nodeReasons: [(String, String)]? = nil, statusReason: String? = nil,
        rateControl: RateControl? = nil, rerunOf: String? = nil, template: String? = nil, templateVersion: Int? = nil,
        origin: String? = nil
    ) {
        self.id = id
        self.command = command
        self.status = status
        self.runTimeout = runTimeout
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.user = user
        self.dir = dir
        self.env = env
        self.captureOutput = captureOutput
        self.fileSpecified = fileSpecified
        self.file = file
        self.quorum = quorum
        self.nodes = nodes
        self.nodeReasons = nodeReasons
        self.statusReason = statusReason
        self.rateControl = rateControl
        self.rerunOf = rerunOf
        self.template = template
        self.templateVersion = templateVersion
        self.origin = origin
    }

    public static func == (a: JobView, b: JobView) -> Bool { a.json == b.json }

    /// Count of nodes in `status`.
    public func count(_ status: NodeJobStatus) -> Int { nodes?.first(where: { $0.0 == status })?.1.count ?? 0 }
    public var nodeCount: Int { nodes?.reduce(0) { $0 + $1.1.count } ?? 0 }

    public var json: JSONValue {
        var o: [(String, JSONValue)] = []
        if let nodes {
            o.append(("nodes", .object(nodes.filter { !$0.1.isEmpty }.map { ($0.0.rawValue, .array($0.1.map(JSONValue.string))) })))
        }
        o += [
            ("id", .string(id)), ("command", .string(command)), ("status", .string(status.rawValue)),
            ("run_timeout", .number(Double(runTimeout))), ("created_at", .string(WireTime.rfc1123(createdAt))),
            ("updated_at", .string(WireTime.rfc1123(updatedAt))),
        ]
        if let user { o.append(("user", .string(user))) }
        if let dir { o.append(("dir", .string(dir))) }
        if let env { o.append(("env", env)) }
        if captureOutput { o.append(("capture_output", .bool(true))) }
        if let file { o.append(("file", .string(file))) } else if fileSpecified { o.append(("file_specified", .bool(true))) }
        if let quorum, nodes != nil { o.append(("quorum", .number(Double(quorum)))) }
        if let nodeReasons, !nodeReasons.isEmpty {
            o.append(("node_reasons", .object(nodeReasons.map { ($0.0, .string($0.1)) })))
        }
        if let statusReason { o.append(("status_reason", .string(statusReason))) }
        if let rateControl { o.append(("rate_control", rateControl.json)) }
        if let rerunOf { o.append(("rerun_of", .string(rerunOf))) }
        if let template { o.append(("template", .string(template))) }
        if let templateVersion { o.append(("template_version", .number(Double(templateVersion)))) }
        if let origin { o.append(("origin", .string(origin))) }
        return .object(o)
    }

    public static func parse(_ v: JSONValue) -> JobView? {
        guard let id = v["id"]?.stringValue, let status = v["status"]?.stringValue.flatMap(JobStatus.init(rawValue:))
        else { return nil }
        var nodes: [(NodeJobStatus, [String])]? = nil
        if let n = v["nodes"]?.objectValue {
            nodes = n.compactMap { k, val in
                NodeJobStatus(rawValue: k).map { ($0, val.arrayValue?.compactMap(\.stringValue) ?? []) }
            }
        }
        return JobView(
            id: id, command: v["command"]?.stringValue ?? "", status: status,
            runTimeout: v["run_timeout"]?.intValue ?? 0,
            createdAt: v["created_at"]?.stringValue.flatMap(WireTime.parseRFC1123) ?? Date(timeIntervalSince1970: 0),
            updatedAt: v["updated_at"]?.stringValue.flatMap(WireTime.parseRFC1123) ?? Date(timeIntervalSince1970: 0),
            user: v["user"]?.stringValue, dir: v["dir"]?.stringValue,
            env: v["env"].flatMap { $0.isNull ? JSONValue?.none : $0 },
            captureOutput: v["capture_output"]?.boolValue ?? false,
            fileSpecified: v["file_specified"]?.boolValue ?? false, file: v["file"]?.stringValue,
            quorum: v["quorum"]?.intValue, nodes: nodes,
            nodeReasons: v["node_reasons"]?.objectValue?.compactMap { k, val in val.stringValue.map { (k, $0) } },
            statusReason: v["status_reason"]?.stringValue,
            rateControl: v["rate_control"].flatMap { try? RateControl.parse($0) },
            rerunOf: v["rerun_of"]?.stringValue, template: v["template"]?.stringValue,
            templateVersion: v["template_version"]?.intValue, origin: v["origin"]?.stringValue)
    }
}
