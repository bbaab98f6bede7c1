import FoundationEssentials

/// A job-validation failure: 400 with `{"error": "<message>"}` (a plain string, spec 2.1).
public struct JobValidationError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// How many nodes must agree: a count (the wire form) or a percentage (Pushy accepts `"90%"`).
public enum Quorum: Sendable, Equatable {
    case count(Int)
    case percent(Double)

    /// The count for `nodeCount` nodes: percent → ceil(p/100 × n), as knife-push does.
    public func resolve(nodeCount: Int) -> Int {
        switch self {
        case .count(let c): return c
        case .percent(let p): return max(0, Int((p * Double(nodeCount) / 100 - 1e-9).rounded(.up)))
        }
    }

    /// Parses `N` or `N%` (CLI and REST string form).
    public static func parse(_ text: String) -> Quorum? {
        let t = text.trimmingWhitespace()
        if t.hasSuffix("%") {
            guard let p = Double(t.dropLast()), p >= 0, p <= 100 else { return nil }
            return .percent(p)
        }
        guard let c = Int(t), c >= 0 else { return nil }
        return .count(c)
    }
}

/// The body of `POST /organizations/{org}/pushy/jobs` (spec 2.3), validated.
public struct JobRequest: Sendable, Equatable {
    public var command: String
    /// Node names, duplicates merged, order kept (spec 12 point 6).
    public var nodes: [String]
    public var quorum: Quorum?
    public var runTimeout: Int?
    public var user: String?
    public var dir: String?
    public var env: [(String, String)]?
    public var file: String?
    public var captureOutput: Bool
    /// How fast the job reaches its nodes (issue 13); nil: all at once, as in the reference.
    public var rateControl: RateControl?

    public static func == (a: JobRequest, b: JobRequest) -> Bool {
        a.command == b.command && a.nodes == b.nodes && a.quorum == b.quorum && a.runTimeout == b.runTimeout
            && a.user == b.user && a.dir == b.dir && a.file == b.file && a.captureOutput == b.captureOutput
            && a.rateControl == b.rateControl
            && (a.env ?? []).map { "\($0.0)=\($0.1)" } == (b.env ?? []).map { "\($0.0)=\($0.1)" }
    }

    public init(
        command: String, nodes: [String], quorum: Quorum? = nil, runTimeout: Int? = nil, user: String? = nil,
        dir: String? = nil, env: [(String, String)]? = nil, file: String? = nil, captureOutput: Bool = false,
        rateControl: RateControl? = nil
    ) {
        self.command = command
        self.nodes = nodes
        self.quorum = quorum
        self.runTimeout = runTimeout
        self.user = user
        self.dir = dir
        self.env = env
        self.file = file
        self.captureOutput = captureOutput
        self.rateControl = rateControl
    }

    public static let allowedKeys: Set<String> = Set([
        "command", "nodes", "quorum", "run_timeout", "user", "dir", "env", "file", "capture_output",
    ]).union(RateControl.keys)
    public static let maxFileBytes = 100_000

    /// The quorum count for this request (default: every node).
    public var quorumCount: Int { quorum?.resolve(nodeCount: nodes.count) ?? nodes.count }

    public var json: JSONValue {
        var o: [(String, JSONValue)] = [("command", .string(command)), ("nodes", .array(nodes.map(JSONValue.string)))]
        switch quorum {
        case .count(let c): o.append(("quorum", .number(Double(c))))
        case .percent(let p): o.append(("quorum", .string("\(p.rounded() == p ? String(Int(p)) : String(p))%")))
        case nil: break
        }
        if let runTimeout { o.append(("run_timeout", .number(Double(runTimeout)))) }
        if let user { o.append(("user", .string(user))) }
        if let dir { o.append(("dir", .string(dir))) }
        if let env { o.append(("env", .object(env.map { ($0.0, JSONValue.string($0.1)) }))) }
        if let file { o.append(("file", .string(file))) }
        if captureOutput { o.append(("capture_output", .bool(true))) }
        if let rateControl { o += rateControl.members }
        return .object(o)
    }

