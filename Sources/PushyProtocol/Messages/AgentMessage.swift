import FoundationEssentials

/// Message types an agent sends on the command channel (spec 5.3), plus Pushy's `output`.
public enum AgentMessageType: String, Sendable, CaseIterable {
    case heartbeat
    case ackCommit = "ack_commit"
    case nackCommit = "nack_commit"
    case ackRun = "ack_run"
    case nackRun = "nack_run"
    case succeeded, failed, aborted
    /// Pushy extension (spec 12 point 8): a chunk of live output while the process runs.
    case output
}

/// Agent job-runner state carried in heartbeats.
public enum AgentJobState: String, Sendable {
    case idle, committed, running
}

/// A message from an agent to the server (spec 5.1, 5.3). Field order on the wire follows the
/// Ruby client: node, client, protocol_version, org, type, sequence, timestamp, incarnation_id,
/// job_id, then type-specific fields.
public struct AgentMessage: Sendable, Equatable {
    public var node: String
    public var client: String
    public var protocolVersion: String
    public var org: String
    /// Raw type string; `messageType` is nil for types Pushy does not know.
    public var type: String {
        didSet { messageType = AgentMessageType(rawValue: type) }
    }
    public var sequence: Int
    public var timestamp: Date
    public var incarnationId: String
    public var jobId: String?
    public var jobState: AgentJobState?
    public var stdout: String?
    public var stderr: String?
    /// Pushy extension: why a commit was nacked (busy, not whitelisted, ...). Reference clients omit it.
    public var reason: String?
    /// Pushy extension: the process exit status for succeeded/failed.
    public var exitStatus: Int?
    /// Pushy extension: `"base64"` when `stdout`/`stderr`/`data` carry base64 of the exact bytes
    /// (sent only to servers that advertise `binary_output`).
    public var outputEncoding: String?
    /// Pushy extension: the captured stream was cut to its tail to fit the message limit.
    public var stdoutTruncated: Bool?
    public var stderrTruncated: Bool?
    /// Pushy extension, `output` messages: which stream, the byte offset of this chunk, the chunk.
    public var stream: String?
    public var offset: Int?
    public var data: String?

    /// `type` as a known type, kept with it (the server asks for it several times per message).
    public private(set) var messageType: AgentMessageType?

    public init(
        node: String, client: String, org: String, type: AgentMessageType, sequence: Int, timestamp: Date,
        incarnationId: String, jobId: String?, jobState: AgentJobState? = nil, stdout: String? = nil,
        stderr: String? = nil, reason: String? = nil, exitStatus: Int? = nil, protocolVersion: String = "2.0"
    ) {
        self.node = node
        self.client = client
        self.protocolVersion = protocolVersion
        self.org = org
        self.type = type.rawValue
        self.messageType = type
        self.sequence = sequence
        self.timestamp = timestamp
        self.incarnationId = incarnationId
        self.jobId = jobId
        self.jobState = jobState
        self.stdout = stdout
        self.stderr = stderr
        self.reason = reason
        self.exitStatus = exitStatus
    }

    public var json: JSONValue {
        var o: [(String, JSONValue)] = [
            ("node", .string(node)), ("client", .string(client)), ("protocol_version", .string(protocolVersion)),
            ("org", .string(org)), ("type", .string(type)), ("sequence", .number(Double(sequence))),
            ("timestamp", .string(WireTime.rfc1123(timestamp))), ("incarnation_id", .string(incarnationId)),
            ("job_id", jobId.map(JSONValue.string) ?? .null),
        ]
        if let jobState { o.append(("job_state", .string(jobState.rawValue))) }
        if let stdout { o.append(("stdout", .string(stdout))) }
        if let stderr { o.append(("stderr", .string(stderr))) }
        if let reason { o.append(("reason", .string(reason))) }
        if let exitStatus { o.append(("exit_status", .number(Double(exitStatus)))) }
        if let outputEncoding { o.append(("output_encoding", .string(outputEncoding))) }
        if let stdoutTruncated { o.append(("stdout_truncated", .bool(stdoutTruncated))) }
        if let stderrTruncated { o.append(("stderr_truncated", .bool(stderrTruncated))) }
        if let stream { o.append(("stream", .string(stream))) }
        if let offset { o.append(("offset", .number(Double(offset)))) }
        if let data { o.append(("data", .string(data))) }
        return .object(o)
    }

    /// The wire body: the same bytes as `json.bytes`, written without the tree.
    public var bodyBytes: [UInt8] {
        var w = JSONObjectWriter()
        w.string("node", node)
        w.string("client", client)
        w.string("protocol_version", protocolVersion)
        w.string("org", org)
        w.string("type", type)
        w.int("sequence", sequence)
        w.string("timestamp", WireTime.rfc1123(timestamp))
        w.string("incarnation_id", incarnationId)
        if let jobId { w.string("job_id", jobId) } else { w.value("job_id", .null) }
        if let jobState { w.string("job_state", jobState.rawValue) }
        if let stdout { w.string("stdout", stdout) }
        if let stderr { w.string("stderr", stderr) }
        if let reason { w.string("reason", reason) }
        if let exitStatus { w.int("exit_status", exitStatus) }
        if let outputEncoding { w.string("output_encoding", outputEncoding) }
        if let stdoutTruncated { w.bool("stdout_truncated", stdoutTruncated) }
        if let stderrTruncated { w.bool("stderr_truncated", stderrTruncated) }
        if let stream { w.string("stream", stream) }
        if let offset { w.int("offset", offset) }
        if let data { w.string("data", data) }
        return w.finish()
    }

