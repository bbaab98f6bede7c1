import FoundationEssentials
import PushyProtocol

/// Schedules (issue 14).
extension PushyRESTClient {
    /// `POST .../schedules`: answers the schedule with its `next_runs`.
    public func createSchedule(_ definition: JSONValue) async throws(PushyClientError) -> JSONValue {
        try await send("POST", "pushy/schedules", json: definition).json()
    }

    /// Every schedule of the org, each with its next run time.
    public func schedules() async throws(PushyClientError) -> [JSONValue] {
        let v = try await send("GET", "pushy/schedules").json()
        guard let items = v.arrayValue else { throw .invalidResponse("the schedule list is not an array") }
        return items
    }

    /// One schedule with its next run times and last run.
    public func schedule(_ name: String) async throws(PushyClientError) -> JSONValue {
        try await send("GET", "pushy/schedules/\(Self.escape(name))").json()
    }

    public func deleteSchedule(_ name: String) async throws(PushyClientError) -> JSONValue {
        try await send("DELETE", "pushy/schedules/\(Self.escape(name))").json()
    }

    /// `PUT .../schedules/NAME/pause` or `/resume`: answers the schedule.
    public func setSchedulePaused(_ name: String, _ paused: Bool) async throws(PushyClientError) -> JSONValue {
        try await send("PUT", "pushy/schedules/\(Self.escape(name))/\(paused ? "pause" : "resume")", json: .object([])).json()
    }

    /// `GET .../schedules/NAME/history`: `{"name", "runs": [...]}`, newest first.
    public func scheduleHistory(_ name: String, limit: Int? = nil) async throws(PushyClientError) -> JSONValue {
        try await send("GET", "pushy/schedules/\(Self.escape(name))/history" + (limit.map { "?limit=\($0)" } ?? "")).json()
    }
}
