import Foundation
import PushyProtocol
import PushyStore
import Testing

/// One suite, run against every `PushyStore`, so the in-memory twin, SQLite and PostgreSQL cannot
/// drift (PostgreSQL: each test case on a database of its own, `TestPostgres`).
/// Jobs are in `StoreConformanceTests+Jobs.swift`.
@Suite(.timeLimit(.minutes(3))) struct StoreConformanceTests {
    @Test(arguments: StoreKind.allCases)
    func organizationsRoundTripSortAndRejectDuplicates(kind: StoreKind) async throws {
        try await kind.withStore { store in
            #expect(try await store.listOrgs().isEmpty)
            #expect(try await store.org(named: "acme") == nil)

            let acme = OrgRecord(name: "acme", guid: String(repeating: "a", count: 32), createdAt: Fixture.at(0.25))
            try await store.createOrg(Fixture.org("zeta", guidDigit: "f"))
            try await store.createOrg(acme)
            #expect(try await store.org(named: "acme") == acme)
            #expect(try await store.listOrgs().map(\.name) == ["acme", "zeta"])

            await expectStoreError(.duplicate) { try await store.createOrg(Fixture.org("acme", guidDigit: "b")) }
            await expectStoreError(.duplicate) { try await store.createOrg(Fixture.org("other", guidDigit: "a")) }
            #expect(try await store.listOrgs().count == 2)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func datesKeepSubSecondPrecision(kind: StoreKind) async throws {
        try await kind.withStore { store in
            let created = Date(timeIntervalSince1970: 1_712_345_678.123456)
            try await store.createOrg(OrgRecord(name: "acme", guid: String(repeating: "a", count: 32), createdAt: created))
            let read = try #require(try await store.org(named: "acme"))
            #expect(abs(read.createdAt.timeIntervalSince(created)) < 0.000_01)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func principalsAreScopedByOrgAndUniqueAcrossTypes(kind: StoreKind) async throws {
        try await kind.withStore { store in
            try await store.createOrg(Fixture.org("acme", guidDigit: "a"))
            try await store.createOrg(Fixture.org("beta", guidDigit: "b"))

            let alice = Fixture.principal("acme", "alice", .user, admin: true)
            try await store.createPrincipal(Fixture.principal("acme", "web1", .client))
            try await store.createPrincipal(alice)
            try await store.createPrincipal(Fixture.principal("acme", "bob", .user))
            try await store.createPrincipal(Fixture.principal("beta", "alice", .user))

            #expect(try await store.principal(org: "acme", name: "alice") == alice)
            #expect(try await store.principal(org: "beta", name: "alice")?.isAdmin == false)
            #expect(try await store.principal(org: "acme", name: "nobody") == nil)
            #expect(try await store.principal(org: "gamma", name: "alice") == nil)
            // Both in one read, as authentication asks.
            var both = try await store.orgAndPrincipal(org: "acme", name: "alice")
            #expect(both.org == Fixture.org("acme", guidDigit: "a") && both.principal == alice)
            both = try await store.orgAndPrincipal(org: "acme", name: "nobody")
            #expect(both.org?.name == "acme" && both.principal == nil)
            both = try await store.orgAndPrincipal(org: "gamma", name: "alice")
            #expect(both.org == nil && both.principal == nil)

            #expect(try await store.listPrincipals(org: "acme", type: nil).map(\.name) == ["alice", "bob", "web1"])
            #expect(try await store.listPrincipals(org: "acme", type: .user).map(\.name) == ["alice", "bob"])
            #expect(try await store.listPrincipals(org: "acme", type: .client).map(\.name) == ["web1"])
            #expect(try await store.listPrincipals(org: "beta", type: nil).map(\.name) == ["alice"])
            #expect(try await store.listPrincipals(org: "gamma", type: nil).isEmpty)

            // (org, name) is unique whatever the type.
            await expectStoreError(.duplicate) { try await store.createPrincipal(Fixture.principal("acme", "alice")) }
            await expectStoreError(.duplicate) {
                try await store.createPrincipal(Fixture.principal("acme", "web1", .user))
            }
            await expectStoreError(.notFound) { try await store.createPrincipal(Fixture.principal("gamma", "x")) }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func deletingAPrincipalTouchesOnlyThatOne(kind: StoreKind) async throws {
        try await kind.withStore { store in
            try await store.createOrg(Fixture.org("acme", guidDigit: "a"))
            try await store.createOrg(Fixture.org("beta", guidDigit: "b"))
            try await store.createPrincipal(Fixture.principal("acme", "alice"))
            try await store.createPrincipal(Fixture.principal("beta", "alice"))

            #expect(try await store.deletePrincipal(org: "acme", name: "alice"))
            #expect(try await store.deletePrincipal(org: "acme", name: "alice") == false)
            #expect(try await store.deletePrincipal(org: "gamma", name: "alice") == false)
            #expect(try await store.principal(org: "acme", name: "alice") == nil)
            #expect(try await store.principal(org: "beta", name: "alice") != nil)

            // The name is free again.
            try await store.createPrincipal(Fixture.principal("acme", "alice", .client))
            #expect(try await store.principal(org: "acme", name: "alice")?.type == .client)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func nodesUpsertReplaceAndKeepAttributeOrder(kind: StoreKind) async throws {
        try await kind.withStore { store in
            try await store.createOrg(Fixture.org("acme", guidDigit: "a"))
            try await store.createOrg(Fixture.org("beta", guidDigit: "b"))

            let bare = NodeRecord(org: "acme", name: "web2", updatedAt: Fixture.at(0))
            #expect(bare.environment == "_default")
            try await store.upsertNode(bare)
            #expect(try await store.node(org: "acme", name: "web2") == bare)

            let attributes: JSONValue = [
                "zeta": "last-declared-first", "cpu": ["total": 4, "model": "x86"], "ips": ["10.0.0.1", "::1"],
                "ratio": 0.5, "flag": true, "none": nil,
            ]
            var web1 = NodeRecord(
                org: "acme", name: "web1", environment: "prod", roles: ["webapp", "base"], tags: ["blue"],
                attributes: attributes, updatedAt: Fixture.at(5))
            try await store.upsertNode(web1)
            let read = try #require(try await store.node(org: "acme", name: "web1"))
            #expect(read == web1)
            #expect(read.attributes.keys == ["zeta", "cpu", "ips", "ratio", "flag", "none"])

            web1.roles = ["db"]
            web1.tags = []
            web1.environment = "staging"
            web1.attributes = ["only": "this"]
            web1.updatedAt = Fixture.at(10)
            try await store.upsertNode(web1)
            #expect(try await store.node(org: "acme", name: "web1") == web1)

            try await store.upsertNode(NodeRecord(org: "beta", name: "web1", updatedAt: Fixture.at(0)))
            #expect(try await store.listNodes(org: "acme").map(\.name) == ["web1", "web2"])
            #expect(try await store.listNodes(org: "beta").map(\.name) == ["web1"])
            #expect(try await store.listNodes(org: "gamma").isEmpty)
            #expect(try await store.node(org: "beta", name: "web2") == nil)

            await expectStoreError(.notFound) {
                try await store.upsertNode(NodeRecord(org: "gamma", name: "x", updatedAt: Fixture.at(0)))
            }
        }
    }
}
