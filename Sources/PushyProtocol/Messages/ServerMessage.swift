import FoundationEssentials

/// Message types the server sends (spec 5.2).
public enum ServerMessageType: String, Sendable {
    case heartbeat, commit, run, abort, ack
}

/// A message from the server to an agent (command channel) or to all agents (heartbeat broadcast).
public struct ServerMessage: Sendable, Equatable {
    public var sequence: Int
    public var timestamp: Date
    public var type: String
    public var jobId: String?
    /// Advertised server name (commit) or the server host name (heartbeat).
    public var server: String?
    public var incarnationId: String?
    public var command: String?
    public var user: String?
    public var dir: String?
    public var env: JSONValue?
    public var file: String?
    /// Always present on commit (note: `capture`, not `capture_output`).
    public var capture: Bool?
    /// Pushy extension (spec 12 point 2): lets the agent enforce the run timeout itself.
    public var runTimeout: Int?
    /// Pushy extension (issue 16, `commit_run`): on a commit, run at once when accepting it and
    /// answer `ack_run` instead of `ack_commit` (no separate `run`). Sent only to agents that
    /// asked for the feature, for jobs whose quorum needs no vote.
    public var commitRun: Bool?

    public var messageType: ServerMessageType? { ServerMessageType(rawValue: type) }

    public init(
        type: ServerMessageType, sequence: Int, timestamp: Date, jobId: String? = nil, server: String? = nil,
        incarnationId: String? = nil, command: String? = nil, user: String? = nil, dir: String? = nil,
        env: JSONValue? = nil, file: String? = nil, capture: Bool? = nil, runTimeout: Int? = nil
    ) {
        self.sequence = sequence
        self.timestamp = timestamp
        self.type = type.rawValue
        self.jobId = jobId
        self.server = server
        self.incarnationId = incarnationId
        self.command = command
        self.user = user
        self.dir = dir
        self.env = env
        self.file = file
        self.capture = capture
        self.runTimeout = runTimeout
    }

    public var json: JSONValue {
        var o: [(String, JSONValue)] = [
            ("sequence", .number(Double(sequence))), ("timestamp", .string(WireTime.rfc1123(timestamp))),
            ("type", .string(type)),
        ]
        if type == ServerMessageType.heartbeat.rawValue {
            if let server { o.append(("server", .string(server))) }
            if let incarnationId { o.append(("incarnation_id", .string(incarnationId))) }
            return .object(o)
        }
        if let jobId { o.append(("job_id", .string(jobId))) }
        if let server { o.append(("server", .string(server))) }
        if let command { o.append(("command", .string(command))) }
        if let user { o.append(("user", .string(user))) }
        if let dir { o.append(("dir", .string(dir))) }
        if let env { o.append(("env", env)) }
        if let file { o.append(("file", .string(file))) }
        if let capture { o.append(("capture", .bool(capture))) }
        if let runTimeout { o.append(("run_timeout", .number(Double(runTimeout)))) }
        if let commitRun { o.append(("commit_run", .bool(commitRun))) }
        if let incarnationId { o.append(("incarnation_id", .string(incarnationId))) }
        return .object(o)
    }

    public var bodyBytes: [UInt8] { json.bytes }

    /// The body with its sequence number left open, for sending one message to many nodes:
    /// each node's body is then a copy, not a JSON serialisation (the sequence comes first).
    public var bodyTemplate: BodyTemplate {
        guard case .object(let fields) = json else { return BodyTemplate(rest: []) }
        return BodyTemplate(rest: JSONValue.object(Array(fields.dropFirst())).bytes)
    }

    /// A server message body waiting for its per-node sequence number.
    public struct BodyTemplate: Sendable {
        /// The other fields as a JSON object, `{` … `}`.
        let rest: [UInt8]
        private static let head = Array("{\"sequence\":".utf8)

        /// The body for one node: identical to `bodyBytes` of the message with this sequence.
        public func bytes(sequence: Int) -> [UInt8] {
            var out = Self.head
            out.reserveCapacity(rest.count + 24)
            if sequence.magnitude < 1_000_000_000_000_000 {
                out.append(contentsOf: String(sequence).utf8)
            } else {
                // As `bodyBytes` writes it: JSONValue writes numbers from 1e15 up in Double form.
                JSONValue.number(Double(sequence)).write(to: &out)
            }
            if rest.count > 2 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: rest.dropFirst())
            return out
        }
    }

    /// `env: null` means no env. (A bare `nil` in a closure here would become `JSONValue.null`,
    /// because JSONValue is ExpressibleByNilLiteral.)
    public static func parse(_ body: [UInt8]) throws(MessageError) -> ServerMessage {
        // One pass, no JSON tree (the first of duplicate keys wins): every agent parses every
        // message the server sends it.
        var v = [JSONValue?](repeating: nil, count: Field.allCases.count)
        let isObject: Bool
        do {
            isObject = try JSONParser.readObject(body, keys: Self.fieldTable) { k, value in
                if v[k] == nil { v[k] = value }
            }
        } catch { throw .invalidJSON(error.description) }
        guard isObject else { throw .invalidJSON("body is not a JSON object") }
        func field(_ name: Field) -> JSONValue? { v[name.rawValue] }
        guard let type = field(.type)?.stringValue else { throw .missingField("type") }
        guard let ts = field(.timestamp)?.stringValue else { throw .missingField("timestamp") }
        guard let date = WireTime.parseRFC1123(ts) else { throw .badField("timestamp") }
        var m = ServerMessage(
            type: .ack, sequence: field(.sequence)?.intValue ?? 0, timestamp: date,
            jobId: field(.jobId)?.stringValue, server: field(.server)?.stringValue,
            incarnationId: field(.incarnationId)?.stringValue, command: field(.command)?.stringValue,
            user: field(.user)?.stringValue, dir: field(.dir)?.stringValue,
            env: field(.env).flatMap { $0.isNull ? JSONValue?.none : $0 }, file: field(.file)?.stringValue,
            capture: field(.capture)?.boolValue, runTimeout: field(.runTimeout)?.intValue)
        m.type = type
        m.commitRun = field(.commitRun)?.boolValue
        return m
    }

    /// The body fields `parse` reads.
    private enum Field: Int, CaseIterable {
        case type, timestamp, sequence, jobId, server, incarnationId, command, user, dir, env, file, capture, runTimeout
        case commitRun

        var wireName: String {
            switch self {
            case .commitRun: "commit_run"
            case .jobId: "job_id"
            case .incarnationId: "incarnation_id"
            case .runTimeout: "run_timeout"
            default: "\(self)"
            }
        }
    }

    /// Wire names by raw value, for `JSONParser.readObject`.
    private static let fieldTable = JSONKeyTable(Field.allCases.map(\.wireName))
}