    /// Parses and validates a request body with the reference's messages, plus clear ones
    /// where the reference had none (invalid JSON, empty command).
    public static func parse(_ body: [UInt8]) throws(JobValidationError) -> JobRequest {
        let v: JSONValue
        do { v = try JSONValue.parse(body) } catch {
            throw JobValidationError("invalid JSON in request body: \(error.message) at byte \(error.offset)")
        }
        guard let pairs = v.objectValue else { throw JobValidationError("request body must be a JSON object") }
        for (k, _) in pairs where !allowedKeys.contains(k) {
            throw JobValidationError("invalid key supplied: '\(k)' (allowed: \(allowedKeys.sorted().joined(separator: ", ")))")
        }
        guard let commandValue = v["command"] else { throw JobValidationError("invalid command supplied (missing 'command')") }
        guard let command = commandValue.stringValue else { throw JobValidationError("invalid command supplied (expected a string)") }
        guard !command.isEmpty else { throw JobValidationError("invalid command supplied (empty command)") }
        guard let nodesField = v["nodes"] else { throw JobValidationError("at least one node must be supplied (missing 'nodes')") }
        guard let nodesValue = nodesField.arrayValue else {
            throw JobValidationError("at least one node must be supplied ('nodes' must be an array of node names, e.g. [\"web1\"])")
        }
        guard !nodesValue.isEmpty else { throw JobValidationError("at least one node must be supplied ('nodes' is empty)") }
        var nodes: [String] = []
        var seen = Set<String>()
        for n in nodesValue {
            guard let s = n.stringValue, !s.isEmpty else { throw JobValidationError("invalid node name supplied (node names must be non-empty strings)") }
            if seen.insert(s).inserted { nodes.append(s) }
        }
        var req = JobRequest(command: command, nodes: nodes)
        if let q = v["quorum"] {
            if let n = q.doubleValue {
                guard n >= 0, n.rounded() == n, n < 1e9 else { throw JobValidationError("invalid quorum supplied (expected a whole number >= 0)") }
                req.quorum = .count(Int(n))
            } else if let s = q.stringValue, s.hasSuffix("%") {
                guard let p = Quorum.parse(s) else {
                    throw JobValidationError("invalid quorum supplied: '\(s)' (a percentage must be between 0% and 100%)")
                }
                req.quorum = p
            } else {
                throw JobValidationError("invalid type supplied for quorum (expected a number of nodes, or a percentage such as \"90%\")")
            }
        }
        if let t = v["run_timeout"] {
            guard let n = t.doubleValue else { throw JobValidationError("invalid type supplied for run_timeout (expected a number)") }
            guard n >= 0, n < 1e9 else { throw JobValidationError("invalid run_timeout supplied (expected a number of seconds >= 0)") }
            req.runTimeout = Int(n.rounded(.up))
        }
        if let u = v["user"] {
            guard let s = u.stringValue else { throw JobValidationError("invalid type supplied for user (expected a string)") }
            req.user = s
        }
        if let d = v["dir"] {
            guard let s = d.stringValue else { throw JobValidationError("invalid type supplied for dir (expected a string)") }
            req.dir = s
        }
        if let e = v["env"] {
            guard let pairs = e.objectValue else { throw JobValidationError("invalid type supplied for env (expected an object)") }
            var keys = Set<String>()
            var env: [(String, String)] = []
            for (k, val) in pairs {
                guard keys.insert(k).inserted else { throw JobValidationError("invalid environment value (duplicate key)") }
                guard let s = val.stringValue else { throw JobValidationError("invalid environment value (expected string values)") }
                env.append((k, s))
            }
            req.env = env
        }
        if let f = v["file"] {
            guard let s = f.stringValue else { throw JobValidationError("invalid file contents (expected 'base64:...' or 'raw:...')") }
            let size: Int
            if s.hasPrefix("raw:") {
                size = s.utf8.count - 4
            } else if s.hasPrefix("base64:") {
                guard let d = Data(base64Encoded: String(s.dropFirst(7))) else {
                    throw JobValidationError("invalid file contents (couldn't decode base64 string)")
                }
                size = d.count
            } else {
                throw JobValidationError("invalid file contents (expected 'base64:...' or 'raw:...')")
            }
            guard size <= maxFileBytes else { throw JobValidationError("invalid file size (must be <= \(maxFileBytes) bytes)") }
            req.file = s
        }
        if let c = v["capture_output"] {
            guard let b = c.boolValue else { throw JobValidationError("invalid type supplied for capture_output (expected a boolean)") }
            req.captureOutput = b
        }
        req.rateControl = try RateControl.parse(v)
        return req
    }
}
