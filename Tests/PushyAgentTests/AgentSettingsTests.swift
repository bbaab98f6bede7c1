import Foundation
import PushyAgent
import PushyCore
import PushyProtocol
import Testing

/// Where each setting comes from (flag > environment > config file > default), how lists
/// combine, and that the result is the runtime's configuration.
@Suite(.timeLimit(.minutes(1))) struct AgentSettingsTests {
    static let url = "https://pushy.test/organizations/acme"
    static let complete: [String: JSONValue] = ["server_url": .string(url), "node_name": "web1", "client_key": "/k.pem"]

    @Test func nothingGivenMeansTheDefaults() {
        let s = AgentSettings.resolve()
        #expect(s.serverURL == nil && s.nodeName == nil && s.clientKey == nil)
        #expect(s.environment == "_default")
        #expect(s.maxBodySize == 63_000)
        #expect(s.allowedOverwritableEnvVars == nil)
        #expect(s.sslVerifyMode == "verify_peer" && s.tls.verify)
        #expect(s.logLevel == "info")
        #expect(s.sources.isEmpty && s.readProblems.isEmpty)
    }

    /// One row: what the file, the environment and a flag say about node_name, and who wins.
    struct Precedence: Sendable, CustomTestStringConvertible {
        let file: String?, env: String?, flag: String?
        let expected: String?, source: AgentSettings.Source?
        var testDescription: String { "file \(file ?? "-"), env \(env ?? "-"), flag \(flag ?? "-")" }
    }

    static let precedence: [Precedence] = [
        .init(file: nil, env: nil, flag: nil, expected: nil, source: nil),
        .init(file: "f", env: nil, flag: nil, expected: "f", source: .file(path: "agent.json", key: "node_name")),
        .init(file: "f", env: "e", flag: nil, expected: "e", source: .environment("PUSHY_NODE_NAME")),
        .init(file: nil, env: "e", flag: nil, expected: "e", source: .environment("PUSHY_NODE_NAME")),
        .init(file: "f", env: "e", flag: "x", expected: "x", source: .flag("--node")),
        .init(file: "f", env: nil, flag: "x", expected: "x", source: .flag("--node")),
        .init(file: "f", env: "", flag: nil, expected: "f", source: .file(path: "agent.json", key: "node_name")),
    ]

    @Test(arguments: precedence) func aFlagBeatsTheEnvironmentWhichBeatsTheFile(_ row: Precedence) {
        let s = AgentSettings.resolve(
            flags: row.flag.map { ["node_name": .string($0)] } ?? [:],
            environment: row.env.map { ["PUSHY_NODE_NAME": $0] } ?? [:],
            file: .object(row.file.map { [("node_name", .string($0))] } ?? []), filePath: "agent.json")
        #expect(s.nodeName == row.expected)
        #expect(s.sources["node_name"] == row.source)
        #expect(s.readProblems.isEmpty)
    }

    @Test func everySingleValueHasItsEnvironmentVariable() throws {
        let env = [
            "PUSHY_SERVER_URL": Self.url, "PUSHY_NODE_NAME": "web1", "PUSHY_CLIENT_KEY": "/k.pem",
            "PUSHY_ENROLLMENT_TOKEN": "tok", "PUSHY_ENVIRONMENT": "prod", "PUSHY_FILE_DIR": "/var/pushy",
            "PUSHY_MAX_BODY_SIZE": "2048", "PUSHY_LOCKFILE": "/l", "PUSHY_ALLOW_UNENCRYPTED": "true",
            "PUSHY_TRUSTED_CERT": "/c.crt", "PUSHY_SSL_VERIFY_MODE": "verify_none", "PUSHY_LOG_LEVEL": "debug",
        ]
        let s = AgentSettings.resolve(environment: env)
        try s.validate()
        #expect(s.serverURL == Self.url && s.nodeName == "web1" && s.clientKey == "/k.pem")
        #expect(s.enrollmentToken == "tok" && s.environment == "prod" && s.fileDir == "/var/pushy")
        #expect(s.maxBodySize == 2048 && s.lockfile == "/l" && s.allowUnencrypted)
        #expect(s.trustedCert == "/c.crt" && !s.tls.verify && s.loggerLevel == .debug)
        #expect(s.sources.count == env.count)
    }

    @Test func theOldEnrolmentVariableStillWorks() {
        #expect(AgentSettings.resolve(environment: ["PUSHY_ENROLL_TOKEN": "old"]).enrollmentToken == "old")
        let both = AgentSettings.resolve(environment: ["PUSHY_ENROLL_TOKEN": "old", "PUSHY_ENROLLMENT_TOKEN": "new"])
        #expect(both.enrollmentToken == "new")
    }

    @Test func chefServerURLIsServerURLAndServerURLWins() {
        let chef = AgentSettings.resolve(file: ["chef_server_url": .string(Self.url)], filePath: "client.json")
        #expect(chef.serverURL == Self.url)
        #expect(chef.sources["server_url"] == .file(path: "client.json", key: "chef_server_url"))
        let both = AgentSettings.resolve(file: ["chef_server_url": "https://old/organizations/x", "server_url": .string(Self.url)])
        #expect(both.serverURL == Self.url)
    }

    @Test func flagsAddToTheFilesListsButReplaceTheAllowedEnvVars() {
        let file: JSONValue = [
            "roles": ["db"], "tags": ["blue"], "attributes": ["rack": "r1"],
            "whitelist": ["ok": "/bin/true", "lock-me": ["command_line": "chef-client", "lock": true]],
            "allowed_overwritable_env_vars": ["A", "B"],
        ]
        let flags: [String: JSONValue] = [
            "roles": ["web"], "tags": ["green"], "attributes": ["zone=z1"], "whitelist": ["/^echo (.*)$/=echo \\1"],
            "allowed_overwritable_env_vars": ["C"],
        ]
        let s = AgentSettings.resolve(flags: flags, file: file, filePath: "agent.json")
        #expect(s.readProblems.isEmpty)
        #expect(s.roles == ["db", "web"])
        #expect(s.tags == ["blue", "green"])
        #expect(s.attributes.map { "\($0.0)=\($0.1)" } == ["rack=r1", "zone=z1"])
        #expect(s.whitelist.map(\.commandLine) == ["/bin/true", "chef-client", "echo \\1"])
        #expect(s.whitelist[1].lock == .defaultLock)
        #expect(s.allowedOverwritableEnvVars == ["C"])
        #expect(s.sources["roles"] == .fileAndFlag(path: "agent.json", flag: "--role"))
        #expect(s.sources["allowed_overwritable_env_vars"] == .flag("--allowed-overwritable-env-var"))
    }

    @Test func nullInTheFileIsUnset() throws {
        let s = AgentSettings.resolve(flags: Self.complete, file: ["lockfile": nil, "allowed_overwritable_env_vars": nil])
        try s.validate()
        #expect(s.lockfile == nil && s.allowedOverwritableEnvVars == nil)
    }

    @Test func theSettingsBecomeTheRuntimesConfiguration() throws {
        var flags = Self.complete
        flags["whitelist"] = ["ok=/bin/true"]
        flags["roles"] = ["web"]
        flags["attributes"] = ["rack=r1"]
        flags["max_body_size"] = 4096
        flags["allow_unencrypted"] = true
        flags["ssl_verify_mode"] = "verify_none"
        flags["trusted_cert"] = "/c.crt"
        let c = try AgentSettings.resolve(flags: flags).configuration(key: AgentRig.nodeKey)
        #expect(c.serverURL == Self.url && c.orgName == "acme" && c.nodeName == "web1")
        #expect(c.whitelist.resolve("ok")?.commandLine == "/bin/true")
        #expect(c.whitelist.resolve("chef-client") == nil)
        #expect(c.roles == ["web"] && c.attributes.map { $0.0 } == ["rack"])
        #expect(c.maxBodySize == 4096 && c.allowUnencrypted)
        #expect(c.tls == .init(trustedCertificatePath: "/c.crt", verify: false))
        #expect(c.allowedOverwritableEnvVars == nil && c.lockFile == nil)
    }

    @Test func noWhitelistMeansChefClientOnly() throws {
        let c = try AgentSettings.resolve(flags: Self.complete).configuration(key: AgentRig.nodeKey)
        #expect(c.whitelist.resolve("chef-client")?.commandLine == "chef-client")
        #expect(c.whitelist.entries.count == 1)
    }

    @Test func theSummaryShowsEveryKeyAndHidesTheToken() {
        var flags = Self.complete
        flags["enrollment_token"] = "secret-token"
        let lines = AgentSettings.resolve(flags: flags, environment: ["PUSHY_LOG_LEVEL": "debug"]).summary
        #expect(lines.count == AgentSettings.keys.count)
        #expect(lines.contains("server_url = \"\(Self.url)\" (--server-url)"))
        #expect(lines.contains("log_level = \"debug\" ($PUSHY_LOG_LEVEL)"))
        #expect(lines.contains("max_body_size = 63000 (default)"))
        #expect(lines.contains("enrollment_token = (set) (--enroll-token)"))
        #expect(!lines.joined().contains("secret-token"))
    }

    @Test func aConfigFileThatCannotBeReadOrParsedIsAProblem() throws {
        let missing = AgentSettings.resolve(flags: Self.complete, configFile: "/nonexistent/agent.json")
        #expect(missing.readProblems == ["cannot read the config file /nonexistent/agent.json"])
        let path = NSTemporaryDirectory() + "pushy-agent-settings-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        _ = FileManager.default.createFile(atPath: path, contents: Data("{\"node_name\": ".utf8))
        let broken = AgentSettings.resolve(flags: Self.complete, configFile: path)
        #expect(broken.readProblems.first?.hasPrefix("config file \(path): invalid JSON") == true)
        _ = FileManager.default.createFile(atPath: path, contents: Data("{\"node_name\": \"web2\", \"roles\": [\"db\"]}".utf8))
        let good = AgentSettings.resolve(flags: ["roles": ["web"]], configFile: path)
        #expect(good.nodeName == "web2" && good.roles == ["db", "web"] && good.readProblems.isEmpty)
    }

    /// Every key is documented once, in docs/agent.md, with its flag.
    @Test func docsAgentListsEveryKey() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let doc = try String(contentsOf: repo.appendingPathComponent("docs/agent.md"), encoding: .utf8)
        for key in AgentSettings.keys {
            let row = doc.split(separator: "\n").first { $0.hasPrefix("| `\(key.name)`") }
            #expect(row != nil, "docs/agent.md has no row for \(key.name)")
            #expect(row?.contains("`\(key.flag)") == true, "the row of \(key.name) does not name \(key.flag)")
            for variable in key.environmentVariables {
                #expect(row?.contains(variable) == true, "the row of \(key.name) does not name \(variable)")
            }
        }
    }

    /// The key table carries each default, read off `AgentSettings()` (issue 15 point 4).
    @Test func everyKeyHasItsDefault() {
        let defaults = Dictionary(uniqueKeysWithValues: AgentSettings.keys.map { ($0.name, $0.defaultText) })
        #expect(defaults["server_url"] == "(required)")
        #expect(defaults["environment"] == "_default")
        #expect(defaults["max_body_size"] == "63000")
        #expect(defaults["allow_unencrypted"] == "false")
        #expect(defaults["ssl_verify_mode"] == "verify_peer")
        #expect(defaults["trusted_cert"] == "(none)")
        #expect(defaults["log_level"] == "info")
        #expect(defaults.values.allSatisfy { !$0.isEmpty })
    }
}
