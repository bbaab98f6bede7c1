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

    /// The event's text block, ending with the blank line (a comment line for `keepAlive`).
    public var text: String {
        isKeepAlive ? ":keepalive\n\n" : "event: \(name)\nid: \(id)\ndata: \(data.serialized())\n\n"
    }

    /// Not an event: the SSE writer's keep-alive comment, sent along the live stream (`LiveFeed`).
    /// No event has an empty name.
    public static let keepAlive = FeedEvent(name: "", id: "", data: .null)
    public var isKeepAlive: Bool { name.isEmpty }
}

/// The live part of a feed: the stream the SSE writer reads and the continuation its producer
/// yields to. The writer's keep-alive timer yields `FeedEvent.keepAlive` into the same stream, so
/// an event reaches the writer with one task wake-up, not a second one through a merging task
/// (issue 16: the single-node job's `job_complete`).
public struct LiveFeed: Sendable {
    public let events: AsyncStream<FeedEvent>
    let continuation: AsyncStream<FeedEvent>.Continuation

    /// `bufferingNewest`: at most that many events wait for a slow reader (the oldest are
    /// dropped); nil keeps them all.
    init(bufferingNewest limit: Int? = nil) {
        (events, continuation) = AsyncStream.makeStream(
            of: FeedEvent.self, bufferingPolicy: limit.map { .bufferingNewest($0) } ?? .unbounded)
    }
}

/// What a job-feed request gets from the engine.
public enum JobFeedSubscription: Sendable {
    /// The job is not held in memory (finished more than `wait_complete_time` ago, or unknown).
    case notActive
    /// Events to send now, then live ones until the job completes (`live` is nil when the
    /// replay already ends with `job_complete`).
    case active(replay: [FeedEvent], live: LiveFeed?)
}
