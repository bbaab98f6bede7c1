import PushyAgent
import PushyProtocol
import Testing

/// `validate()`: every problem at once, each naming the key, where its value came from and
/// what is allowed.
@Suite(.timeLimit(.minutes(1))) struct AgentSettingsValidationTests {
    static let complete = AgentSettingsTests.complete

    /// Problems of `resolve(flags: complete + flags, file: file)`.
    static func problems(flags: [String: JSONValue] = [:], env: [String: String] = [:], file: JSONValue? = nil) -> [String] {
        let s = AgentSettings.resolve(flags: complete.merging(flags) { $1 }, environment: env, file: file, filePath: "agent.json")
        do {
            try s.validate()
            return []
        } catch {
            return error.problems
        }
    }

    @Test func completeSettingsAreValid() {
        #expect(Self.problems().isEmpty)
    }

    /// Several servers of one database (issue 17): a comma-separated list of org URLs of one org.
    @Test func serverURLMayListSeveralServersOfOneOrg() {
        let both = "https://a:10003/organizations/pushy, https://b:10003/organizations/pushy"
        #expect(Self.problems(flags: ["server_url": .string(both)]).isEmpty)
        #expect(AgentConfiguration.urls(in: both) == ["https://a:10003/organizations/pushy", "https://b:10003/organizations/pushy"])
        #expect(AgentConfiguration.orgName(in: both) == "pushy")
        let mixed = Self.problems(flags: ["server_url": "https://a:10003/organizations/pushy,https://b:10003/organizations/other"])
        #expect(mixed.count == 1 && mixed[0].contains("must name the same organization"), "\(mixed)")
        let bad = Self.problems(flags: ["server_url": "https://a:10003/organizations/pushy,https://b:10003/"])
        #expect(bad.count == 1 && bad[0].contains("each URL of a comma-separated list"), "\(bad)")
    }

    @Test func theThreeRequiredKeysAreReportedTogetherWithHowToGiveThem() throws {
        let s = AgentSettings.resolve()
        let error = try #require(throws: AgentSettingsError.self) { try s.validate() }
        #expect(error.problems.count == 3)
        #expect(error.problems[0].hasPrefix("missing server_url: the org URL, e.g. https://127.0.0.1:10003/organizations/pushy"))
        #expect(error.problems[1].contains("--node NAME, $PUSHY_NODE_NAME or node_name"))
        #expect(error.problems[2].contains("'pushy client create NODE --key-out NODE.pem'"))
        #expect(error.description.hasPrefix("invalid settings:\n  - missing server_url"))
    }

    /// One bad value per row and the problem it must produce (a part of it).
    struct Row: Sendable, CustomTestStringConvertible {
        let name: String
        var flags: [String: JSONValue] = [:]
        var env: [String: String] = [:]
        var file: JSONValue?
        let problem: String
        var testDescription: String { name }
    }

    static let rows: [Row] = [
        Row(name: "URL without org", flags: ["server_url": "https://pushy.test/"],
            problem: "server_url = 'https://pushy.test/' (--server-url): must contain /organizations/ORG"),
        Row(name: "small max_body_size", flags: ["max_body_size": 100],
            problem: "max_body_size = 100 (--max-body-size): must be at least 1024 bytes"),
        Row(name: "small max_body_size from env", env: ["PUSHY_MAX_BODY_SIZE": "10"],
            problem: "max_body_size = 10 ($PUSHY_MAX_BODY_SIZE): must be at least 1024 bytes"),
        Row(name: "bad whitelist flag", flags: ["whitelist": ["no-equals-sign"]],
            problem: "--whitelist: whitelist entry 'no-equals-sign': expected NAME=COMMAND LINE"),
        Row(name: "bad whitelist regex", flags: ["whitelist": ["/(unclosed/=x"]], problem: "whitelist (--whitelist):"),
        Row(name: "bad whitelist object", file: ["whitelist": ["x": ["command_line": "y", "lok": true]]],
            problem: "whitelist in agent.json: whitelist entry 'x': unknown key 'lok'"),
        Row(name: "bad attribute flag", flags: ["attributes": ["rack"]], problem: "--attribute 'rack': expected KEY=VALUE"),
        Row(name: "attribute without key", flags: ["attributes": ["=r1"]], problem: "--attribute '=r1': expected KEY=VALUE"),
        Row(name: "attribute not a string", file: ["attributes": ["rack": 3]],
            problem: "attributes in agent.json: the value of 'rack' must be a string, got 3"),
        Row(name: "bad log level", flags: ["log_level": "loud"],
            problem: "log_level = 'loud' (--log-level): must be one of trace, debug, info"),
        Row(name: "bad ssl_verify_mode", file: ["ssl_verify_mode": "verify_maybe"],
            problem: "ssl_verify_mode = 'verify_maybe' (ssl_verify_mode in agent.json): must be verify_peer or verify_none"),
        Row(name: "empty role", flags: ["roles": [""]], problem: "roles (--role): entries must not be empty"),
        Row(name: "unknown key", file: ["node_nmae": "web1"], problem: "unknown key 'node_nmae' in agent.json (did you mean node_name?)"),
        Row(name: "unknown key, alias suggested", file: ["chef_server_uri": "x"],
            problem: "unknown key 'chef_server_uri' in agent.json (did you mean chef_server_url?)"),
        Row(name: "unknown key, nothing close", file: ["colour": "blue"], problem: "unknown key 'colour' in agent.json"),
        Row(name: "string for a number", file: ["max_body_size": "big"],
            problem: "max_body_size in agent.json: expected a whole number, got \"big\""),
        Row(name: "fraction for a number", file: ["max_body_size": 1500.5],
            problem: "max_body_size in agent.json: expected a whole number, got 1500.5"),
        Row(name: "string for a bool", file: ["allow_unencrypted": "yes"],
            problem: "allow_unencrypted in agent.json: expected true or false, got \"yes\""),
        Row(name: "number for a string", file: ["environment": 7],
            problem: "environment in agent.json: expected a string, got 7"),
        Row(name: "string for a list", file: ["roles": "web"],
            problem: "roles in agent.json: expected a list of strings, got \"web\""),
        Row(name: "list of numbers", file: ["allowed_overwritable_env_vars": [1, 2]],
            problem: "allowed_overwritable_env_vars in agent.json: expected a list of strings, got [1,2]"),
        Row(name: "number for the whitelist", file: ["whitelist": 1],
            problem: "whitelist in agent.json: expected an object of command names to command lines"),
        Row(name: "env not a number", env: ["PUSHY_MAX_BODY_SIZE": "lots"],
            problem: "$PUSHY_MAX_BODY_SIZE = 'lots': expected a whole number"),
        Row(name: "env not a bool", env: ["PUSHY_ALLOW_UNENCRYPTED": "maybe"],
            problem: "$PUSHY_ALLOW_UNENCRYPTED = 'maybe': expected true or false"),
        Row(name: "file not an object", file: ["a", "b"], problem: "agent.json: expected a JSON object of settings"),
    ]

    @Test(arguments: rows) func aBadValueIsNamedWithItsSource(_ row: Row) {
        let problems = Self.problems(flags: row.flags, env: row.env, file: row.file)
        #expect(problems.count == 1, "\(problems)")
        #expect(problems.first?.contains(row.problem) == true, "\(problems)")
        if row.problem.hasPrefix("unknown key 'colour'") { #expect(problems.first?.contains("did you mean") == false) }
    }

    @Test func everyProblemIsListedAtOnce() {
        let problems = Self.problems(
            flags: ["server_url": "https://pushy.test", "attributes": ["oops"]], env: ["PUSHY_LOG_LEVEL": "shout"],
            file: ["max_body_size": 10, "whitelits": ["a": "b"], "tags": [1]])
        #expect(problems.count == 6, "\(problems)")
        // What reading found comes first (file keys, then types per key), then the values' checks.
        #expect(problems.first?.hasPrefix("unknown key 'whitelits'") == true)
        #expect(problems.first?.hasSuffix("(did you mean whitelist?)") == true)
        #expect(problems.contains { $0.hasPrefix("server_url = ") })
        #expect(problems.contains { $0.hasPrefix("max_body_size = 10") })
        #expect(problems.contains { $0.hasPrefix("log_level = 'shout'") })
        #expect(problems.contains { $0.hasPrefix("tags in agent.json") })
        #expect(problems.contains { $0.hasPrefix("--attribute 'oops'") })
    }

    @Test func fileProblemsNameAMissingKeyOnlyWithoutAToken() {
        var s = AgentSettings.resolve(flags: Self.complete.merging(["client_key": "/nonexistent/web1.pem"]) { $1 })
        #expect(s.fileProblems() == ["client_key /nonexistent/web1.pem cannot be read, and no enrollment_token is given to make it"])
        s.enrollmentToken = "tok"
        #expect(s.fileProblems().isEmpty)
        s.trustedCert = "/nonexistent/tls.crt"
        #expect(s.fileProblems() == ["trusted_cert /nonexistent/tls.crt cannot be read"])
    }
}
