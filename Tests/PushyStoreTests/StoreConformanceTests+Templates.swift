import Foundation
import PushyProtocol
import PushyStore
import Testing

/// Job templates (issue 13): versions, latest by default, lists, deletion, org scoping, and a
/// job's template link.
extension StoreConformanceTests {
    static func template(_ org: String, _ name: String, version: Int, command: String = "ok", by author: String = "amy",
                         at seconds: Double = 0) -> TemplateRecord {
        TemplateRecord(org: org, name: name, version: version,
                       definition: ["name": .string(name), "command": .string(command), "nodes": ["a"]],
                       createdBy: "amy", author: author, createdAt: Fixture.at(seconds))
    }

    @Test(arguments: StoreKind.allCases)
    func templatesAreVersioned(kind: StoreKind) async throws {
        try await kind.withStore { store in
            try await store.createOrg(Fixture.org("acme", guidDigit: "a"))
            try await store.createOrg(Fixture.org("beta", guidDigit: "b"))
            #expect(try await store.listTemplates(org: "acme").isEmpty)
            #expect(try await store.template(org: "acme", name: "deploy", version: nil) == nil)

            let v1 = Self.template("acme", "deploy", version: 1, command: "deploy {{v}}")
            try await store.createTemplate(v1)
            await expectStoreError(.duplicate) { try await store.createTemplate(v1) }
            await expectStoreError(.notFound) { try await store.createTemplate(Self.template("gamma", "deploy", version: 1)) }
            #expect(try await store.template(org: "acme", name: "deploy", version: nil) == v1)
            #expect(try await store.template(org: "acme", name: "deploy", version: 1) == v1)
            #expect(try await store.template(org: "beta", name: "deploy", version: nil) == nil)

            // An edit adds the next version; reads default to the latest; old versions stay.
            let v2 = Self.template("acme", "deploy", version: 2, command: "deploy2", by: "bob", at: 5)
            try await store.addTemplateVersion(v2)
            await expectStoreError(.duplicate) { try await store.addTemplateVersion(v2) }
            await expectStoreError(.duplicate) {
                try await store.addTemplateVersion(Self.template("acme", "deploy", version: 4))
            }
            await expectStoreError(.notFound) { try await store.addTemplateVersion(Self.template("acme", "nope", version: 2)) }
            #expect(try await store.template(org: "acme", name: "deploy", version: nil) == v2)
            #expect(try await store.template(org: "acme", name: "deploy", version: 1) == v1)
            #expect(try await store.template(org: "acme", name: "deploy", version: 3) == nil)
            #expect(try await store.template(org: "acme", name: "deploy", version: nil)?.createdBy == "amy")
            #expect(try await store.template(org: "acme", name: "deploy", version: nil)?.author == "bob")

            try await store.createTemplate(Self.template("acme", "backup", version: 1))
            try await store.createTemplate(Self.template("beta", "other", version: 1))
            #expect(try await store.listTemplates(org: "acme").map { "\($0.name)@\($0.version)" } == ["backup@1", "deploy@2"])
            #expect(try await store.listTemplates(org: "beta").map(\.name) == ["other"])

            // Deleting drops every version; the name starts again at 1.
            #expect(try await store.deleteTemplate(org: "acme", name: "deploy"))
            #expect(try await store.deleteTemplate(org: "acme", name: "deploy") == false)
            #expect(try await store.deleteTemplate(org: "beta", name: "backup") == false)
            #expect(try await store.template(org: "acme", name: "deploy", version: 1) == nil)
            try await store.createTemplate(v1)
            #expect(try await store.listTemplates(org: "acme").map { "\($0.name)@\($0.version)" } == ["backup@1", "deploy@1"])

            // Deleting the org drops its templates.
            #expect(try await store.deleteOrg(named: "beta"))
            #expect(try await store.listTemplates(org: "beta").isEmpty)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aJobRecordsItsTemplateAndVersion(kind: StoreKind) async throws {
        try await kind.withStore { store in
            try await store.createOrg(Fixture.org("acme"))
            var job = Fixture.job(1, org: "acme")
            job.template = "restart-app"
            job.templateVersion = 3
            try await store.insertJob(job, nodes: Fixture.nodes(["a"], job: 1))
            let back = try await store.job(org: "acme", id: job.id)
            #expect(back?.template == "restart-app")
            #expect(back?.templateVersion == 3)
            #expect(back == job)
            try await store.insertJob(Fixture.job(2, org: "acme"), nodes: Fixture.nodes(["a"], job: 2))
            let plain = try await store.job(org: "acme", id: Fixture.jobId(2))
            #expect(plain?.template == nil)
            #expect(plain?.templateVersion == nil)
        }
    }
}
