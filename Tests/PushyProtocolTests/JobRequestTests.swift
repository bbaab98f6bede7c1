import Foundation
import Testing

@testable import PushyProtocol

/// POST /jobs validation (spec 2.3, 12 points 6–7) and the quorum rule (spec 9).
@Suite(.timeLimit(.minutes(2))) struct JobRequestTests {
    static func parse(_ body: String) throws(JobValidationError) -> JobRequest { try JobRequest.parse(Array(body.utf8)) }

    static func message(_ body: String) -> String? {
        do {
            _ = try parse(body)
            return nil
        } catch {
            return error.message
        }
    }

    /// Body → the exact message, or (when it ends in "…") its prefix.
    @Test(arguments: [
        (#"{"command":"x","nodes":["a"],"bogus":1}"#, "invalid key supplied…"),
        (#"{"command":"x","nodes":["a"],"capture":true}"#, "invalid key supplied…"),
        (#"{"nodes":["a"]}"#, "invalid command supplied…"),
        (#"{"command":7,"nodes":["a"]}"#, "invalid command supplied…"),
        (#"{"command":null,"nodes":["a"]}"#, "invalid command supplied…"),
        (#"{"command":["x"],"nodes":["a"]}"#, "invalid command supplied…"),
        (#"{"command":"","nodes":["a"]}"#, "invalid command supplied…"),
        (#"{"command":"x"}"#, "at least one node must be supplied (missing 'nodes')"),
        (#"{"command":"x","nodes":[]}"#, "at least one node must be supplied ('nodes' is empty)"),
        (#"{"command":"x","nodes":"a"}"#, "at least one node must be supplied ('nodes' must be an array…"),
        (#"{"command":"x","nodes":["a",1]}"#, "invalid node name supplied…"),
        (#"{"command":"x","nodes":["a",""]}"#, "invalid node name supplied…"),
        (#"{"command":"x","nodes":["a"],"quorum":"abc"}"#, "invalid type supplied for quorum (expected a number…"),
        (#"{"command":"x","nodes":["a"],"quorum":"3"}"#, "invalid type supplied for quorum (expected a number…"),
        (#"{"command":"x","nodes":["a"],"quorum":"101%"}"#, "invalid quorum supplied: '101%' (a percentage must be between 0% and 100%)"),
        (#"{"command":"x","nodes":["a"],"quorum":true}"#, "invalid type supplied for quorum (expected a number…"),
        (#"{"command":"x","nodes":["a"],"quorum":null}"#, "invalid type supplied for quorum (expected a number…"),
        (#"{"command":"x","nodes":["a"],"quorum":-1}"#, "invalid quorum supplied…"),
        (#"{"command":"x","nodes":["a"],"quorum":1.5}"#, "invalid quorum supplied…"),
        (#"{"command":"x","nodes":["a"],"run_timeout":"10"}"#, "invalid type supplied for run_timeout (expected a number)"),
        (#"{"command":"x","nodes":["a"],"run_timeout":false}"#, "invalid type supplied for run_timeout (expected a number)"),
        (#"{"command":"x","nodes":["a"],"run_timeout":-5}"#, "invalid run_timeout supplied…"),
        (#"{"command":"x","nodes":["a"],"user":1}"#, "invalid type supplied for user…"),
        (#"{"command":"x","nodes":["a"],"dir":{}}"#, "invalid type supplied for dir…"),
        (#"{"command":"x","nodes":["a"],"env":{"A":"1","A":"2"}}"#, "invalid environment value (duplicate key)"),
        (#"{"command":"x","nodes":["a"],"env":{"A":1}}"#, "invalid environment value…"),
        (#"{"command":"x","nodes":["a"],"env":{"A":null}}"#, "invalid environment value…"),
        (#"{"command":"x","nodes":["a"],"env":["A=1"]}"#, "invalid type supplied for env…"),
        (#"{"command":"x","nodes":["a"],"file":"hello"}"#, "invalid file contents (expected 'base64:...' or 'raw:...')"),
        (#"{"command":"x","nodes":["a"],"file":"RAW:hello"}"#, "invalid file contents (expected 'base64:...' or 'raw:...')"),
        (#"{"command":"x","nodes":["a"],"file":42}"#, "invalid file contents (expected 'base64:...' or 'raw:...')"),
        (#"{"command":"x","nodes":["a"],"file":"base64:!!!!"}"#, "invalid file contents (couldn't decode base64 string)"),
        (#"{"command":"x","nodes":["a"],"file":"base64:aGk"}"#, "invalid file contents (couldn't decode base64 string)"),
        (#"{"command":"x","nodes":["a"],"capture_output":"yes"}"#, "invalid type supplied for capture_output (expected a boolean)"),
        (#"{"command":"x","nodes":["a"],"capture_output":1}"#, "invalid type supplied for capture_output (expected a boolean)"),
        (#"{"command":"x","nodes":["a"],"#, "invalid JSON in request body…"),
        (#"[{"command":"x","nodes":["a"]}]"#, "request body must be a JSON object"),
        (#""x""#, "request body must be a JSON object"),
        ("", "invalid JSON in request body…"),
    ])
    func validationMessages(_ body: String, _ expected: String) {
        let got = Self.message(body)
        if expected.hasSuffix("…") {
            #expect(got?.hasPrefix(String(expected.dropLast())) == true, "\(got ?? "accepted")")
        } else {
            #expect(got == expected)
        }
    }

    @Test func invalidKeyMessageNamesTheKey() {
        #expect(Self.message(#"{"command":"x","nodes":["a"],"bogus":1}"#)?.contains("'bogus'") == true)
    }

    @Test func invalidJSONNamesTheByteOffset() {
        #expect(Self.message(#"{"command":"x","nodes":["a"],"#)?.hasSuffix("at byte 29") == true)
        #expect(Self.message(#"{"command":"x" "nodes":["a"]}"#)?.hasSuffix("at byte 15") == true)
    }

    // MARK: file size (decoded bytes ≤ 100,000)

    static func withFile(_ file: String) -> String { #"{"command":"x","nodes":["a"],"file":"\#(file)"}"# }

    @Test func rawFileSizeLimit() throws {
        let ok = "raw:" + String(repeating: "a", count: 100_000)
        #expect(try Self.parse(Self.withFile(ok)).file == ok)
        #expect(Self.message(Self.withFile(ok + "a")) == "invalid file size (must be <= 100000 bytes)")
        // Bytes, not characters: 50,001 two-byte characters are over the limit.
        #expect(Self.message(Self.withFile("raw:" + String(repeating: "é", count: 50_001))) == "invalid file size (must be <= 100000 bytes)")
    }

    @Test func base64FileSizeIsCountedDecoded() throws {
        let ok = "base64:" + Data(repeating: 0xAB, count: 100_000).base64EncodedString()
        #expect(ok.utf8.count > 100_000, "the encoded text may be longer than the limit")
        #expect(try Self.parse(Self.withFile(ok)).file == ok)
        let big = "base64:" + Data(repeating: 0xAB, count: 100_001).base64EncodedString()
        #expect(Self.message(Self.withFile(big)) == "invalid file size (must be <= 100000 bytes)")
    }

    // MARK: accepted requests

    @Test func fullRequestParses() throws {
        let r = try Self.parse(#"{"command":"deploy","nodes":["a","b","a","c","b"],"quorum":2,"run_timeout":0,"user":"app","dir":"/srv","env":{"Z":"1","A":"2"},"file":"raw:hi","capture_output":true}"#)
        #expect(r.command == "deploy")
        #expect(r.nodes == ["a", "b", "c"], "duplicates merged, first occurrence order kept")
        #expect(r.quorum == .count(2))
        #expect(r.quorumCount == 2)
        #expect(r.runTimeout == 0)
        #expect(r.user == "app")
        #expect(r.dir == "/srv")
        #expect(r.env?.map(\.0) == ["Z", "A"])
        #expect(r.file == "raw:hi")
        #expect(r.captureOutput)
        #expect(try JobRequest.parse(r.json.bytes) == r)
    }

    @Test func knifeStyleRequestParses() throws {
        // knife-push always sends env and capture_output; quorum already converted to a count.
        let r = try Self.parse(#"{"command":"chef-client","nodes":["n1","n2"],"quorum":2,"capture_output":false,"env":{}}"#)
        #expect(r.env?.isEmpty == true)
        #expect(!r.captureOutput)
        #expect(r.file == nil)
        #expect(r.runTimeout == nil)
    }

    @Test func defaultsAndMinimalRequest() throws {
        let r = try Self.parse(#"{"command":"chef-client","nodes":["n1","n2","n3"]}"#)
        #expect(r.quorum == nil)
        #expect(r.quorumCount == 3)
        #expect(r.env == nil)
        #expect(!r.captureOutput)
        #expect(r.json.serialized() == #"{"command":"chef-client","nodes":["n1","n2","n3"]}"#)
    }

    @Test func quorumLargerThanNodeCountIsAccepted() throws {
        #expect(try Self.parse(#"{"command":"x","nodes":["a"],"quorum":5}"#).quorumCount == 5)
    }

    @Test func percentQuorum() throws {
        let nodes = (1...10).map { "\"n\($0)\"" }.joined(separator: ",")
        let r = try Self.parse(#"{"command":"x","nodes":[\#(nodes)],"quorum":"90%"}"#)
        #expect(r.quorum == .percent(90))
        #expect(r.quorumCount == 9)
        #expect(r.json["quorum"] == "90%")
        #expect(try JobRequest.parse(r.json.bytes) == r)
        let half = try Self.parse(#"{"command":"x","nodes":["a","b","c"],"quorum":"50%"}"#)
        #expect(half.quorumCount == 2)
        let frac = JobRequest(command: "x", nodes: ["a"], quorum: .percent(12.5))
        #expect(frac.json["quorum"] == "12.5%")
    }

    @Test func runTimeoutFractionsRoundUp() throws {
        #expect(try Self.parse(#"{"command":"x","nodes":["a"],"run_timeout":1.2}"#).runTimeout == 2)
    }

    // MARK: Quorum

    @Test(arguments: [
        ("90%", Quorum.percent(90)), ("100%", .percent(100)), ("0%", .percent(0)), ("12.5%", .percent(12.5)),
        ("0", .count(0)), ("3", .count(3)), (" 7 ", .count(7)),
    ])
    func quorumParses(_ text: String, _ expected: Quorum) {
        #expect(Quorum.parse(text) == expected)
    }

    @Test(arguments: ["-1", "abc", "101%", "-5%", "%", "", "3.5", "90 %x", "nan%", "1,000"])
    func quorumRejects(_ text: String) {
        #expect(Quorum.parse(text) == nil)
    }

    @Test(arguments: [
        (Quorum.percent(90), 10, 9), (.percent(90), 3, 3), (.percent(50), 3, 2), (.percent(100), 0, 0),
        (.percent(33), 3, 1), (.percent(0), 5, 0), (.percent(100), 7, 7), (.percent(70), 10, 7), (.percent(10), 10, 1),
        (.percent(12.5), 8, 1), (.percent(1), 1000, 10), (.percent(1), 1001, 11), (.count(4), 2, 4), (.count(0), 9, 0),
    ])
    func quorumResolvesWithCeil(_ q: Quorum, _ nodes: Int, _ expected: Int) {
        #expect(q.resolve(nodeCount: nodes) == expected)
    }
}
