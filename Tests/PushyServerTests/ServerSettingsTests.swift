import Foundation
@testable import PushyServer
import Testing

/// The one table of server settings (issue 15 point 4): every key of `server.json` is in it,
/// precedence is flag > environment > file > default with each value's source, bad text is
/// named, and docs/configuration.md is the table.
@Suite(.timeLimit(.minutes(1))) struct ServerSettingsTests {
    static func dataDir(_ json: String?) throws -> String {
        let dir = NSTemporaryDirectory() + "pushy-settings-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        if let json { try Data(json.utf8).write(to: URL(fileURLWithPath: dir + "/server.json")) }
        return dir
    }

    @Test func theTableHasEveryKeyOfTheFileAndNoOther() {
        #expect(ServerSettings.all.map(\.name).sorted() == ServerConfiguration.knownKeys.sorted())
        #expect(Set(ServerSettings.all.map(\.flag)).count == ServerSettings.all.count)
    }

    @Test func flagBeatsEnvironmentBeatsFileBeatsDefault() throws {
        let dir = try Self.dataDir(#"{"data_dir":"/elsewhere","heartbeat_interval":2.5,"api_port":1234,"voting_timeout":30}"#)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (c, sources) = try ServerSettings.resolve(
            dataDir: dir, flags: ["api_port": "4321"],
            environment: ["PUSHY_SERVER_API_PORT": "999", "PUSHY_SERVER_VOTING_TIMEOUT": "45", "PUSHY_SERVER_URL": "ignored"])
        #expect(c.dataDir == dir)
        #expect(c.apiPort == 4321 && sources["api_port"] == .flag("--api-port"))
        #expect(c.votingTimeout == 45 && sources["voting_timeout"] == .environment("PUSHY_SERVER_VOTING_TIMEOUT"))
        #expect(c.heartbeatInterval == 2.5 && sources["heartbeat_interval"] == .file(dir + "/server.json"))
        #expect(c.commandPort == 10002 && sources["command_port"] == nil)
        let text = ServerSettings.describe(c, sources: sources)
        #expect(text.contains("api_port                     = 4321  (flag --api-port)"), "\(text)")
        #expect(text.contains("command_port                 = 10002  (default)"), "\(text)")
        #expect(text.contains("voting_timeout               = 45  (env $PUSHY_SERVER_VOTING_TIMEOUT)"), "\(text)")
        #expect(text.contains("heartbeat_interval           = 2.5  (file \(dir)/server.json)"), "\(text)")
    }

    @Test func badTextIsNamedWithWhereItCameFrom() throws {
        let dir = try Self.dataDir(nil)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect {
            _ = try ServerSettings.resolve(dataDir: dir, flags: ["tls": "maybe"], environment: ["PUSHY_SERVER_API_PORT": "ten"])
        } throws: { error in
            let m = "\(error)"
            return m.contains("$PUSHY_SERVER_API_PORT: expected a whole number, got 'ten'")
                && m.contains("--tls: expected true or false, got 'maybe'")
        }
    }

    @Test func anUnknownKeyNamesTheNearestKnownOne() throws {
        let dir = try Self.dataDir(#"{"data_dir":"/x","metrics_listn":"127.0.0.1:0"}"#)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect {
            _ = try ServerSettings.resolve(dataDir: dir)
        } throws: { error in
            "\(error)".contains("metrics_listn (did you mean metrics_listen?)")
        }
        #expect(ServerSettings.suggestion(for: "heartbeat_intervall") == "heartbeat_interval")
    }

    @Test func theMetricsSettingsAreChecked() {
        var c = ServerConfiguration(dataDir: "/x")
        c.metricsListen = "nonsense"
        c.metricsToken = "short"
        #expect {
            try c.validate()
        } throws: { error in
            "\(error)".contains("metrics_listen = nonsense: must be HOST:PORT") && "\(error)".contains("metrics_token: must be at least 16")
        }
        c.metricsListen = ""
        c.metricsToken = nil
        #expect(c.metricsEndpoint == nil)
        c.metricsListen = "[::1]:0"
        #expect(c.metricsEndpoint?.host == "::1")
    }

    /// postgres_url (issue 17): checked like every setting, its password never shown by `config`.
    @Test func thePostgresURLIsCheckedAndItsPasswordHidden() throws {
        var c = ServerConfiguration(dataDir: "/x")
        c.postgresURL = "postgres://pushy:hunter2@db.example.com/pushy?sslmode=sometimes"
        #expect {
            try c.validate()
        } throws: { error in
            let m = "\(error)"
            return m.contains("postgres_url = (unreadable URL): sslmode 'sometimes' is not one of") && !m.contains("hunter2")
        }
        let dir = try Self.dataDir(nil)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (config, sources) = try ServerSettings.resolve(
            dataDir: dir, environment: ["PUSHY_SERVER_POSTGRES_URL": "postgres://pushy:hunter2@db.example.com/pushy"])
        #expect(config.postgresURL == "postgres://pushy:hunter2@db.example.com/pushy")
        try config.validate()
        let text = ServerSettings.describe(config, sources: sources)
        #expect(text.contains("postgres_url                 = postgres://pushy:****@db.example.com:5432/pushy  (env $PUSHY_SERVER_POSTGRES_URL)"), "\(text)")
        #expect(!text.contains("hunter2"))
        #expect(config.databaseDescription == "PostgreSQL pushy@db.example.com:5432/pushy")
        #expect(ServerConfiguration(dataDir: "/srv/p").databaseDescription == "SQLite /srv/p/pushy.sqlite")
    }

    @Test func docsConfigurationIsTheTable() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let doc = try String(contentsOf: root.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        #expect(doc.contains(ServerSettings.markdownTable),
                "docs/configuration.md's server table is out of date: paste 'pushy-server config --list --markdown'")
    }

    /// init writes data_dir and the chosen values only, so `config` can tell them from defaults.
    @Test func initWritesOnlyWhatDiffersFromTheDefaults() throws {
        var c = ServerConfiguration(dataDir: "/srv/pushy")
        c.heartbeatInterval = 2
        c.metricsToken = "0123456789abcdef0123"
        let object = try JSONSerialization.jsonObject(with: try DataDirectory.settingsFile(c)) as? [String: Any]
        #expect(Set(object?.keys.map { $0 } ?? []) == ["data_dir", "heartbeat_interval", "metrics_token"])
        let text = String(decoding: try DataDirectory.settingsFile(c), as: UTF8.self)
        #expect(text.contains(#""data_dir" : "/srv/pushy""#), "\(text)")
    }
}
