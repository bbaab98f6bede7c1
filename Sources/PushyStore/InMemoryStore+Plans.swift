import Foundation

/// Plans and plan runs (issue 14).
extension InMemoryStore {
    public func createPlan(_ p: PlanRecord) throws(StoreError) {
        try requireOrg(p.org)
        let key = Key(scope: p.org, name: p.name)
        if plans[key] != nil { throw .duplicate("plan '\(p.name)' in organization '\(p.org)'") }
        plans[key] = p
    }

    public func plan(org: String, name: String) -> PlanRecord? { plans[Key(scope: org, name: name)] }

    public func listPlans(org: String) -> [PlanRecord] {
        plans.values.filter { $0.org == org }.sorted { byteOrder($0.name, $1.name) }
    }

    public func deletePlan(org: String, name: String) -> Bool { plans.removeValue(forKey: Key(scope: org, name: name)) != nil }

    public func savePlanRun(_ r: PlanRunRecord) throws(StoreError) {
        try requireOrg(r.org)
        planRuns[r.id] = r
    }

    public func planRun(org: String, id: String) -> PlanRunRecord? { planRuns[id].flatMap { $0.org == org ? $0 : nil } }

    public func listPlanRuns(org: String, limit: Int) -> [PlanRunRecord] {
        planRuns.values.filter { $0.org == org }
            .sorted { $0.createdAt == $1.createdAt ? $0.id > $1.id : $0.createdAt > $1.createdAt }
            .prefix(limit).map { $0 }
    }

    public func failUnfinishedPlanRuns(reason: String, at: Date) -> [String] {
        let ids = planRuns.values.filter { $0.status == "running" }.sorted { $0.createdAt < $1.createdAt }.map(\.id)
        for id in ids {
            planRuns[id]?.status = "failed"
            planRuns[id]?.reason = reason
            planRuns[id]?.updatedAt = at
        }
        return ids
    }
}
