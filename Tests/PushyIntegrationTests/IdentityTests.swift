import Foundation
import PushyAPIClient
import PushyProtocol
import Testing

/// The CLI for users, groups, tokens, orgs and the audit log, against a real server; the peer
/// address the audit log records is the socket's. (The rules themselves are tested at router
/// level: `IdentityAPITests` in PushyServerTests.)
@Suite(.serialized, .timeLimit(.minutes(5))) struct IdentityTests {
    static func client(_ c: TestCluster, _ user: String, _ key: RSAPrivateKey, org: String = "pushy") throws -> PushyRESTClient {
        let base = String(c.orgURL.dropLast("/organizations/pushy".count))
        return try PushyRESTClient(orgURL: base + "/organizations/\(org)", userId: user, key: key, tls: c.tls)
    }

    static func loadKey(_ path: String) throws -> RSAPrivateKey {
        try RSAPrivateKey(pemRepresentation: try String(contentsOfFile: path, encoding: .utf8))
    }

    /// The real `pushy` binary, with the environment `CLITests` sets up (admin's key).
    struct CLI {
        let c: TestCluster
        func pushy(_ args: [String]) async throws -> CLITests.Run { try await CLITests().pushy(c, args) }
    }

    @Test func theCLIManagesUsersGroupsTokensAndShowsTheAuditLog() async throws {
        let c = try await TestCluster()
        let cli = CLI(c: c)
        let keyPath = c.dataDir + "/carol.pem"
        let created = try await cli.pushy(["user", "create", "carol", "--key-out", keyPath, "--admin"])
        #expect(created.status == 0, "\(created.stderr)")
        let mode = try FileManager.default.attributesOfItem(atPath: keyPath)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        // Carol's key works and she is an admin.
        let carol = try Self.client(c, "carol", try Self.loadKey(keyPath))
        #expect(try await carol.group("admins").users.contains("carol"))

        #expect(try await cli.pushy(["user", "list"]).stdout == "admin\ncarol\n")
        #expect(try await cli.pushy(["group", "add", "pushy_job_readers", "user", "carol"]).status == 0)
        let show = try await cli.pushy(["group", "show", "pushy_job_readers", "--format", "json"])
        #expect(try JSONValue.parse(show.stdout)["users"] == ["carol"])
        #expect(try await cli.pushy(["group", "add", "pushy_job_readers", "robot", "x"]).status == 2)
        #expect(try await cli.pushy(["group", "remove", "pushy_job_readers", "user", "carol"]).status == 0)
        #expect(try await cli.pushy(["group", "list"]).stdout == "admins\npushy_job_readers\n")

        let token = try await cli.pushy(["token", "create", "--expires", "10m"])
        #expect(token.status == 0)
        #expect(token.stdout.trimmingCharacters(in: .whitespacesAndNewlines).count == 64)
        #expect(try await cli.pushy(["token", "create", "--expires", "soon"]).status == 2)

        #expect(try await cli.pushy(["org", "create", "acme"]).status == 0)
        #expect(try await cli.pushy(["org", "list"]).stdout == "acme\npushy\n")
        #expect(try await cli.pushy(["org", "delete", "acme"]).status == 0)
        let notAllowed = try await cli.pushy(["--user", "carol", "--key", keyPath, "org", "list"])
        #expect(notAllowed.status == 1)
        #expect(notAllowed.stderr.contains("does not have access"))

        let audit = try await cli.pushy(["audit", "--format", "json"])
        let entries = try JSONValue.parse(audit.stdout).arrayValue ?? []
        #expect(entries.compactMap { $0["action"]?.stringValue }.prefix(3) == ["org.deleted", "org.created", "token.created"])
        // Each entry records the peer the request came from.
        #expect(!entries.isEmpty && entries.allSatisfy { $0["remote_address"]?.stringValue == "127.0.0.1" })
        #expect(try await cli.pushy(["user", "delete", "carol"]).status == 0)
        await c.shutdown()
    }
}
