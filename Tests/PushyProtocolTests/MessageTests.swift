import Foundation
import Testing

@testable import PushyProtocol

/// Wire shapes of ZeroMQ bodies (spec 5.1–5.3), the node config (7.1) and REST job objects (2.3).
@Suite(.timeLimit(.minutes(2))) struct MessageTests {
    static let ts = Date(timeIntervalSince1970: 1_346_799_662)
    static let tsText = "Tue, 04 Sep 2012 23:01:02 GMT"
    static let job = "0123456789abcdef0123456789abcdef"

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    // MARK: AgentMessage

    @Test func bodyTemplateMatchesTheSerialisedMessageForEverySequence() {
        let commit = ServerMessage(
            type: .commit, sequence: 0, timestamp: Date(timeIntervalSince1970: 1_700_000_000), jobId: "j1",
            server: "pushy.example", command: "chef-client", env: .object([("A", .string("x\"y"))]), capture: true,
            runTimeout: 60)
        let run = ServerMessage(type: .run, sequence: 0, timestamp: Date(timeIntervalSince1970: 1_700_000_000), jobId: "j1")
        for message in [commit, run] {
            let template = message.bodyTemplate
            for seq in [1, 42, 1_000_000] {
                var m = message
                m.sequence = seq
                #expect(template.bytes(sequence: seq) == m.bodyBytes)
            }
        }
    }

    /// Caught by the fuzz-server-message harness's template check: from 1e15 up the template wrote `1000000000000000`
    /// where `bodyBytes` writes `1000000000000000.0`.
    @Test(arguments: [999_999_999_999_999, 1_000_000_000_000_000, -1_000_000_000_000_000, 8_999_999_999_999_999])
    func bodyTemplateMatchesBodyBytesForHugeSequences(_ sequence: Int) throws {
        let message = ServerMessage(type: .ack, sequence: sequence, timestamp: Date(timeIntervalSince1970: 1_346_799_662))
        #expect(message.bodyTemplate.bytes(sequence: sequence) == message.bodyBytes)
        #expect(try ServerMessage.parse(message.bodyBytes).sequence == sequence)
    }

    @Test func agentMessageGoldenOrderWithNullJobId() {
        let m = AgentMessage(node: "web1", client: "web1.example.com", org: "acme", type: .ackCommit, sequence: 3,
                             timestamp: Self.ts, incarnationId: "inc-1", jobId: nil)
        #expect(Self.text(m.bodyBytes) == #"{"node":"web1","client":"web1.example.com","protocol_version":"2.0","org":"acme","type":"ack_commit","sequence":3,"timestamp":"Tue, 04 Sep 2012 23:01:02 GMT","incarnation_id":"inc-1","job_id":null}"#)
    }

    @Test func agentHeartbeatGoldenHasJobStateAfterJobId() {
        let m = AgentMessage(node: "web1", client: "web1", org: "acme", type: .heartbeat, sequence: 1, timestamp: Self.ts,
                             incarnationId: "inc-1", jobId: Self.job, jobState: .running)
        #expect(Self.text(m.bodyBytes) == #"{"node":"web1","client":"web1","protocol_version":"2.0","org":"acme","type":"heartbeat","sequence":1,"timestamp":"Tue, 04 Sep 2012 23:01:02 GMT","incarnation_id":"inc-1","job_id":"0123456789abcdef0123456789abcdef","job_state":"running"}"#)
        #expect(m.json.keys == ["node", "client", "protocol_version", "org", "type", "sequence", "timestamp",
                                "incarnation_id", "job_id", "job_state"])
    }

    @Test func agentResultCarriesOutputAndExtensionsAfterTheCommonFields() {
        let m = AgentMessage(node: "n", client: "c", org: "o", type: .failed, sequence: 9, timestamp: Self.ts,
                             incarnationId: "i", jobId: Self.job, stdout: "out\n", stderr: "", reason: "exit 2", exitStatus: 2)
        #expect(m.json.keys == ["node", "client", "protocol_version", "org", "type", "sequence", "timestamp",
                                "incarnation_id", "job_id", "stdout", "stderr", "reason", "exit_status"])
        #expect(m.json["exit_status"] == 2)
    }

    @Test(arguments: AgentMessageType.allCases)
    func agentMessageRoundTrips(_ type: AgentMessageType) throws {
        let m = AgentMessage(node: "web1", client: "web1.example.com", org: "acme", type: type, sequence: 42,
                             timestamp: Self.ts, incarnationId: "inc-1", jobId: type == .heartbeat ? nil : Self.job,
                             jobState: type == .heartbeat ? .idle : nil, stdout: type == .succeeded ? "é\n\"x\"" : nil)
        let back = try AgentMessage.parse(m.bodyBytes)
        #expect(back == m)
        #expect(back.messageType == type)
    }

    @Test func agentParseAcceptsReferenceBodiesInAnyOrder() throws {
        let m = try AgentMessage.parse(Self.bytes(#"{"type":"aborted","job_id":null,"org":"acme","node":"n1","timestamp":"Tue, 04 Sep 2012 23:01:02 GMT","sequence":5,"extra":[1]}"#))
        #expect(m.messageType == .aborted)
        #expect(m.jobId == nil)
        #expect(m.sequence == 5)
        #expect(m.timestamp == Self.ts)
        #expect(m.client == "")
    }

    @Test func agentBodyWrittenDirectlyIsTheTreesBytesWithEveryField() throws {
        var m = AgentMessage(node: "n\u{1}", client: "c\"", org: "o/é", type: .output, sequence: 123_456_789_012,
                             timestamp: Self.ts, incarnationId: "i", jobId: Self.job, jobState: .running,
                             stdout: "a\nb", stderr: "\\", reason: "why", exitStatus: -3)
        m.outputEncoding = "base64"
        m.stdoutTruncated = true
        m.stderrTruncated = false
        m.stream = "stdout"
        m.offset = 4096
        m.data = "QUJD"
        #expect(m.bodyBytes == m.json.bytes)
        #expect(try AgentMessage.parse(m.bodyBytes) == m)
        m.sequence = 2_000_000_000_000_000  // past the integer fast path: still the tree's text
        #expect(m.bodyBytes == m.json.bytes)
    }

    @Test func agentParseReadsEscapedKeysAndKeepsTheFirstOfDuplicates() throws {
        let body = #"{"n\u006fde":"n1","node":"n2","org":"acme","type":"heartbeat","type":"aborted","timestamp":"Tue, 04 Sep 2012 23:01:02 GMT","sequence":-0,"s\u00e9q":{"x":[true,false,null,1.5e3]}}"#
        let m = try AgentMessage.parse(Self.bytes(body))
        #expect(m.node == "n1")
        #expect(m.type == "heartbeat")
        #expect(m.messageType == .heartbeat)
        #expect(m.sequence == 0)
        // The first wins even when it has the wrong type: the field is then absent.
        let wrongFirst = #"{"node":1,"node":"n2","org":"acme","type":"heartbeat","timestamp":"Tue, 04 Sep 2012 23:01:02 GMT"}"#
        #expect(throws: MessageError.missingField("node")) { _ = try AgentMessage.parse(Self.bytes(wrongFirst)) }
    }

    @Test(arguments: [#"{"node":"n","org":"o","type":"heartbeat","timestamp":"x" "#, #"{"node":"n\x"}"#,
                      "{\"node\":\"a\u{1}\"}", #"{"node":"n",}"#, #"{"node" "n"}"#, "{\"no\u{1}de\":1}"])
    func agentParseRejectsBrokenObjects(_ body: String) {
        #expect {
            _ = try AgentMessage.parse(Self.bytes(body))
        } throws: { error in
            if case .invalidJSON = error as? MessageError { true } else { false }
        }
    }

    @Test func agentParseKeepsUnknownTypes() throws {
        let m = try AgentMessage.parse(Self.bytes(#"{"node":"n","org":"o","type":"telepathy","timestamp":"Tue, 04 Sep 2012 23:01:02 GMT"}"#))
        #expect(m.type == "telepathy")
        #expect(m.messageType == nil)
    }

    static let good: [(String, JSONValue)] = [
        ("node", "n1"), ("org", "acme"), ("type", "heartbeat"), ("timestamp", .string(tsText)), ("job_id", .null),
    ]

    static func without(_ key: String) -> [UInt8] { JSONValue.object(good.filter { $0.0 != key }).bytes }
    static func with(_ key: String, _ value: JSONValue) -> [UInt8] {
        JSONValue.object(good.map { $0.0 == key ? ($0.0, value) : $0 }).bytes
    }

    @Test(arguments: [
        (without("node"), MessageError.missingField("node")),
        (without("org"), .missingField("org")),
        (without("type"), .missingField("type")),
        (without("timestamp"), .missingField("timestamp")),
        (with("node", ""), .missingField("node")),
        (with("node", 7), .missingField("node")),
        (with("type", 1), .missingField("type")),
        (with("timestamp", "yesterday"), .badField("timestamp")),
        (with("job_id", .string(String(repeating: "a", count: 65))), .badField("job_id")),
        (with("job_id", 12), .badField("job_id")),
    ])
    func agentParseRejects(_ body: [UInt8], _ error: MessageError) {
        #expect(throws: error) { _ = try AgentMessage.parse(body) }
    }

    @Test(arguments: ["[1]", "\"x\"", "null", "", "{", "{\"node\":\"n\"} x"])
    func agentParseRejectsNonObjects(_ body: String) {
        #expect {
            _ = try AgentMessage.parse(Self.bytes(body))
        } throws: { error in
            if case .invalidJSON = error as? MessageError { true } else { false }
        }
    }

    @Test func agentJobIdOf64CharactersIsAccepted() throws {
        let id = String(repeating: "f", count: 64)
        #expect(try AgentMessage.parse(Self.with("job_id", .string(id))).jobId == id)
        #expect(try AgentMessage.parse(Self.without("job_id")).jobId == nil)
    }

    // MARK: ServerMessage

    @Test func serverCommitGolden() {
        let m = ServerMessage(type: .commit, sequence: 7, timestamp: Self.ts, jobId: Self.job, server: "chef.example.com",
                              command: "chef-client", env: [:], capture: false)
        #expect(Self.text(m.bodyBytes) == #"{"sequence":7,"timestamp":"Tue, 04 Sep 2012 23:01:02 GMT","type":"commit","job_id":"0123456789abcdef0123456789abcdef","server":"chef.example.com","command":"chef-client","env":{},"capture":false}"#)
    }

    @Test func serverCommitWithEveryOption() throws {
        let m = ServerMessage(type: .commit, sequence: 8, timestamp: Self.ts, jobId: Self.job, server: "s", command: "deploy",
                              user: "app", dir: "/srv", env: ["B": "2", "A": "1"], file: "base64:aGk=", capture: true, runTimeout: 300)
        #expect(m.json.keys == ["sequence", "timestamp", "type", "job_id", "server", "command", "user", "dir", "env", "file",
                                "capture", "run_timeout"])
        #expect(m.json["capture_output"] == nil)
        #expect(m.json["env"]?.keys == ["B", "A"])
        #expect(try ServerMessage.parse(m.bodyBytes) == m)
    }

    @Test func serverHeartbeatGolden() throws {
        let m = ServerMessage(type: .heartbeat, sequence: 0, timestamp: Self.ts, jobId: "ignored", server: "pushy1",
                              incarnationId: "8b1b4c37-2a6c-4b6e-9d3e-3f1e6c1f0a11")
        #expect(Self.text(m.bodyBytes) == #"{"sequence":0,"timestamp":"Tue, 04 Sep 2012 23:01:02 GMT","type":"heartbeat","server":"pushy1","incarnation_id":"8b1b4c37-2a6c-4b6e-9d3e-3f1e6c1f0a11"}"#)
        let back = try ServerMessage.parse(m.bodyBytes)
        #expect(back.messageType == .heartbeat)
        #expect(back.incarnationId == m.incarnationId)
        #expect(back.jobId == nil)
    }

    @Test func serverRunAbortAndAckGolden() {
        #expect(Self.text(ServerMessage(type: .run, sequence: 2, timestamp: Self.ts, jobId: Self.job).bodyBytes)
            == #"{"sequence":2,"timestamp":"Tue, 04 Sep 2012 23:01:02 GMT","type":"run","job_id":"0123456789abcdef0123456789abcdef"}"#)
        #expect(Self.text(ServerMessage(type: .abort, sequence: 3, timestamp: Self.ts).bodyBytes)
            == #"{"sequence":3,"timestamp":"Tue, 04 Sep 2012 23:01:02 GMT","type":"abort"}"#)
        #expect(Self.text(ServerMessage(type: .ack, sequence: 4, timestamp: Self.ts).bodyBytes)
            == #"{"sequence":4,"timestamp":"Tue, 04 Sep 2012 23:01:02 GMT","type":"ack"}"#)
    }

    @Test func serverParseAcceptsReferenceCommit() throws {
        // The reference server's order: type, job_id, server, command, options, then sequence/timestamp.
        let m = try ServerMessage.parse(Self.bytes(#"{"type":"commit","job_id":"j","server":"h","command":"chef-client","env":null,"capture":true,"sequence":1,"timestamp":"Tue, 04 Sep 2012 23:01:02 GMT"}"#))
        #expect(m.messageType == .commit)
        #expect(m.capture == true)
        #expect(m.env == nil)
        #expect(m.runTimeout == nil)
    }

    @Test func serverParseRejects() {
        #expect(throws: MessageError.missingField("type")) {
            _ = try ServerMessage.parse(Self.bytes(#"{"timestamp":"Tue, 04 Sep 2012 23:01:02 GMT"}"#))
        }
        #expect(throws: MessageError.missingField("timestamp")) { _ = try ServerMessage.parse(Self.bytes(#"{"type":"ack"}"#)) }
        #expect(throws: MessageError.badField("timestamp")) {
            _ = try ServerMessage.parse(Self.bytes(#"{"type":"ack","timestamp":"2012-09-04T23:01:02Z"}"#))
        }
        #expect(throws: MessageError.invalidJSON("body is not a JSON object")) { _ = try ServerMessage.parse(Self.bytes("[]")) }
    }

    // MARK: NodeConfig (spec 7.1)

    static func config() -> NodeConfig {
        NodeConfig(host: "chef.example.com", outAddr: "tcp://chef.example.com:10000",
                   commandAddr: "tcp://chef.example.com:10002", interval: 10, node: "web1", organization: "acme",
                   publicKey: "-----BEGIN PUBLIC KEY-----\nAAA\n-----END PUBLIC KEY-----\n\n",
                   curvePublicKey: "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", encodedSessionKey: "c2Vzc2lvbg==",
                   incarnationId: "11111111-2222-4333-8444-555555555555")
    }

    @Test func nodeConfigShape() {
        let v = Self.config().json
        #expect(v.keys == ["type", "host", "push_jobs", "node", "organization", "public_key", "curve_public_key",
                           "encoded_session_key", "lifetime", "max_message_skew", "max_body_size", "incarnation_id"])
        #expect(v["type"] == "config")
        let hb = v["push_jobs"]?["heartbeat"]
        #expect(hb?.keys == ["out_addr", "command_addr", "interval", "offline_threshold", "online_threshold"])
        #expect(hb?["out_addr"] == "tcp://chef.example.com:10000")
        #expect(hb?["command_addr"] == "tcp://chef.example.com:10002")
        #expect(hb?["interval"]?.doubleValue == 10)
        #expect(hb?["offline_threshold"] == 3)
        #expect(hb?["online_threshold"] == 2)
        #expect(v["encoded_session_key"] == ["method": "hmac_sha256", "key": "c2Vzc2lvbg=="])
        #expect(v["lifetime"] == 3600)
        #expect(v["max_message_skew"] == 300)
        #expect(v["max_body_size"] == 65536)
    }

    @Test func nodeConfigRoundTrips() throws {
        var c = Self.config()
        c.interval = 2.5
        c.lifetime = 60
        c.offlineThreshold = 5
        #expect(try NodeConfig.parse(JSONValue.parse(c.json.bytes)) == c)
        c.curvePublicKey = nil
        #expect(c.json["curve_public_key"] == nil)
        #expect(try NodeConfig.parse(c.json) == c)
    }

    @Test(arguments: ["out_addr", "command_addr"])
    func nodeConfigMissingAddressIsRejected(_ key: String) throws {
        guard case .object(var top) = Self.config().json, let i = top.firstIndex(where: { $0.0 == "push_jobs" }),
            case .object(let hbPairs)? = top[i].1["heartbeat"]
        else { Issue.record("bad shape"); return }
        top[i].1 = ["heartbeat": .object(hbPairs.filter { $0.0 != key })]
        #expect(throws: MessageError.missingField(key)) { _ = try NodeConfig.parse(.object(top)) }
    }

    @Test(arguments: ["push_jobs", "public_key", "encoded_session_key", "incarnation_id"])
    func nodeConfigMissingTopLevelIsRejected(_ key: String) {
        guard case .object(let top) = Self.config().json else { return }
        #expect(throws: MessageError.self) { _ = try NodeConfig.parse(.object(top.filter { $0.0 != key })) }
    }

    // MARK: JobView (spec 2.3)

    static func view(nodes: [(NodeJobStatus, [String])]? = nil) -> JobView {
        JobView(id: job, command: "chef-client", status: .complete, runTimeout: 3600, createdAt: ts,
                updatedAt: Date(timeIntervalSince1970: 1_346_800_676), quorum: 2, nodes: nodes)
    }

    @Test func listFormGoldenWithEveryOptionalKey() {
        var v = Self.view()
        v.user = "deploy"
        v.dir = "/tmp"
        v.env = ["K": "V"]
        v.captureOutput = true
        v.fileSpecified = true
        #expect(v.json.serialized() == #"{"id":"0123456789abcdef0123456789abcdef","command":"chef-client","status":"complete","run_timeout":3600,"created_at":"Tue, 04 Sep 2012 23:01:02 GMT","updated_at":"Tue, 04 Sep 2012 23:17:56 GMT","user":"deploy","dir":"/tmp","env":{"K":"V"},"capture_output":true,"file_specified":true}"#)
    }

    @Test func optionalKeysOnlyWhenSet() {
        let v = Self.view()
        #expect(v.json.keys == ["id", "command", "status", "run_timeout", "created_at", "updated_at"])
        var f = v
        f.file = "raw:hello"
        f.fileSpecified = true
        #expect(f.json["file"] == "raw:hello")
        #expect(f.json["file_specified"] == nil, "include_file replaces file_specified")
        var e = v
        e.env = [:]
        #expect(e.json["env"] == [:], "knife's empty env shows up as {}")
    }

    @Test func detailFormGroupsNodesWithoutEmptyGroups() throws {
        let v = Self.view(nodes: [(.succeeded, ["n1", "n2"]), (.failed, ["n3"]), (.running, []), (.unavailable, ["n4"])])
        let json = v.json
        #expect(json.keys.first == "nodes")
        #expect(json["nodes"] == ["succeeded": ["n1", "n2"], "failed": ["n3"], "unavailable": ["n4"]])
        #expect(json["quorum"] == 2)
        #expect(v.count(.succeeded) == 2)
        #expect(v.count(.running) == 0)
        #expect(v.nodeCount == 4)
        let back = try #require(JobView.parse(JSONValue.parse(json.bytes)))
        #expect(back == v)
        #expect(back.nodes?.map(\.0) == [.succeeded, .failed, .unavailable])
    }

    @Test func listFormHasNoNodesAndNoQuorum() throws {
        let json = Self.view().json
        #expect(json["nodes"] == nil)
        #expect(json["quorum"] == nil)
        let back = try #require(JobView.parse(json))
        #expect(back.nodes == nil)
        #expect(back.json == json)
    }

    @Test func pushyExtensionsAreNewKeysOnly() {
        var v = Self.view(nodes: [(.unavailable, ["n4"])])
        v.nodeReasons = [("n4", "offline: no heartbeat from the node")]
        v.statusReason = "0 of 1 nodes ready"
        #expect(v.json["node_reasons"] == ["n4": "offline: no heartbeat from the node"])
        #expect(v.json["status_reason"] == "0 of 1 nodes ready")
        v.nodeReasons = []
        #expect(v.json["node_reasons"] == nil)
    }
}

extension MessageTests {
    @Test func nullEnvIsNoEnv() throws {
        let json = try JSONValue.parse(#"{"id":"x","status":"running","env":null}"#)
        #expect(JobView.parse(json)?.env == nil)
        #expect(JobView.parse(json)?.json["env"] == nil)
    }
}
