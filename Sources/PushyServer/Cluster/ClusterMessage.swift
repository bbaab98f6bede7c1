import Foundation
import PushyCore
import PushyProtocol

/// What one server tells another about a job spread over both (issue 17 point 2). The owner
/// (runs the job's machine) sends commands for the nodes the other server holds; the holder
/// sends back what those nodes said. One `cluster_messages` row carries a batch of these, in
/// order, as a JSON array.
enum ClusterMessage: Equatable {
    /// Owner → holder: send `commit` for `job` to these nodes.
    case commit(RemoteJobSpec, nodes: [String])
    /// Owner → holder: the job passed its quorum; send `run` to these nodes.
    case run(job: String, nodes: [String])
    /// Owner → holder: these nodes' status in the job changed.
    case status(job: String, [NodeStatusChange])
    /// Owner → holder: reset these nodes (rehab).
    case rehab(org: String, nodes: [String])
    /// Owner → holder: the job ended; forget it.
    case end(job: String)
    /// Holder → owner: what these nodes said or did in the job.
    case inputs(job: String, [NodeInput])
    /// Any server → owner: a user aborted the job through another server's REST API.
    case abort(job: String, org: String, by: String)
    /// Owner → every other server: a `start` or `job_complete` for their org feeds.
    case orgEvent(org: String, name: String, data: JSONValue)
    /// Holder → owner: a live output chunk of a node held here (base64 `data`), for the job's feed.
    case output(job: String, node: String, stream: String, offset: Int, data: String)

    struct NodeStatusChange: Equatable {
        var node: String
        var status: NodeJobStatus
    }

    struct NodeInput: Equatable {
        var node: String
        var input: JobMachine.Input
    }

    /// The job a message is about (nil for a rehab).
    var job: String? {
        switch self {
        case .commit(let spec, _): spec.id
        case .run(let j, _), .status(let j, _), .end(let j), .inputs(let j, _), .abort(let j, _, _),
             .output(let j, _, _, _, _): j
        case .rehab, .orgEvent: nil
        }
    }

    /// `next` folded into this message when both are of one kind for one job (a batch of acks
    /// becomes one message); nil when they cannot be folded.
    func folding(_ next: ClusterMessage) -> ClusterMessage? {
        var copy = self
        return copy.fold(next) ? copy : nil
    }

    /// Folds `next` into this message in place when both are of one kind for one job; false (and
    /// unchanged) when they cannot be folded. The payload is taken out of `self` before it grows,
    /// so a batch of n acks costs O(n), not the O(n²) of building a new array per ack.
    mutating func fold(_ next: ClusterMessage) -> Bool {
        switch self {
        case .commit(let a, var n1):
            guard case .commit(let b, let n2) = next, a == b else { return false }
            self = .end(job: "")
            n1.append(contentsOf: n2)
            self = .commit(a, nodes: n1)
        case .run(let a, var n1):
            guard case .run(let b, let n2) = next, a == b else { return false }
            self = .end(job: "")
            n1.append(contentsOf: n2)
            self = .run(job: a, nodes: n1)
        case .status(let a, var c1):
            guard case .status(let b, let c2) = next, a == b else { return false }
            self = .end(job: "")
            c1.append(contentsOf: c2)
            self = .status(job: a, c1)
        case .rehab(let a, var n1):
            guard case .rehab(let b, let n2) = next, a == b else { return false }
            self = .end(job: "")
            n1.append(contentsOf: n2)
            self = .rehab(org: a, nodes: n1)
        case .inputs(let a, var i1):
            guard case .inputs(let b, let i2) = next, a == b else { return false }
            self = .end(job: "")
            i1.append(contentsOf: i2)
            self = .inputs(job: a, i1)
        case .end, .abort, .orgEvent, .output:
            return false
        }
        return true
    }

    // MARK: JSON

    var json: JSONValue {
        switch self {
        case .commit(let spec, let nodes):
            return .object([("t", "commit"), ("job", spec.json), ("nodes", .array(nodes.map(JSONValue.string)))])
        case .run(let job, let nodes):
            return .object([("t", "run"), ("job", .string(job)), ("nodes", .array(nodes.map(JSONValue.string)))])
        case .status(let job, let changes):
            return .object([("t", "status"), ("job", .string(job)),
                            ("changes", .array(changes.map { .array([.string($0.node), .string($0.status.rawValue)]) }))])
        case .rehab(let org, let nodes):
            return .object([("t", "rehab"), ("org", .string(org)), ("nodes", .array(nodes.map(JSONValue.string)))])
        case .end(let job):
            return .object([("t", "end"), ("job", .string(job))])
        case .inputs(let job, let inputs):
            return .object([("t", "inputs"), ("job", .string(job)), ("inputs", .array(inputs.map(Self.encode)))])
        case .abort(let job, let org, let by):
            return .object([("t", "abort"), ("job", .string(job)), ("org", .string(org)), ("by", .string(by))])
        case .orgEvent(let org, let name, let data):
            return .object([("t", "org_event"), ("org", .string(org)), ("name", .string(name)), ("data", data)])
        case .output(let job, let node, let stream, let offset, let data):
            return .object([("t", "output"), ("job", .string(job)), ("node", .string(node)), ("stream", .string(stream)),
                            ("offset", .number(Double(offset))), ("data", .string(data))])
        }
    }

