import ArgumentParser
import Foundation
import PushyAPIClient
import Testing
@testable import PushyCLI

/// Where the CLI finds the server, the user and the key: flags, then environment, then the
/// config file (PUSHY_CONFIG or ~/.pushy/config.json, paths in it relative to its folder).
/// Every case runs with HOME in a temporary folder, so a real ~/.pushy never counts.
@Suite(.timeLimit(.minutes(1))) struct CLIConfigTests {
    func options(_ args: [String]) throws -> ConnectionOptions {
        try ConnectionOptions.parse(args)
    }

    func resolve(_ args: [String], _ env: [String: String], home: TemporaryFolder) throws(CLIFailure) -> CLIConfig {
        let o: ConnectionOptions
        do { o = try options(args) } catch { throw .usage("bad test arguments \(args)") }
        var env = env
        env["HOME"] = home.path
        return try CLIConfig.resolve(o, environment: env)
    }

    @Test func flagsWinOverEnvironmentAndFile() throws {
        let home = try TemporaryFolder()
        defer { home.remove() }
        try FileManager.default.createDirectory(atPath: home.path + "/.pushy", withIntermediateDirectories: true)
        try home.write(".pushy/config.json", #"{"server_url": "https://file/organizations/f", "user": "file-user", "key": "file.pem"}"#)
        let env = ["PUSHY_SERVER_URL": "https://env/organizations/e", "PUSHY_USER": "env-user", "PUSHY_KEY": "/env.pem"]

        let flags = try resolve(["--server-url", "https://flag/organizations/x", "--user", "flag-user", "--key", "/flag.pem"],
                                env, home: home)
        #expect(flags.serverURL == "https://flag/organizations/x")
        #expect(flags.user == "flag-user")
        #expect(flags.keyPath == "/flag.pem")

        let fromEnv = try resolve([], env, home: home)
        #expect(fromEnv.serverURL == "https://env/organizations/e" && fromEnv.user == "env-user" && fromEnv.keyPath == "/env.pem")

        // The default file fills what flags and environment leave out; its key is relative to its folder.
        let mixed = try resolve(["--user", "flag-user"], [:], home: home)
        #expect(mixed.serverURL == "https://file/organizations/f")
        #expect(mixed.user == "flag-user")
        #expect(mixed.keyPath == home.path + "/.pushy/file.pem")
        #expect(mixed.tls == ClientTLS(trustedCertificatePath: nil, verify: true))
    }

    @Test func emptyValuesCountAsMissing() throws {
        let home = try TemporaryFolder()
        defer { home.remove() }
        let c = try resolve(["--server-url", "", "--user", "u", "--key", "/k"],
                            ["PUSHY_SERVER_URL": "https://env/organizations/e"], home: home)
        #expect(c.serverURL == "https://env/organizations/e")
    }

    @Test func explicitConfigFile() throws {
        let home = try TemporaryFolder()
        defer { home.remove() }
        let data = try TemporaryFolder()
        defer { data.remove() }
        let path = try data.write("cli.json", #"""
            {"server_url": "https://127.0.0.1:10003/organizations/pushy", "user": "admin",
             "key": "admin.pem", "trusted_cert": "tls.crt"}
            """#)
        for (args, env) in [(["--config", path], [String: String]()), ([], ["PUSHY_CONFIG": path])] {
            let c = try resolve(args, env, home: home)
            #expect(c.serverURL == "https://127.0.0.1:10003/organizations/pushy")
            #expect(c.user == "admin")
            #expect(c.keyPath == data.path + "/admin.pem")
            #expect(c.tls == ClientTLS(trustedCertificatePath: data.path + "/tls.crt", verify: true))
        }
        // Flags and environment still win over the file's values; --config wins over PUSHY_CONFIG.
        let other = try data.write("other.json", #"{"server_url": "https://other/organizations/o", "user": "o", "key": "/o.pem"}"#)
        let c = try resolve(["--config", other, "--trusted-cert", "~/mine.crt"],
                            ["PUSHY_CONFIG": path, "PUSHY_USER": "env-user"], home: home)
        #expect(c.serverURL == "https://other/organizations/o")
        #expect(c.user == "env-user")
        #expect(c.keyPath == "/o.pem")
        #expect(c.tls.trustedCertificatePath == home.path + "/mine.crt")
    }

    @Test(arguments: [(["--insecure"], [String: String]()), ([], ["PUSHY_INSECURE": "1"])])
    func insecure(_ args: [String], _ env: [String: String]) throws {
        let home = try TemporaryFolder()
        defer { home.remove() }
        var all = env
        all["PUSHY_TRUSTED_CERT"] = "~/ca.pem"
        let c = try resolve(args + ["--server-url", "https://h/organizations/o", "--user", "u", "--key", "~/k.pem"], all, home: home)
        #expect(c.tls == ClientTLS(trustedCertificatePath: home.path + "/ca.pem", verify: false))
        #expect(c.keyPath == home.path + "/k.pem")
    }

    @Test(arguments: [
        ([] as [String], "no server URL, user, key configured: "),
        (["--user", "u"], "no server URL, key configured: "),
        (["--server-url", "https://h/organizations/o", "--user", "u"], "no key configured: "),
    ])
    func missingSettingsNameWhatIsMissing(_ args: [String], _ message: String) throws {
        let home = try TemporaryFolder()
        defer { home.remove() }
        do {
            _ = try resolve(args, [:], home: home)
            Issue.record("resolved")
        } catch {
            #expect(error.code == CLIFailure.usageCode)
            #expect(error.message == message + CLIConfig.hint)
        }
    }

    @Test func badConfigFiles() throws {
        let home = try TemporaryFolder()
        defer { home.remove() }
        let notJSON = try home.write("bad.json", "{server_url")
        let array = try home.write("array.json", "[1]")
        let cases: [(String, String)] = [
            (home.path + "/missing.json", "config file \(home.path)/missing.json does not exist: \(CLIConfig.hint)"),
            (notJSON, "config file \(notJSON) is not valid JSON: "),
            (array, "config file \(array) must be a JSON object like "),
        ]
        for (path, message) in cases {
            do {
                _ = try resolve(["--config", path], [:], home: home)
                Issue.record("resolved \(path)")
            } catch {
                #expect(error.code == CLIFailure.usageCode)
                #expect(error.message.hasPrefix(message), "\(error.message)")
            }
        }
    }

    @Test(arguments: [
        ("/abs/key.pem", nil as String?, "/abs/key.pem"),
        ("key.pem", "/etc/pushy", "/etc/pushy/key.pem"),
        ("sub/key.pem", "/etc/pushy", "/etc/pushy/sub/key.pem"),
        ("~/key.pem", "/etc/pushy", "/home/op/key.pem"),
        ("~", nil, "/home/op"),
        ("key.pem", nil, "key.pem"),
    ])
    func expand(_ path: String, _ dir: String?, _ expected: String) {
        #expect(CLIConfig.expand(path, relativeTo: dir, home: "/home/op") == expected)
    }

    @Test func unreadableKeyIsAUsageError() throws {
        let c = CLIConfig(serverURL: "https://h/organizations/o", user: "alice", keyPath: "/nonexistent/alice.pem")
        do {
            _ = try c.makeClient()
            Issue.record("made a client")
        } catch let error as CLIFailure {
            #expect(error.code == CLIFailure.usageCode)
            #expect(error.message.hasPrefix("cannot read the private key /nonexistent/alice.pem for user 'alice': "))
        }
        let home = try TemporaryFolder()
        defer { home.remove() }
        let bad = try home.write("bad.pem", "not a key")
        do {
            _ = try CLIConfig(serverURL: "https://h/organizations/o", user: "alice", keyPath: bad).makeClient()
            Issue.record("made a client")
        } catch let error as CLIFailure {
            #expect(error.code == CLIFailure.usageCode)
            #expect(error.message.hasPrefix("the key file \(bad) is unusable: "))
        }
    }

    @Test(arguments: [
        (PushyClientError.invalidServerURL("x"), CLIFailure.usageCode),
        (.signing("x"), CLIFailure.usageCode),
        (.unreachable(url: "u", reason: "r"), CLIFailure.failureCode),
        (.http(status: 403, message: "m", url: "u"), CLIFailure.failureCode),
        (.invalidResponse("x"), CLIFailure.failureCode),
    ])
    func exitCodes(_ error: PushyClientError, _ code: Int32) {
        #expect(CLIFailure.exitCode(for: error) == code)
    }
}

/// A trusted certificate that is not there is named with where its path came from and how to
/// fix it, before any request (issue 15's rough edge: it used to read "cannot sign the request").
@Suite(.timeLimit(.minutes(1))) struct TrustedCertificateMessageTests {
    @Test func aMissingCertificateFromTheConfigFileNamesTheFileAndTheKey() throws {
        let home = try TemporaryFolder()
        defer { home.remove() }
        try FileManager.default.createDirectory(atPath: home.path + "/.pushy", withIntermediateDirectories: true)
        try home.write(".pushy/config.json", #"{"server_url": "https://h/organizations/o", "user": "u", "key": "/k.pem", "trusted_cert": "gone.crt"}"#)
        let o = try ConnectionOptions.parse([])
        let c = try CLIConfig.resolve(o, environment: ["HOME": home.path])
        #expect(c.trustedSource == "trusted_cert in \(home.path)/.pushy/config.json")
        do {
            _ = try c.makeClient()
            Issue.record("expected a failure")
        } catch let e as CLIFailure {
            let m = "\(e)"
            #expect(m.contains("the trusted certificate \(home.path)/.pushy/gone.crt (from trusted_cert in \(home.path)/.pushy/config.json) does not exist"), "\(m)")
            #expect(m.contains("change trusted_cert in \(home.path)/.pushy/config.json to name the server's certificate"), "\(m)")
            #expect(m.contains("--trusted-cert PATH") && m.contains("DATA_DIR/tls.crt"), "\(m)")
            #expect(!m.contains("cannot sign"), "\(m)")
        }
    }

    @Test(arguments: [(["--trusted-cert", "/nowhere/a.crt"], [String: String](), "--trusted-cert"),
                      ([], ["PUSHY_TRUSTED_CERT": "/nowhere/a.crt"], "PUSHY_TRUSTED_CERT")])
    func aMissingCertificateFromAFlagOrVariableNamesIt(_ args: [String], _ env: [String: String], _ source: String) throws {
        let home = try TemporaryFolder()
        defer { home.remove() }
        var all = env
        all["HOME"] = home.path
        let o = try ConnectionOptions.parse(args + ["--server-url", "https://h/organizations/o", "--user", "u", "--key", "/k.pem"])
        let c = try CLIConfig.resolve(o, environment: all)
        #expect(throws: CLIFailure.self) { _ = try c.makeClient() }
        do { _ = try c.makeClient() } catch {
            #expect("\(error)".contains("/nowhere/a.crt (from \(source)) does not exist"), "\(error)")
        }
    }
}
