import PushyProtocol

/// One job event as the SSE feeds carry it (spec 2.3 event catalogue). `fields` excludes the
/// timestamp, which the server adds when it records the event.
public struct JobFeedEvent: Sendable, Equatable {
    public var name: String
    public var fields: [(String, JSONValue)]

    public init(_ name: String, _ fields: [(String, JSONValue)] = []) {
        self.name = name
        self.fields = fields
    }

    public static func == (a: JobFeedEvent, b: JobFeedEvent) -> Bool {
        a.name == b.name && JSONValue.object(a.fields) == JSONValue.object(b.fields)
    }

    static func vote(_ node: String, _ status: String) -> JobFeedEvent {
        JobFeedEvent("quorum_vote", [("node", .string(node)), ("status", .string(status))])
    }

    static func runComplete(_ node: String, _ status: String) -> JobFeedEvent {
        JobFeedEvent("run_complete", [("node", .string(node)), ("status", .string(status))])
    }
}
