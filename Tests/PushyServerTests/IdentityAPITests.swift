import Foundation
import PushyProtocol
@testable import PushyServer
import PushyStore
import Testing

/// Groups, org scoping, enrolment and the audit log, at router level (the CLI for them, and the
/// peer address the audit log records, are checked against a real server in
/// PushyIntegrationTests' `IdentityTests`).
///
/// Two minutes: each test takes a few seconds alone, ≈ 30 s beside every other suite in a full
/// `swift test` on a loaded two-core machine.
@Suite(.timeLimit(.minutes(2))) struct IdentityAPITests {
    static let job = try! JobRequest.parse(Array(#"{"command":"ok","nodes":["web1"]}"#.utf8))

    @Test func withoutJobGroupsReadersAreAllMembersAndWritersAreAdmins() async throws {
        try await RouterRig.run { rig in
            try await rig.createNode("web1")
            let mel = try await rig.admin.createUser("mel")
            let alice = try await rig.admin.createUser("alice", admin: true)
            #expect(await statusOf { _ = try await mel.jobs() } == 200)
            #expect(await statusOf { _ = try await mel.startJob(Self.job) } == 403)
            #expect(await statusOf { _ = try await alice.startJob(Self.job) } == 200)

            // Once pushy_job_writers exists, admins no longer write unless nested in it.
            try await rig.admin.addGroupMember(group: "pushy_job_writers", type: "user", name: "mel")
            #expect(await statusOf { _ = try await mel.startJob(Self.job) } == 200)
            #expect(await statusOf { _ = try await alice.startJob(Self.job) } == 403)
            try await rig.admin.addGroupMember(group: "pushy_job_writers", type: "group", name: "admins")
            #expect(await statusOf { _ = try await alice.startJob(Self.job) } == 200)
            // Deleting the group restores the fallback.
            try await rig.admin.deleteGroup("pushy_job_writers")
            #expect(await statusOf { _ = try await mel.startJob(Self.job) } == 403)

            // A deleted and re-created user does not inherit the old memberships.
            try await rig.admin.deleteUser("alice")
            let alice2 = try await rig.admin.createUser("alice")
            #expect(await statusOf { _ = try await alice2.startJob(Self.job) } == 403)
        }
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
        try await RouterRig.run { rig in
            try await rig.createNode("web1")
            try await rig.admin.reportNode(NodeReport(name: "web1"))
            let id = try await rig.admin.startJob(Self.job)
            try await rig.admin.createOrganization("other")
            let olga = try await rig.caller("admin", org: "other").createUser("olga", admin: true)

            // Olga is an admin in her own org; pushy's job, output, feed and node do not exist there.
            #expect(await statusOf { _ = try await olga.job(id) } == 404)
            #expect(await statusOf { _ = try await olga.abortJob(id) } == 404)
            #expect(await statusOf { _ = try await olga.jobOutput(id: id, node: "web1") } == 404)
            #expect(await statusOf { _ = try await olga.ok("GET", "pushy/job_status_feed/\(id)", accept: "text/event-stream") } == 404)
            #expect(await statusOf { _ = try await olga.ok("GET", "nodes/web1") } == 404)
            #expect(try await olga.jobs().isEmpty)
            #expect(try await olga.searchNodes("*:*").isEmpty)
            // In pushy's org she is nobody.
            let olgaInPushy = rig.caller("olga")
            #expect(await statusOf { _ = try await olgaInPushy.jobs() } == 403)
            // The superuser acts in every org.
            #expect(try await rig.caller("admin", org: "other").jobs().isEmpty)
        }
    }

    @Test func groupChangesAreCheckedAndProtectTheWayIn() async throws {
        try await RouterRig.run { rig in
            let admin = rig.admin
            let alice = try await admin.createUser("alice", admin: true)
            try await admin.addGroupMember(group: "ops", type: "user", name: "alice")
            try await admin.addGroupMember(group: "pushy_job_readers", type: "group", name: "ops")
            // ops → readers exists, so readers → ops would be a cycle; so would a group in itself.
            #expect(await statusOf { try await admin.addGroupMember(group: "ops", type: "group", name: "pushy_job_readers") } == 400)
            #expect(await statusOf { try await admin.addGroupMember(group: "ops", type: "group", name: "ops") } == 400)
            #expect(await statusOf { try await admin.addGroupMember(group: "ops", type: "user", name: "ghost") } == 404)
            #expect(await statusOf { try await admin.addGroupMember(group: "ops", type: "client", name: "alice") } == 404)
            #expect(await statusOf { try await admin.removeGroupMember(group: "ops", type: "user", name: "ghost") } == 404)
            #expect(await statusOf { try await admin.deleteGroup("admins") } == 409)
            #expect(await statusOf { try await alice.deleteUser("alice") } == 409)
            #expect(await statusOf { try await alice.deleteUser("admin") } == 409)
            #expect(await statusOf { try await admin.deleteOrganization("pushy") } == 409)
            #expect(await statusOf { try await admin.deleteOrganization("nope") } == 404)
            #expect(await statusOf { try await admin.createOrganization("pushy") } == 409)

            let readers = try await admin.group("pushy_job_readers")
            #expect(readers["groupname"] == "pushy_job_readers" && readers["users"] == [] && readers["groups"] == ["ops"])
            let aliceInfo = try await alice.user("alice")
            #expect(aliceInfo["groups"] == ["admins", "ops", "pushy_job_readers"])
            #expect(aliceInfo["superuser"] == false)
            #expect(try await admin.user("admin")["superuser"] == true)
            #expect(try await admin.groups() == ["admins", "ops", "pushy_job_readers"])
        }
    }

    @Test func enrolmentTokensWorkOnceBeforeExpiryForFreeNames() async throws {
        try await RouterRig.run { rig in
            func enroll(_ token: String, _ name: String, key: RSAPrivateKey? = nil, org: String = "pushy") async -> Int? {
                await statusOf { try await rig.enroll(token: token, name: name, key: key ?? TestKeys.spare, org: org) }
            }
            let token = try await rig.admin.createEnrollmentToken(expiresIn: 600)
            #expect(token.count == 64)
            // The server stores only the hash.
            let stored = try #require(await rig.store.enrollmentToken(hash: PushyAPI.tokenHash(token)))
            #expect(stored.createdBy == "admin" && stored.usedAt == nil)

            try await rig.createNode("taken")
            #expect(await enroll(token, "taken") == 409)
            // A different token (flip the first character; never the same one by chance).
            let wrong = (token.first == "0" ? "1" : "0") + token.dropFirst()
            #expect(await enroll(wrong, "web9") == 401)
            #expect(await enroll(token, "web9", org: "nope") == 404)
            #expect(await statusOf {
                _ = try await rig.admin.ok("POST", "enroll", json: ["token": .string(token), "name": "web9", "public_key": "x"])
            } == 400)

            let key = try TestKeys.named("web9")
            #expect(await enroll(token, "web9", key: key) == 200)
            #expect(await enroll(token, "web10") == 401)
            // The node now signs with its own key: it may read its own config.
            rig.remember("web9", key)
            let web9 = rig.caller("web9")
            #expect(try await web9.config("web9").node == "web9")
            #expect(await statusOf { _ = try await web9.config("web1") } == 403)

            // An expired token (written straight to the store: no waiting for the clock).
            let expired = String(repeating: "ab", count: 32)
            try await rig.store.createEnrollmentToken(EnrollmentTokenRecord(
                org: "pushy", tokenHash: PushyAPI.tokenHash(expired), createdBy: "admin",
                createdAt: Date().addingTimeInterval(-7200), expiresAt: Date().addingTimeInterval(-3600)))
            let reply = try await rig.admin.send("POST", "enroll", json: [
                "token": .string(expired), "name": "web11",
                "public_key": .string(TestKeys.sparePEM),
            ])
            #expect(reply.status == 401)
            #expect(reply.text.contains("expired"))
            #expect(await statusOf { _ = try await rig.admin.createEnrollmentToken(expiresIn: 0) } == 400)
        }
    }

    @Test func everyStateChangeIsAudited() async throws {
        try await RouterRig.run { rig in
            let admin = rig.admin
            try await rig.createNode("web1")
            try await admin.reportNode(NodeReport(name: "web1"))
            let id = try await admin.startJob(Self.job)
            _ = try await admin.abortJob(id)
            try await admin.createOrganization("tmp")
            try await admin.deleteOrganization("tmp")
            try await admin.createUser("bob", key: TestKeys.spare)
            try await admin.addGroupMember(group: "ops", type: "user", name: "bob")
            try await admin.removeGroupMember(group: "ops", type: "user", name: "bob")
            try await admin.deleteGroup("ops")
            try await admin.deleteUser("bob")
            try await admin.deleteClient("web1")
            let token = try await admin.createEnrollmentToken()
            try await rig.enroll(token: token, name: "web2", key: TestKeys.spare)

            let log = try await admin.audit()
            func field(_ e: JSONValue, _ name: String) -> String? { e[name]?.stringValue }
            func first(_ action: String) -> JSONValue? { log.first { field($0, "action") == action } }
            #expect(log.map { field($0, "action") } == [
                "client.enrolled", "token.used", "token.created", "client.deleted", "user.deleted", "group.deleted",
                "group.member_removed", "group.member_added", "user.created", "org.deleted", "org.created", "job.aborted",
                "job.created", "node.updated", "client.created",
            ])
            // No peer at router level (IdentityTests checks 127.0.0.1 over a socket).
            #expect(log.allSatisfy { field($0, "remote_address") == "unknown" })
            #expect(first("job.created").flatMap { field($0, "target") } == "job:\(id)")
            #expect(first("job.created").flatMap { field($0, "actor") } == "admin")
            #expect(first("client.enrolled").flatMap { field($0, "actor") } == "web2")
            #expect(first("client.enrolled").flatMap { field($0, "actor_type") } == "enrollment")
            #expect(first("group.member_added").flatMap { field($0, "detail") } == "user:bob")
            let ids = log.compactMap { $0["id"]?.intValue }
            #expect(ids.count == log.count && ids == ids.sorted(by: >))
            #expect(try await admin.audit(limit: 2).map { field($0, "action") } == ["client.enrolled", "token.used"])

            // A proxy's X-Forwarded-For is recorded beside the peer, not trusted in its place.
            try await rig.signed("POST", "/organizations/pushy/users", json: [
                "name": "carol", "public_key": .string(TestKeys.sparePEM),
            ], as: admin.signer, headers: [("X-Forwarded-For", "10.1.2.3")]).expectStatus(201)
            #expect(try await admin.audit(limit: 1).first.flatMap { field($0, "remote_address") }
                == "unknown (X-Forwarded-For: 10.1.2.3)")
        }
    }
}

extension Reply {
    /// Records an issue unless the status is `expected`.
    func expectStatus(_ expected: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(status == expected, "\(text.prefix(300))", sourceLocation: sourceLocation)
    }
}
