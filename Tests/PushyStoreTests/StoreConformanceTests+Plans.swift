import Foundation
import PushyProtocol
import PushyStore
import Testing

/// Plans and plan runs (issue 14): CRUD, org scoping, newest-first runs, unfinished runs failed at start.
extension StoreConformanceTests {
    @Test(arguments: StoreKind.allCases)
    func plansAndRunsAreStored(kind: StoreKind) async throws {
        try await kind.withStore { store in
            try await store.createOrg(Fixture.org("acme", guidDigit: "a"))
            try await store.createOrg(Fixture.org("beta", guidDigit: "b"))
            let plan = PlanRecord(org: "acme", name: "rollout", definition: ["name": "rollout", "steps": []], createdBy: "amy",
                                  createdAt: Fixture.at(0))
            try await store.createPlan(plan)
            await expectStoreError(.duplicate) { try await store.createPlan(plan) }
            await expectStoreError(.notFound) {
                try await store.createPlan(PlanRecord(org: "gamma", name: "x", definition: [:], createdBy: "a", createdAt: Fixture.at(0)))
            }
            try await store.createPlan(PlanRecord(org: "acme", name: "backup", definition: [:], createdBy: "amy", createdAt: Fixture.at(1)))
            #expect(try await store.plan(org: "acme", name: "rollout") == plan)
            #expect(try await store.plan(org: "beta", name: "rollout") == nil)
            #expect(try await store.listPlans(org: "acme").map(\.name) == ["backup", "rollout"])
            #expect(try await store.deletePlan(org: "acme", name: "backup"))
            #expect(try await store.deletePlan(org: "acme", name: "backup") == false)

            func run(_ n: Int, status: String = "running") -> PlanRunRecord {
                PlanRunRecord(id: Fixture.jobId(n), org: "acme", plan: "rollout", definition: plan.definition,
                              parameters: ["v": "1"], requestor: "amy", status: status, steps: [["name": "a", "status": "pending"]],
                              createdAt: Fixture.at(Double(n)))
            }
            try await store.savePlanRun(run(1))
            try await store.savePlanRun(run(2, status: "succeeded"))
            var updated = run(1)
            updated.steps = [["name": "a", "status": "running"]]
            try await store.savePlanRun(updated)
            #expect(try await store.planRun(org: "acme", id: Fixture.jobId(1)) == updated)
            #expect(try await store.planRun(org: "beta", id: Fixture.jobId(1)) == nil)
            #expect(try await store.listPlanRuns(org: "acme", limit: 10).map(\.id) == [Fixture.jobId(2), Fixture.jobId(1)])
            #expect(try await store.listPlanRuns(org: "acme", limit: 1).count == 1)
            #expect(try await store.failUnfinishedPlanRuns(reason: "server restarted", at: Fixture.at(9)) == [Fixture.jobId(1)])
            let failed = try #require(try await store.planRun(org: "acme", id: Fixture.jobId(1)))
            #expect(failed.status == "failed" && failed.reason == "server restarted" && failed.updatedAt == Fixture.at(9))
            #expect(try await store.deleteOrg(named: "acme"))
            #expect(try await store.listPlanRuns(org: "acme", limit: 10).isEmpty)
        }
    }
}
