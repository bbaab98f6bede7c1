import Foundation
import PushyProtocol
import PushyStore
import Testing

extension StoreConformanceTests {
    @Test(arguments: StoreKind.allCases)
    func groupsKeepSortedMembersAndAreScopedByOrg(kind: StoreKind) async throws {
        try await kind.withStore { store in
            try await store.createOrg(Fixture.org("acme", guidDigit: "a"))
            try await store.createOrg(Fixture.org("beta", guidDigit: "b"))
            #expect(try await store.listGroups(org: "acme").isEmpty)
            #expect(try await store.group(org: "acme", name: "admins") == nil)

            try await store.createGroup(org: "acme", name: "ops")
            await expectStoreError(.duplicate) { try await store.createGroup(org: "acme", name: "ops") }
            await expectStoreError(.notFound) { try await store.createGroup(org: "gamma", name: "ops") }
            #expect(try await store.group(org: "acme", name: "ops") == GroupRecord(org: "acme", name: "ops"))

            // Adding to a missing group creates it; adding twice reports false.
            #expect(try await store.addGroupMember(org: "acme", group: "pushy_job_readers", member: GroupMember(.group, "ops")))
            #expect(try await store.addGroupMember(org: "acme", group: "pushy_job_readers", member: GroupMember(.user, "zed")))
            #expect(try await store.addGroupMember(org: "acme", group: "pushy_job_readers", member: GroupMember(.client, "web1")))
            #expect(try await store.addGroupMember(org: "acme", group: "pushy_job_readers", member: GroupMember(.user, "amy")))
            #expect(try await store.addGroupMember(org: "acme", group: "pushy_job_readers", member: GroupMember(.user, "amy")) == false)
            await expectStoreError(.notFound) {
                _ = try await store.addGroupMember(org: "gamma", group: "x", member: GroupMember(.user, "amy"))
            }
            let readers = try #require(try await store.group(org: "acme", name: "pushy_job_readers"))
            #expect(readers.members == [
                GroupMember(.user, "amy"), GroupMember(.user, "zed"), GroupMember(.client, "web1"), GroupMember(.group, "ops"),
            ])
            #expect(try await store.listGroups(org: "acme").map(\.name) == ["ops", "pushy_job_readers"])
            #expect(try await store.listGroups(org: "acme").last == readers)
            #expect(try await store.listGroups(org: "beta").isEmpty)
            #expect(try await store.group(org: "beta", name: "pushy_job_readers") == nil)

            #expect(try await store.removeGroupMember(org: "acme", group: "pushy_job_readers", member: GroupMember(.user, "zed")))
            #expect(try await store.removeGroupMember(org: "acme", group: "pushy_job_readers", member: GroupMember(.user, "zed")) == false)
            #expect(try await store.removeGroupMember(org: "beta", group: "pushy_job_readers", member: GroupMember(.user, "amy")) == false)