    /// Parses and validates a body. Missing `node`/`org`/`type`/`timestamp` or a job_id over 64
    /// characters is a `MessageError`.
    public static func parse(_ body: [UInt8]) throws(MessageError) -> AgentMessage {
        // One pass over the members, no JSON tree, no table of values (the first of duplicate
        // keys wins): the server parses every message of every agent.
        var f = Fields()
        let isObject: Bool
        do {
            isObject = try JSONParser.readObject(body, keys: Field.table) { k, value in f.take(k, value) }
        } catch { throw .invalidJSON(error.description) }
        guard isObject else { throw .invalidJSON("body is not a JSON object") }
        guard let node = f.node, !node.isEmpty else { throw .missingField("node") }
        guard let org = f.org, !org.isEmpty else { throw .missingField("org") }
        guard let type = f.type else { throw .missingField("type") }
        guard let ts = f.timestamp else { throw .missingField("timestamp") }
        guard let date = WireTime.parseRFC1123(ts) else { throw .badField("timestamp") }
        var jobId: String? = nil
        if let j = f.jobId, !j.isNull {
            guard let s = j.stringValue, s.utf8.count <= 64 || s.count <= 64 else { throw .badField("job_id") }
            jobId = s
        }
        return AgentMessage(node: node, org: org, type: type, timestamp: date, jobId: jobId, fields: f)
    }

    /// The rest of a parsed message, as found.
    private init(node: String, org: String, type: String, timestamp: Date, jobId: String?, fields f: Fields) {
        self.node = node
        client = f.client ?? ""
        protocolVersion = f.protocolVersion ?? ""
        self.org = org
        self.type = type
        messageType = AgentMessageType(rawValue: type)
        sequence = f.sequence ?? 0
        self.timestamp = timestamp
        incarnationId = f.incarnationId ?? ""
        self.jobId = jobId
        jobState = f.jobState.flatMap(AgentJobState.init(rawValue:))
        stdout = f.stdout
        stderr = f.stderr
        reason = f.reason
        exitStatus = f.exitStatus
        outputEncoding = f.outputEncoding
        stdoutTruncated = f.stdoutTruncated
        stderrTruncated = f.stderrTruncated
        stream = f.stream
        offset = f.offset
        data = f.data
    }

    /// The body fields `parse` reads.
    private enum Field: Int, CaseIterable {
        case node, client, org, type, sequence, timestamp, stdout, stderr, reason, stream, offset, data
        case protocolVersion, incarnationId, jobId, jobState, exitStatus, outputEncoding, stdoutTruncated, stderrTruncated

        var wireName: String {
            switch self {
            case .protocolVersion: "protocol_version"
            case .incarnationId: "incarnation_id"
            case .jobId: "job_id"
            case .jobState: "job_state"
            case .exitStatus: "exit_status"
            case .outputEncoding: "output_encoding"
            case .stdoutTruncated: "stdout_truncated"
            case .stderrTruncated: "stderr_truncated"
            default: "\(self)"
            }
        }

        /// Wire names by raw value, for `JSONParser.readObject`.
        static let table = JSONKeyTable(allCases.map(\.wireName))
    }

    /// The values found, typed as the message keeps them (a value of another JSON type counts
    /// as absent), in plain fields rather than an allocated table.
    private struct Fields {
        /// Fields already seen, by bit: the first of duplicate keys wins.
        var seen: UInt32 = 0
        var node, client, org, type, timestamp, stdout, stderr, reason, stream, data: String?
        var protocolVersion, incarnationId, jobState, outputEncoding: String?
        var sequence, offset, exitStatus: Int?
        var stdoutTruncated, stderrTruncated: Bool?
        /// Kept as found: null and a non-string are told apart.
        var jobId: JSONValue?

        mutating func take(_ index: Int, _ value: JSONValue) {
            let bit = UInt32(1) << UInt32(index)
            guard seen & bit == 0, let field = Field(rawValue: index) else { return }
            seen |= bit
            switch field {
            case .node: node = value.stringValue
            case .client: client = value.stringValue
            case .org: org = value.stringValue
            case .type: type = value.stringValue
            case .sequence: sequence = value.intValue
            case .timestamp: timestamp = value.stringValue
            case .stdout: stdout = value.stringValue
            case .stderr: stderr = value.stringValue
            case .reason: reason = value.stringValue
            case .stream: stream = value.stringValue
            case .offset: offset = value.intValue
            case .data: data = value.stringValue
            case .protocolVersion: protocolVersion = value.stringValue
            case .incarnationId: incarnationId = value.stringValue
            case .jobId: jobId = value
            case .jobState: jobState = value.stringValue
            case .exitStatus: exitStatus = value.intValue
            case .outputEncoding: outputEncoding = value.stringValue
            case .stdoutTruncated: stdoutTruncated = value.boolValue
            case .stderrTruncated: stderrTruncated = value.boolValue
            }
        }
    }

    /// The exact bytes of a captured stream (`stdout`, `stderr` or `data`), decoding base64
    /// when `output_encoding` says so; nil when absent or undecodable.
    public func bytes(of text: String?) -> [UInt8]? {
        guard let text else { return nil }
        if outputEncoding == "base64" { return Data(base64Encoded: text).map { [UInt8]($0) } }
        return Array(text.utf8)
    }
}

/// Why a ZeroMQ message body was rejected; such messages are dropped and counted.
public enum MessageError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidJSON(String)
    case missingField(String)
    case badField(String)

    public var description: String {
        switch self {
        case .invalidJSON(let m): "invalid JSON body: \(m)"
        case .missingField(let f): "missing field '\(f)'"
        case .badField(let f): "bad value for field '\(f)'"
        }
    }
}
