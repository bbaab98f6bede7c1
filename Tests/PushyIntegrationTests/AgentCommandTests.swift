import Foundation
import PushyTestSupport
import Testing

/// The real `pushy-client` binary's settings: every flag lands on its key, environment
/// variables and the config file fill the rest, and bad settings stop it with every problem
/// listed (`--check-config` exits 1; a normal start exits 64 before connecting anywhere).
@Suite(.timeLimit(.minutes(1))) struct AgentCommandTests {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
        /// The `--check-config` line of `key`.
        func line(_ key: String) -> String? { stdout.split(separator: "\n").first { $0.hasPrefix(key + " = ") }.map(String.init) }
    }

    let dir = NSTemporaryDirectory() + "pushy-agent-command-\(UUID().uuidString)"

    func client(_ args: [String], env: [String: String] = [:], sourceLocation: SourceLocation = #_sourceLocation) async throws -> Run {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // Only what the test gives: no PUSHY_* of the machine running the tests.
        let environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PUSHY_") }.merging(env) { $1 }
        let r = try await ProcessRun(Command(TestCluster.binary("pushy-client"), args, environment: environment), name: "pushy-client " + args.joined(separator: " ")).wait(within: .seconds(30), sourceLocation: sourceLocation)
        return Run(status: r.status, stdout: r.stdoutText, stderr: r.stderrText)
    }

    func write(_ name: String, _ text: String) -> String {
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/" + name
        _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return path
    }

    @Test func everyFlagSetsItsKey() async throws {
        let key = write("web1.pem", "not checked by --check-config beyond being readable")
        let cert = write("tls.crt", "")
        let r = try await client([
            "--check-config", "-S", "https://pushy.test/organizations/acme", "-N", "web1", "-k", key,
            "--enroll-token", "tok", "--whitelist", "ok=/bin/true", "--role", "web", "--environment", "prod",
            "--tag", "blue", "--attribute", "rack=r1", "-d", dir + "/jobs", "--allowed-overwritable-env-var", "A",
            "-M", "2048", "--lockfile", dir + "/lock", "--allow-unencrypted", "--trusted-cert", cert, "--insecure",
            "--log-level", "debug",
        ])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let expected = [
            "server_url = \"https://pushy.test/organizations/acme\" (--server-url)",
            "node_name = \"web1\" (--node)", "client_key = \"\(key)\" (--key)", "enrollment_token = (set) (--enroll-token)",
            "whitelist = {\"ok\": \"/bin/true\"} (--whitelist)", "roles = [\"web\"] (--role)",
            "environment = \"prod\" (--environment)", "tags = [\"blue\"] (--tag)",
            "attributes = {\"rack\": \"r1\"} (--attribute)", "file_dir = \"\(dir)/jobs\" (--file-dir)",
            "allowed_overwritable_env_vars = [\"A\"] (--allowed-overwritable-env-var)",
            "max_body_size = 2048 (--max-body-size)", "lockfile = \"\(dir)/lock\" (--lockfile)",
            "allow_unencrypted = true (--allow-unencrypted)", "trusted_cert = \"\(cert)\" (--trusted-cert)",
            "ssl_verify_mode = \"verify_none\" (--insecure)", "log_level = \"debug\" (--log-level)",
        ]
        #expect(r.stdout.split(separator: "\n").map(String.init) == expected)
        try? FileManager.default.removeItem(atPath: dir)
    }

    @Test func theEnvironmentBeatsTheFileAndFlagsAddToItsLists() async throws {
        let key = write("web1.pem", "x")
        let config = write("agent.json", """
            {"chef_server_url": "https://pushy.test/organizations/acme", "node_name": "from-file", "client_key": "\(key)",
             "roles": ["db"], "max_body_size": 4096}
            """)
        let r = try await client(["-c", config, "--role", "web", "--check-config"], env: ["PUSHY_NODE_NAME": "from-env"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.line("server_url") == "server_url = \"https://pushy.test/organizations/acme\" (chef_server_url in \(config))")
        #expect(r.line("node_name") == "node_name = \"from-env\" ($PUSHY_NODE_NAME)")
        #expect(r.line("roles") == "roles = [\"db\", \"web\"] (\(config) and --role)")
        #expect(r.line("max_body_size") == "max_body_size = 4096 (max_body_size in \(config))")
        try? FileManager.default.removeItem(atPath: dir)
    }

    @Test func checkConfigListsEveryProblemAndExits1() async throws {
        let config = write("agent.json", """
            {"server_url": "https://pushy.test", "node_nmae": "web1", "max_body_size": "big", "whitelist": {"x": ""}}
            """)
        let r = try await client(["-c", config, "-k", dir + "/missing.pem", "--check-config"])
        #expect(r.status == 1)
        #expect(r.line("server_url") != nil, "the settings are printed too")
        for problem in [
            "unknown key 'node_nmae' in \(config) (did you mean node_name?)",
            "max_body_size in \(config): expected a whole number, got \"big\"",
            "whitelist in \(config): whitelist entry 'x' has an empty command line",
            "server_url = 'https://pushy.test' (server_url in \(config)): must contain /organizations/ORG",
            "missing node_name", "client_key \(dir)/missing.pem cannot be read",
        ] {
            #expect(r.stderr.contains(problem), "missing '\(problem)' in: \(r.stderr)")
        }
        try? FileManager.default.removeItem(atPath: dir)
    }

    @Test func aStartWithBadSettingsExits64WithEveryProblem() async throws {
        let r = try await client(["--max-body-size", "10", "--log-level", "loud"], env: ["PUSHY_SERVER_URL": "https://pushy.test/organizations/acme"])
        #expect(r.status == 64)
        #expect(r.stderr.hasPrefix("pushy-client: invalid settings:"), "stderr: \(r.stderr)")
        #expect(r.stderr.components(separatedBy: "\n  - ").count - 1 == 4, "stderr: \(r.stderr)")
        for problem in ["missing node_name", "missing client_key", "max_body_size = 10 (--max-body-size)", "log_level = 'loud'"] {
            #expect(r.stderr.contains(problem), "missing '\(problem)' in: \(r.stderr)")
        }
        try? FileManager.default.removeItem(atPath: dir)
    }
}
