import Foundation
@testable import PushyServer
import Testing

/// `server.json` and flags are checked before anything starts: each wrong value, unknown key or
/// wrong type is named with what to write instead (issue 12 point 4).
@Suite(.timeLimit(.minutes(1))) struct ServerConfigurationTests {
    static func message(_ change: (inout ServerConfiguration) -> Void) -> String? {
        var c = ServerConfiguration(dataDir: "/tmp/x")
        change(&c)
        do { try c.validate() } catch { return error.description }
        return nil
    }

    @Test func defaultsAreValid() throws {
        try ServerConfiguration(dataDir: "/tmp/x").validate()
    }

    @Test(arguments: [
        ("heartbeat_interval = 0.0", { @Sendable (c: inout ServerConfiguration) in c.heartbeatInterval = 0 }),
        ("heartbeat_interval = nan", { @Sendable (c: inout ServerConfiguration) in c.heartbeatInterval = .nan }),
        ("down_threshold = 1.5", { @Sendable (c: inout ServerConfiguration) in c.downThreshold = 1.5 }),
        ("decay_window = 1.0", { @Sendable (c: inout ServerConfiguration) in c.decayWindow = 1 }),
        ("api_port = 70000", { @Sendable (c: inout ServerConfiguration) in c.apiPort = 70000 }),
        ("must differ", { @Sendable (c: inout ServerConfiguration) in c.commandPort = c.heartbeatPort }),
        ("voting_timeout = -1.0", { @Sendable (c: inout ServerConfiguration) in c.votingTimeout = -1 }),
        ("default_run_timeout = 0", { @Sendable (c: inout ServerConfiguration) in c.defaultRunTimeout = 0 }),
        ("max_body_size = 10", { @Sendable (c: inout ServerConfiguration) in c.maxBodySize = 10 }),
        ("max_agent_connections = 1", { @Sendable (c: inout ServerConfiguration) in c.maxAgentConnections = 1 }),
        ("default_org", { @Sendable (c: inout ServerConfiguration) in c.defaultOrg = "" }),
    ] as [(String, @Sendable (inout ServerConfiguration) -> Void)])
    func eachBadValueIsNamed(_ expected: String, _ change: @Sendable (inout ServerConfiguration) -> Void) {
        let m = Self.message(change)
        #expect(m?.contains(expected) == true, "message: \(m ?? "none")")
    }

    @Test func everyProblemIsListedAtOnce() {
        let m = Self.message { $0.heartbeatInterval = 0; $0.rehabInterval = 0 } ?? ""
        #expect(m.contains("heartbeat_interval") && m.contains("rehab_interval"), "message: \(m)")
    }

    func load(_ json: String) throws -> ServerConfiguration {
        let dir = NSTemporaryDirectory() + "pushy-config-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data(json.utf8).write(to: URL(fileURLWithPath: dir + "/server.json"))
        return try DataDirectory.loadConfig(dataDir: dir)
    }

    @Test func aTypoInServerJsonIsNamedWithTheLikelyKey() {
        #expect {
            _ = try load(#"{"data_dir":"/x","heartbeat_intervall":5}"#)
        } throws: { error in
            "\(error)".contains("unknown setting(s) heartbeat_intervall (did you mean heartbeat_interval?)")
        }
    }

    @Test func aWrongTypeSaysWhatToWrite() {
        #expect {
            _ = try load(#"{"data_dir":"/x","api_port":"10003"}"#)
        } throws: { error in
            "\(error)".contains("api_port must be a whole number")
        }
    }

    @Test func aGoodFileLoads() throws {
        let c = try load(#"{"data_dir":"/x","heartbeat_interval":2.5,"api_port":0}"#)
        #expect(c.heartbeatInterval == 2.5)
        try c.validate()
    }
}
