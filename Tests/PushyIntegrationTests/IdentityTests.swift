import Foundation
import PushyAPIClient
import PushyProtocol
@testable import PushyServer
import PushyStore
import Testing

/// Groups, org scoping, enrolment, the audit log and the CLI for them, against a real server.
/// Serialized: each test runs a server in this process, and the machines running the suite may
/// have two cores.
@Suite(.serialized, .timeLimit(.minutes(5))) struct IdentityTests {
    static func client(_ c: TestCluster, _ user: String, _ key: RSAPrivateKey, org: String = "pushy") throws -> PushyRESTClient {
        let base = String(c.orgURL.dropLast("/organizations/pushy".count))
        return try PushyRESTClient(orgURL: base + "/organizations/\(org)", userId: user, key: key, tls: c.tls)
    }

    /// Creates a user with a fresh key and returns a client signing as it.
    static func user(_ c: TestCluster, _ name: String, admin: Bool = false, org: String = "pushy") async throws -> PushyRESTClient {
        let key = try RSAPrivateKey.generate()
        try await client(c, "admin", try MatrixWorld.loadKey(c.dataDir + "/admin.pem"), org: org)
            .createUser(name: name, publicKeyPEM: key.publicKey.pemRepresentation, admin: admin)
        return try client(c, name, key, org: org)
    }

    static func status(_ body: () async throws -> Void) async -> Int? {
        do {
            try await body()
            return 200
        } catch let e as PushyClientError {
            return e.status
        } catch {
            return nil
        }
    }

    static let job = try! JobRequest.parse(Array(#"{"command":"ok","nodes":["web1"]}"#.utf8))

    @Test func withoutJobGroupsReadersAreAllMembersAndWritersAreAdmins() async throws {
        let c = try await TestCluster()
        try await c.createNode("web1")
        let mel = try await Self.user(c, "mel")
        let alice = try await Self.user(c, "alice", admin: true)
        #expect(await Self.status { _ = try await mel.jobs() } == 200)
        #expect(await Self.status { _ = try await mel.startJob(Self.job) } == 403)
        #expect(await Self.status { _ = try await alice.startJob(Self.job) } == 200)

        // Once pushy_job_writers exists, admins no longer write unless nested in it.
        try await c.admin.addGroupMember(group: "pushy_job_writers", type: "user", name: "mel")
        #expect(await Self.status { _ = try await mel.startJob(Self.job) } == 200)
        #expect(await Self.status { _ = try await alice.startJob(Self.job) } == 403)
        try await c.admin.addGroupMember(group: "pushy_job_writers", type: "group", name: "admins")
        #expect(await Self.status { _ = try await alice.startJob(Self.job) } == 200)
        // Deleting the group restores the fallback.
        try await c.admin.deleteGroup("pushy_job_writers")
        #expect(await Self.status { _ = try await mel.startJob(Self.job) } == 403)

        // A deleted and re-created user does not inherit the old memberships.
        try await c.admin.deleteUser(name: "alice")
        let alice2 = try await Self.user(c, "alice")
        #expect(await Self.status { _ = try await alice2.startJob(Self.job) } == 403)
        await c.shutdown()
    }

    @Test func rulesFollowNestedGroupsThroughCyclesAndDenyWithoutAnyGroup() {
        let rules = AccessRules(groups: [
            GroupRecord(org: "o", name: "a", members: [GroupMember(.group, "b")]),
            GroupRecord(org: "o", name: "b", members: [GroupMember(.group, "a"), GroupMember(.group, "c")]),
            GroupRecord(org: "o", name: "c", members: [GroupMember(.client, "web1")]),
        ])
        #expect(rules.isMember(GroupMember(.client, "web1"), of: "a"))
        #expect(!rules.isMember(GroupMember(.user, "web1"), of: "a"))
        #expect(!rules.isMember(GroupMember(.client, "web2"), of: "a"))
        // No admins and no writers group: nobody writes; no readers group: everybody reads.
        #expect(!rules.canWrite(GroupMember(.client, "web1")))
        #expect(rules.canRead(GroupMember(.user, "anyone")))
    }

    @Test func anotherOrgsJobOutputFeedAndNodeAre404() async throws {
        let c = try await TestCluster()
        try await c.createNode("web1")
        try await c.admin.reportNode(NodeReport(name: "web1"))
        let id = try await c.admin.startJob(Self.job)
        try await c.admin.createOrganization(name: "other")
        let olgaKey = try RSAPrivateKey.generate()
        try await Self.client(c, "admin", try MatrixWorld.loadKey(c.dataDir + "/admin.pem"), org: "other")
            .createUser(name: "olga", publicKeyPEM: olgaKey.publicKey.pemRepresentation, admin: true)
        let olga = try Self.client(c, "olga", olgaKey, org: "other")

        // Olga is an admin in her own org; pushy's job, output, feed and node do not exist there.
        #expect(await Self.status { _ = try await olga.job(id) } == 404)
        #expect(await Self.status { _ = try await olga.abortJob(id) } == 404)
        #expect(await Self.status { _ = try await olga.jobOutput(id: id, node: "web1") } == 404)
        #expect(await Self.status {
            _ = try await olga.send("GET", "pushy/job_status_feed/\(id)", accept: "text/event-stream")
        } == 404)
        #expect(await Self.status { _ = try await olga.send("GET", "nodes/web1") } == 404)
        #expect(try await olga.jobs().isEmpty)
        #expect(try await olga.searchNodes("*:*").isEmpty)
        // In pushy's org she is nobody.
        let olgaInPushy = try Self.client(c, "olga", olgaKey)
        #expect(await Self.status { _ = try await olgaInPushy.jobs() } == 403)
        // The superuser acts in every org.
        let superInOther = try Self.client(c, "admin", try MatrixWorld.loadKey(c.dataDir + "/admin.pem"), org: "other")
        #expect(try await superInOther.jobs().isEmpty)
        await c.shutdown()
    }

    @Test func groupChangesAreCheckedAndProtectTheWayIn() async throws {
        let c = try await TestCluster()
        let alice = try await Self.user(c, "alice", admin: true)
        try await c.admin.addGroupMember(group: "ops", type: "user", name: "alice")
        try await c.admin.addGroupMember(group: "pushy_job_readers", type: "group", name: "ops")
        // ops → readers exists, so readers → ops would be a cycle; so would a group in itself.
        #expect(await Self.status { try await c.admin.addGroupMember(group: "ops", type: "group", name: "pushy_job_readers") } == 400)
        #expect(await Self.status { try await c.admin.addGroupMember(group: "ops", type: "group", name: "ops") } == 400)
        #expect(await Self.status { try await c.admin.addGroupMember(group: "ops", type: "user", name: "ghost") } == 404)
        #expect(await Self.status { try await c.admin.addGroupMember(group: "ops", type: "client", name: "alice") } == 404)
        #expect(await Self.status { try await c.admin.removeGroupMember(group: "ops", type: "user", name: "ghost") } == 404)
        #expect(await Self.status { try await c.admin.deleteGroup("admins") } == 409)
        #expect(await Self.status { try await alice.deleteUser(name: "alice") } == 409)
        #expect(await Self.status { try await alice.deleteUser(name: "admin") } == 409)
        #expect(await Self.status { try await c.admin.deleteOrganization(name: "pushy") } == 409)
        #expect(await Self.status { try await c.admin.deleteOrganization(name: "nope") } == 404)
        #expect(await Self.status { try await c.admin.createOrganization(name: "pushy") } == 409)

        let readers = try await c.admin.group("pushy_job_readers")
        #expect(readers.name == "pushy_job_readers" && readers.users.isEmpty && readers.groups == ["ops"])
        let aliceInfo = try await alice.user("alice")
        #expect(aliceInfo["groups"] == ["admins", "ops", "pushy_job_readers"])
        #expect(aliceInfo["superuser"] == false)
        #expect(try await c.admin.user("admin")["superuser"] == true)
        #expect(try await c.admin.groups() == ["admins", "ops", "pushy_job_readers"])
        await c.shutdown()
    }

    @Test func enrolmentTokensWorkOnceBeforeExpiryForFreeNames() async throws {
        let c = try await TestCluster()
        let url = c.orgURL
        let http = try c.tls.httpClient()
        func enroll(_ token: String, _ name: String, key: RSAPrivateKey? = nil, url: String = url) async -> Int? {
            await Self.status {
                try await PushyRESTClient.enroll(
                    orgURL: url, token: token, name: name,
                    publicKeyPEM: (try key ?? RSAPrivateKey.generate()).publicKey.pemRepresentation, httpClient: http)
            }
        }
        let token = try await c.admin.createEnrollmentToken(expiresIn: 600).token
        #expect(token.count == 64)
        // The server stores only the hash.
        let stored = try #require(try await c.server.store.enrollmentToken(hash: PushyAPI.tokenHash(token)))
        #expect(stored.createdBy == "admin" && stored.usedAt == nil)

        try await c.createNode("taken")
        #expect(await enroll(token, "taken") == 409)
        // A different token (flip the first character; never the same one by chance).
        let wrong = (token.first == "0" ? "1" : "0") + token.dropFirst()
        #expect(await enroll(wrong, "web9") == 401)
        #expect(await enroll(token, "web9", url: c.orgURL.replacingOccurrences(of: "/pushy", with: "/nope")) == 404)
        #expect(await Self.status {
            _ = try await c.admin.send("POST", "enroll", json: ["token": .string(token), "name": "web9", "public_key": "x"])
        } == 400)

        let key = try RSAPrivateKey.generate()
        #expect(await enroll(token, "web9", key: key) == 200)
        #expect(await enroll(token, "web10") == 401)
        // The node now signs with its own key: it may read its own config.
        let web9 = try Self.client(c, "web9", key)
        #expect(try await web9.config(node: "web9", ccpk: MatrixWorld.ccpk).node == "web9")
        #expect(await Self.status { _ = try await web9.config(node: "web1", ccpk: MatrixWorld.ccpk) } == 403)

        // An expired token (written straight to the store: no waiting for the clock).
        let expired = String(repeating: "ab", count: 32)
        try await c.server.store.createEnrollmentToken(EnrollmentTokenRecord(
            org: "pushy", tokenHash: PushyAPI.tokenHash(expired), createdBy: "admin",
            createdAt: Date().addingTimeInterval(-7200), expiresAt: Date().addingTimeInterval(-3600)))
        let reply = try await c.admin.send("POST", "enroll", json: [
            "token": .string(expired), "name": "web11",
            "public_key": .string(try RSAPrivateKey.generate().publicKey.pemRepresentation),
        ], allowStatus: [401])
        #expect(reply.status == 401)
        #expect(reply.text.contains("expired"))
        #expect(await Self.status { _ = try await c.admin.createEnrollmentToken(expiresIn: 0) } == 400)
        await c.shutdown()
    }

    @Test func everyStateChangeIsAudited() async throws {
        let c = try await TestCluster()
        let admin = c.admin!
        try await c.createNode("web1")
        try await admin.reportNode(NodeReport(name: "web1"))
        let id = try await admin.startJob(Self.job)
        _ = try await admin.abortJob(id)
        try await admin.createOrganization(name: "tmp")
        try await admin.deleteOrganization(name: "tmp")
        let bob = try RSAPrivateKey.generate()
        try await admin.createUser(name: "bob", publicKeyPEM: bob.publicKey.pemRepresentation)
        try await admin.addGroupMember(group: "ops", type: "user", name: "bob")
        try await admin.removeGroupMember(group: "ops", type: "user", name: "bob")
        try await admin.deleteGroup("ops")
        try await admin.deleteUser(name: "bob")
        try await admin.deleteClient(name: "web1")
        let token = try await admin.createEnrollmentToken().token
        try await PushyRESTClient.enroll(orgURL: c.orgURL, token: token, name: "web2",
                                         publicKeyPEM: try RSAPrivateKey.generate().publicKey.pemRepresentation,
                                         httpClient: try c.tls.httpClient())

        let log = try await admin.audit()
        let actions = log.map(\.action)
        #expect(actions == [
            "client.enrolled", "token.used", "token.created", "client.deleted", "user.deleted", "group.deleted",
            "group.member_removed", "group.member_added", "user.created", "org.deleted", "org.created", "job.aborted",
            "job.created", "node.updated", "client.created",
        ])
        #expect(log.allSatisfy { $0.remoteAddress == "127.0.0.1" })
        #expect(log.first { $0.action == "job.created" }?.target == "job:\(id)")
        #expect(log.first { $0.action == "job.created" }?.actor == "admin")
        #expect(log.first { $0.action == "client.enrolled" }?.actor == "web2")
        #expect(log.first { $0.action == "client.enrolled" }?.actorType == "enrollment")
        #expect(log.first { $0.action == "group.member_added" }?.detail == "user:bob")
        #expect(log.map(\.id) == log.map(\.id).sorted(by: >))
        #expect(try await admin.audit(limit: 2).map(\.action) == ["client.enrolled", "token.used"])
        await c.shutdown()
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
        let carol = try Self.client(c, "carol", try MatrixWorld.loadKey(keyPath))
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
        #expect(try await cli.pushy(["user", "delete", "carol"]).status == 0)
        await c.shutdown()
    }
}