    init?(json v: JSONValue) {
        func strings(_ key: String) -> [String]? { v[key]?.arrayValue?.compactMap(\.stringValue) }
        switch v["t"]?.stringValue {
        case "commit":
            guard let spec = v["job"].flatMap(RemoteJobSpec.init(json:)), let n = strings("nodes") else { return nil }
            self = .commit(spec, nodes: n)
        case "run":
            guard let j = v["job"]?.stringValue, let n = strings("nodes") else { return nil }
            self = .run(job: j, nodes: n)
        case "status":
            guard let j = v["job"]?.stringValue, let items = v["changes"]?.arrayValue else { return nil }
            self = .status(job: j, items.compactMap { item in
                guard let pair = item.arrayValue, pair.count == 2, let n = pair[0].stringValue,
                      let s = pair[1].stringValue.flatMap(NodeJobStatus.init(rawValue:)) else { return nil }
                return NodeStatusChange(node: n, status: s)
            })
        case "rehab":
            guard let o = v["org"]?.stringValue, let n = strings("nodes") else { return nil }
            self = .rehab(org: o, nodes: n)
        case "end":
            guard let j = v["job"]?.stringValue else { return nil }
            self = .end(job: j)
        case "inputs":
            guard let j = v["job"]?.stringValue, let items = v["inputs"]?.arrayValue else { return nil }
            self = .inputs(job: j, items.compactMap(Self.decode))
        case "org_event":
            guard let o = v["org"]?.stringValue, let n = v["name"]?.stringValue, let d = v["data"] else { return nil }
            self = .orgEvent(org: o, name: n, data: d)
        case "abort":
            guard let j = v["job"]?.stringValue, let o = v["org"]?.stringValue, let by = v["by"]?.stringValue else { return nil }
            self = .abort(job: j, org: o, by: by)
        case "output":
            guard let j = v["job"]?.stringValue, let n = v["node"]?.stringValue, let st = v["stream"]?.stringValue,
                  let off = v["offset"]?.intValue, let d = v["data"]?.stringValue else { return nil }
            self = .output(job: j, node: n, stream: st, offset: off, data: d)
        default:
            return nil
        }
    }

    static func encode(_ i: NodeInput) -> JSONValue {
        let (kind, text): (String, String?) =
            switch i.input {
            case .ackCommit: ("ack_commit", nil)
            case .nackCommit(let r): ("nack_commit", r)
            case .ackRun: ("ack_run", nil)
            case .nackRun: ("nack_run", nil)
            case .succeeded: ("succeeded", nil)
            case .failed(let r): ("failed", r)
            case .aborted: ("aborted", nil)
            case .down(let r): ("down", r)
            case .disowned(let r): ("disowned", r)
            case .other(let r): ("other", r)
            }
        return .array([.string(i.node), .string(kind)] + (text.map { [.string($0)] } ?? []))
    }

    static func decode(_ v: JSONValue) -> NodeInput? {
        guard let a = v.arrayValue, a.count >= 2, let node = a[0].stringValue, let kind = a[1].stringValue else { return nil }
        let text = a.count > 2 ? a[2].stringValue : nil
        let input: JobMachine.Input
        switch kind {
        case "ack_commit": input = .ackCommit
        case "nack_commit": input = .nackCommit(reason: text)
        case "ack_run": input = .ackRun
        case "nack_run": input = .nackRun
        case "succeeded": input = .succeeded
        case "failed": input = .failed(reason: text)
        case "aborted": input = .aborted
        case "down": input = .down(reason: text ?? "")
        case "disowned": input = .disowned(reason: text ?? "")
        case "other": input = .other(text ?? "")
        default: return nil
        }
        return NodeInput(node: node, input: input)
    }

    /// A batch as one row's body, and back (messages that do not parse are skipped).
    static func body(_ batch: [ClusterMessage]) -> String { JSONValue.array(batch.map(\.json)).serialized() }

    static func batch(_ body: String) -> [ClusterMessage] {
        ((try? JSONValue.parse(body))?.arrayValue ?? []).compactMap(ClusterMessage.init(json:))
    }
}

/// What a holder needs to send `commit` for a job it does not own.
struct RemoteJobSpec: Equatable {
    var id: String
    var org: String
    var command: String
    var user: String?
    var dir: String?
    var env: JSONValue?
    var file: String?
    var capture: Bool
    var runTimeout: Int

    var json: JSONValue {
        var pairs: [(String, JSONValue)] = [("id", .string(id)), ("org", .string(org)), ("command", .string(command)),
                                            ("capture", .bool(capture)), ("run_timeout", .number(Double(runTimeout)))]
        if let user { pairs.append(("user", .string(user))) }
        if let dir { pairs.append(("dir", .string(dir))) }
        if let env { pairs.append(("env", env)) }
        if let file { pairs.append(("file", .string(file))) }
        return .object(pairs)
    }

    init(id: String, org: String, command: String, user: String?, dir: String?, env: JSONValue?, file: String?,
         capture: Bool, runTimeout: Int) {
        self.id = id
        self.org = org
        self.command = command
        self.user = user
        self.dir = dir
        self.env = env
        self.file = file
        self.capture = capture
        self.runTimeout = runTimeout
    }

    init?(json v: JSONValue) {
        guard let id = v["id"]?.stringValue, let org = v["org"]?.stringValue, let command = v["command"]?.stringValue,
              let capture = v["capture"]?.boolValue, let timeout = v["run_timeout"]?.intValue else { return nil }
        self.init(id: id, org: org, command: command, user: v["user"]?.stringValue, dir: v["dir"]?.stringValue,
                  env: v["env"].flatMap { $0.isNull ? nil : $0 }, file: v["file"]?.stringValue, capture: capture, runTimeout: timeout)
    }
}
