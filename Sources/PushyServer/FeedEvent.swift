import PushyProtocol

/// One server-sent event as written on the wire (spec 2.3): `event:`, `id:`, `data:`.
public struct FeedEvent: Sendable, Equatable {
    public var name: String
    public var id: String
    public var data: JSONValue

    public init(name: String, id: String, data: JSONValue) {
        self.name = name
        self.id = id
        self.data = data
    }

    /// The event's text block, ending with the blank line.
    public var text: String { "event: \(name)\nid: \(id)\ndata: \(data.serialized())\n\n" }
}

/// What a job-feed request gets from the engine.
public enum JobFeedSubscription: Sendable {
    /// The job is not held in memory (finished more than `wait_complete_time` ago, or unknown).
    case notActive
    /// Events to send now, then live ones until the job completes (`live` is nil when the
    /// replay already ends with `job_complete`).
    case active(replay: [FeedEvent], live: AsyncStream<FeedEvent>?)
}