            // Deleting a group also drops it from the groups it was nested in.
            #expect(try await store.deleteGroup(org: "acme", name: "ops"))
            #expect(try await store.deleteGroup(org: "acme", name: "ops") == false)
            #expect(try await store.group(org: "acme", name: "pushy_job_readers")?.members == [
                GroupMember(.user, "amy"), GroupMember(.client, "web1"),
            ])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func legacyAdminFlagJoinsAdminsAndDeletingAPrincipalDropsItsMemberships(kind: StoreKind) async throws {
        try await kind.withStore { store in
            try await store.createOrg(Fixture.org("acme"))
            var root = Fixture.principal("acme", "root", .user, admin: true)
            root.isSuperuser = true
            try await store.createPrincipal(root)
            try await store.createPrincipal(Fixture.principal("acme", "web1", .client))
            #expect(try await store.principal(org: "acme", name: "root")?.isSuperuser == true)
            #expect(try await store.principal(org: "acme", name: "web1")?.isSuperuser == false)
            #expect(try await store.group(org: "acme", name: "admins")?.members == [GroupMember(.user, "root")])

            _ = try await store.addGroupMember(org: "acme", group: "pushy_job_writers", member: GroupMember(.client, "web1"))
            _ = try await store.addGroupMember(org: "acme", group: "pushy_job_writers", member: GroupMember(.group, "web1"))
            #expect(try await store.deletePrincipal(org: "acme", name: "web1"))
            // The principal's entry goes; a group that happens to share the name stays.
            #expect(try await store.group(org: "acme", name: "pushy_job_writers")?.members == [GroupMember(.group, "web1")])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func enrollmentTokensAreSingleUseExpireAndBelongToOneOrg(kind: StoreKind) async throws {
        try await kind.withStore { store in
            try await store.createOrg(Fixture.org("acme", guidDigit: "a"))
            try await store.createOrg(Fixture.org("beta", guidDigit: "b"))
            let token = EnrollmentTokenRecord(org: "acme", tokenHash: String(repeating: "1", count: 64), createdBy: "root",
                                              createdAt: Fixture.at(0), expiresAt: Fixture.at(3600))
            try await store.createEnrollmentToken(token)
            await expectStoreError(.duplicate) { try await store.createEnrollmentToken(token) }
            await expectStoreError(.notFound) {
                var t = token
                t.org = "gamma"
                t.tokenHash = String(repeating: "2", count: 64)
                try await store.createEnrollmentToken(t)
            }
            #expect(try await store.enrollmentToken(hash: token.tokenHash) == token)
            #expect(try await store.enrollmentToken(hash: "nope") == nil)

            let web9 = Fixture.principal("acme", "web9", .client)
            #expect(try await store.enroll(tokenHash: "nope", client: web9, at: Fixture.at(10)) == .unknownToken)
            // Another org's token does not work here.
            #expect(try await store.enroll(tokenHash: token.tokenHash, client: Fixture.principal("beta", "web9", .client),
                                           at: Fixture.at(10)) == .unknownToken)
            #expect(try await store.enroll(tokenHash: token.tokenHash, client: web9, at: Fixture.at(3600)) == .expired)

            // A taken name fails and leaves the token unused.
            try await store.createPrincipal(Fixture.principal("acme", "taken", .client))
            await expectStoreError(.duplicate) {
                _ = try await store.enroll(tokenHash: token.tokenHash, client: Fixture.principal("acme", "taken", .client),
                                           at: Fixture.at(10))
            }
            #expect(try await store.enrollmentToken(hash: token.tokenHash)?.usedAt == nil)

            var used = token
            used.usedAt = Fixture.at(10)
            used.usedBy = "web9"
            #expect(try await store.enroll(tokenHash: token.tokenHash, client: web9, at: Fixture.at(10)) == .enrolled(used))
            #expect(try await store.principal(org: "acme", name: "web9") == web9)
            #expect(try await store.enrollmentToken(hash: token.tokenHash) == used)
            #expect(try await store.enroll(tokenHash: token.tokenHash, client: Fixture.principal("acme", "web10", .client),
                                           at: Fixture.at(11)) == .alreadyUsed)
            #expect(try await store.principal(org: "acme", name: "web10") == nil)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func auditIsNewestFirstLimitedAndScopedByOrg(kind: StoreKind) async throws {
        try await kind.withStore { store in
            try await store.createOrg(Fixture.org("acme", guidDigit: "a"))
            try await store.createOrg(Fixture.org("beta", guidDigit: "b"))
            func entry(_ org: String, _ n: Int) -> AuditRecord {
                AuditRecord(at: Fixture.at(Double(n)), org: org, actor: "root", actorType: "user", action: "job.created",
                            target: "job:\(n)", detail: "d\(n)", remoteAddress: "127.0.0.1")
            }
            var ids: [Int64] = []
            for n in 1...3 { ids.append(try await store.appendAudit(entry("acme", n))) }
            try await store.appendAudit(entry("beta", 4))
            #expect(ids == ids.sorted() && Set(ids).count == 3)
            await expectStoreError(.notFound) { try await store.appendAudit(entry("gamma", 5)) }

            let all = try await store.listAudit(org: "acme", limit: 10)
            #expect(all.map(\.target) == ["job:3", "job:2", "job:1"])
            #expect(all.map(\.id) == ids.reversed())
            var expected = entry("acme", 3)
            expected.id = ids[2]
            #expect(all.first == expected)
            #expect(try await store.listAudit(org: "acme", limit: 2).map(\.target) == ["job:3", "job:2"])
            #expect(try await store.listAudit(org: "beta", limit: 10).map(\.target) == ["job:4"])
            #expect(try await store.listAudit(org: "gamma", limit: 10).isEmpty)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func deletingAnOrgRemovesEverythingInItAndNothingElse(kind: StoreKind) async throws {
        try await kind.withStore { store in
            for (org, digit) in [("acme", Character("a")), ("beta", Character("b"))] {
                try await store.createOrg(Fixture.org(org, guidDigit: digit))
                try await store.createPrincipal(Fixture.principal(org, "alice", .user, admin: true))
                try await store.upsertNode(NodeRecord(org: org, name: "web1", updatedAt: Fixture.at(0)))
                try await store.createEnrollmentToken(EnrollmentTokenRecord(
                    org: org, tokenHash: String(repeating: digit, count: 64), createdBy: "alice",
                    createdAt: Fixture.at(0), expiresAt: Fixture.at(60)))
                try await store.appendAudit(AuditRecord(at: Fixture.at(0), org: org, actor: "alice", actorType: "user",
                                                        action: "x", target: "y", remoteAddress: "unknown"))
            }
            try await store.insertJob(Fixture.job(1, org: "acme"), nodes: Fixture.nodes(["web1"], job: 1))
            try await store.saveOutput(JobOutputRecord(jobId: Fixture.jobId(1), node: "web1", stdout: [1], stderr: []))
            try await store.insertJob(Fixture.job(2, org: "beta"), nodes: Fixture.nodes(["web1"], job: 2))

            #expect(try await store.deleteOrg(named: "acme"))
            #expect(try await store.deleteOrg(named: "acme") == false)
            #expect(try await store.listOrgs().map(\.name) == ["beta"])
            #expect(try await store.principal(org: "acme", name: "alice") == nil)
            #expect(try await store.listGroups(org: "acme").isEmpty)
            #expect(try await store.node(org: "acme", name: "web1") == nil)
            #expect(try await store.job(org: "acme", id: Fixture.jobId(1)) == nil)
            #expect(try await store.jobNodes(jobId: Fixture.jobId(1)).isEmpty)
            #expect(try await store.output(jobId: Fixture.jobId(1), node: "web1") == nil)
            #expect(try await store.enrollmentToken(hash: String(repeating: "a", count: 64)) == nil)
            #expect(try await store.listAudit(org: "acme", limit: 10).isEmpty)

            #expect(try await store.principal(org: "beta", name: "alice") != nil)
            #expect(try await store.group(org: "beta", name: "admins")?.members == [GroupMember(.user, "alice")])
            #expect(try await store.job(org: "beta", id: Fixture.jobId(2)) != nil)
            #expect(try await store.enrollmentToken(hash: String(repeating: "b", count: 64)) != nil)
            #expect(try await store.listAudit(org: "beta", limit: 10).count == 1)
            // The name is free again.
            try await store.createOrg(Fixture.org("acme", guidDigit: "c"))
            #expect(try await store.listPrincipals(org: "acme", type: nil).isEmpty)
        }
    }
}
