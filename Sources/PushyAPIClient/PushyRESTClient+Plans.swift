import FoundationEssentials
import PushyProtocol

/// Orchestration plans (issue 14).
extension PushyRESTClient {
    public func createPlan(_ definition: JSONValue) async throws(PushyClientError) -> JSONValue {
        try await send("POST", "pushy/plans", json: definition).json()
    }

    public func plans() async throws(PushyClientError) -> [JSONValue] {
        let v = try await send("GET", "pushy/plans").json()
        guard let items = v.arrayValue else { throw .invalidResponse("the plan list is not an array") }
        return items
    }

    public func plan(_ name: String) async throws(PushyClientError) -> JSONValue {
        try await send("GET", "pushy/plans/\(Self.escape(name))").json()
    }

    public func deletePlan(_ name: String) async throws(PushyClientError) -> JSONValue {
        try await send("DELETE", "pushy/plans/\(Self.escape(name))").json()
    }

    /// Runs a stored plan; answers the run (`id`, `status`, `steps`).
    public func runPlan(_ name: String, parameters: [(String, JSONValue)]) async throws(PushyClientError) -> JSONValue {
        try await send("POST", "pushy/plans/\(Self.escape(name))/run", json: .object([("parameters", .object(parameters))])).json()
    }

    /// Runs a plan given as JSON (from a file), without storing it.
    public func runPlan(definition: JSONValue, parameters: [(String, JSONValue)]) async throws(PushyClientError) -> JSONValue {
        try await send("POST", "pushy/plan_runs", json: .object([("plan", definition), ("parameters", .object(parameters))])).json()
    }

    public func planRuns() async throws(PushyClientError) -> [JSONValue] {
        let v = try await send("GET", "pushy/plan_runs").json()
        guard let items = v.arrayValue else { throw .invalidResponse("the plan run list is not an array") }
        return items
    }

    public func planRun(_ id: String) async throws(PushyClientError) -> JSONValue {
        try await send("GET", "pushy/plan_runs/\(Self.escape(id))").json()
    }

    public func abortPlanRun(_ id: String) async throws(PushyClientError) -> JSONValue {
        try await send("PUT", "pushy/plan_runs/\(Self.escape(id))/abort", json: .object([])).json()
    }
}

extension PushyRESTClient {
    /// A plan run's step events (GET pushy/plan_runs/ID/feed): replayed, then live until the run
    /// ends; a finished run gives one `summary` event.
    public func planRunFeed(id: String, idleTimeout: Duration = .seconds(60)) -> AsyncThrowingStream<FeedEvent, Error> {
        feed("pushy/plan_runs/\(Self.escape(id))/feed", lastEventID: nil, idleTimeout: idleTimeout)
    }
}
