import PushyProtocol

/// One server-sent event as written on the wire (spec 2.3): `event:`, `id:`, `data:`.
public struct FeedEvent: Sendable, Equatable {
    public var name: String
    public var id: String
    public var data: JSONValue
    /// Not an event: the SSE writer's keep-alive comment, sent along the live stream (`LiveFeed`).
    public private(set) var isKeepAlive = false

    public init(name: String, id: String, data: JSONValue) {
        self.name = name
        self.id = id
        self.data = data
    }

    public static let keepAlive: FeedEvent = {
        var e = FeedEvent(name: "", id: "", data: .null)
        e.isKeepAlive = true
        return e
    }()

    /// The event's text block, ending with the blank line (a comment line for `keepAlive`).
    public var text: String {
        isKeepAlive ? ":keepalive\n\n" : "event: \(name)\nid: \(id)\ndata: \(data.serialized())\n\n"
    }
}

/// The live part of a feed: the stream the SSE writer reads and the continuation its producer
/// yields to. The writer's keep-alive timer yields `FeedEvent.keepAlive` into the same stream, so
/// an event reaches the writer with one task wake-up, not a second one through a merging task
/// (issue 16: the single-node job's `job_complete`).
public struct LiveFeed: Sendable {
    public let events: AsyncStream<FeedEvent>
    let continuation: AsyncStream<FeedEvent>.Continuation

    /// `limit`: at most that many events wait for a slow reader; the producer ends the feed of a
    /// reader that far behind (`deliver`). nil keeps them all.
    init(limit: Int? = nil) {
        (events, continuation) = AsyncStream.makeStream(
            of: FeedEvent.self, bufferingPolicy: limit.map { .bufferingOldest($0) } ?? .unbounded)
    }
}

extension AsyncStream<FeedEvent>.Continuation {
    /// Yields `event`; when the reader's buffer is full its feed is ended instead of skipping
    /// anything (the buffer keeps the oldest events, so the reader gets every event up to the
    /// one that did not fit, and resumes after it with `Last-Event-ID`). False once this
    /// subscriber is done.
    @discardableResult func deliver(_ event: FeedEvent) -> Bool {
        switch yield(event) {
        case .enqueued: return true
        case .dropped:
            finish()
            return false
        case .terminated: return false
        @unknown default: return true
        }
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
