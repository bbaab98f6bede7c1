import AsyncHTTPClient
import FoundationEssentials
import NIOCore
import PushyProtocol
import Synchronization

/// One server-sent event of a job status feed (spec 2.3): `event:` name, `id:` (`job-N`,
/// `org-N`, `start_id`) and the `data:` JSON object.
public struct FeedEvent: Sendable, Equatable {
    public var name: String
    public var id: String?
    /// The data object; a data line that is not JSON arrives as `.string`.
    public var data: JSONValue

    public init(name: String, id: String?, data: JSONValue) {
        self.name = name
        self.id = id
        self.data = data
    }
}

extension PushyRESTClient {
    /// The live event feed of one job (GET pushy/job_status_feed/ID). It replays the job's
    /// history (or only what follows `lastEventID`), then streams live events, and finishes when
    /// the server closes the stream after `job_complete`. A non-2xx answer (404 unknown job)
    /// ends it with `.http`; a silent connection (no byte, not even a keep-alive, for
    /// `idleTimeout`) ends it with `.unreachable`.
    public func jobFeed(id: String, lastEventID: String? = nil,
                        idleTimeout: Duration = .seconds(60)) -> AsyncThrowingStream<FeedEvent, Error> {
        feed("pushy/job_status_feed/\(Self.escape(id))", lastEventID: lastEventID, idleTimeout: idleTimeout)
    }

    /// The organization's feed of `start` and `job_complete` events (GET pushy/job_status_feed).
    /// Without `lastEventID` it is live only; it never ends by itself (cancel the iterating task).
    public func orgFeed(lastEventID: String? = nil,
                        idleTimeout: Duration = .seconds(60)) -> AsyncThrowingStream<FeedEvent, Error> {
        feed("pushy/job_status_feed", lastEventID: lastEventID, idleTimeout: idleTimeout)
    }

    func feed(_ path: String, lastEventID: String?, idleTimeout: Duration) -> AsyncThrowingStream<FeedEvent, Error> {
        let (stream, continuation) = AsyncThrowingStream<FeedEvent, Error>.makeStream()
        let task = Task {
            do {
                try await readFeed(path, lastEventID: lastEventID, idleTimeout: idleTimeout) { continuation.yield($0) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// Opens the signed SSE request and hands every parsed event to `emit`.
    func readFeed(_ path: String, lastEventID: String?, idleTimeout: Duration,
                  emit: @escaping @Sendable (FeedEvent) -> Void) async throws(PushyClientError) {
        var extra: [(String, String)] = [("Cache-Control", "no-cache")]
        if let lastEventID { extra.append(("Last-Event-ID", lastEventID)) }
        let (request, url) = try signedRequest("GET", path, accept: "text/event-stream", extraHeaders: extra)
        let activity = FeedActivity()
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    // No deadline: the body may stream forever; the watchdog below catches a dead peer.
                    let response = try await http.execute(request, deadline: .distantFuture)
                    activity.touch()
                    guard (200..<300).contains(Int(response.status.code)) else {
                        let body = try await response.body.collect(upTo: 1024 * 1024)
                        let reply = Reply(status: Int(response.status.code), body: Array(body.readableBytesView),
                                          headers: response.headers.map { ($0.name, $0.value) })
                        throw PushyClientError.http(status: reply.status, message: Self.errorMessage(reply), url: url)
                    }
                    var parser = ServerSentEventParser()
                    for try await chunk in response.body {
                        activity.touch()
                        for event in parser.feed(chunk.readableBytesView) { emit(event) }
                    }
                    for event in parser.finish() { emit(event) }
                }
                group.addTask {
                    // Watchdog: a feed that says nothing at all (the server's keep-alives come every
                    // 15 s by default) is dead. It wakes when the limit would pass since the last byte.
                    while true {
                        try await Task.sleep(until: activity.last + idleTimeout, clock: .continuous)
                        if activity.idle >= idleTimeout {
                            throw PushyClientError.unreachable(
                                url: url, reason: "the event feed went silent (no event and no keep-alive for "
                                    + "\(Self.seconds(idleTimeout)))")
                        }
                    }
                }
                try await group.next()
                group.cancelAll()
            }
        } catch let e as PushyClientError {
            throw e
        } catch is CancellationError {
            return
        } catch {
            throw .unreachable(url: url, reason: Self.describe(error))
        }
    }
}

/// When the feed last received anything, shared between the reader and its watchdog.
final class FeedActivity: Sendable {
    private let lastByte = Mutex(ContinuousClock.now)
    func touch() { lastByte.withLock { $0 = .now } }
    var last: ContinuousClock.Instant { lastByte.withLock { $0 } }
    var idle: Duration { ContinuousClock.now - last }
}

extension PushyRESTClient {
    /// `45 s`, `1.5 s`: a duration as people read it in messages.
    static func seconds(_ d: Duration) -> String {
        let s = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        return s == s.rounded() ? "\(Int(s)) s" : "\(s) s"
    }
}

/// Incremental `text/event-stream` parser (WHATWG SSE rules): lines end with LF, CRLF or CR;
/// `field: value` (one leading space dropped); lines starting with ':' are comments (keep-alives);
/// a blank line dispatches the event when it has data.
struct ServerSentEventParser {
    private var line: [UInt8] = []
    private var lastWasCR = false
    private var name = ""
    private var id: String?
    private var data: [String] = []
    private var hasData = false

    mutating func feed(_ bytes: some Sequence<UInt8>) -> [FeedEvent] {
        var out: [FeedEvent] = []
        for b in bytes {
            if b == UInt8(ascii: "\n"), lastWasCR {
                lastWasCR = false
                continue
            }
            lastWasCR = b == UInt8(ascii: "\r")
            if b == UInt8(ascii: "\n") || b == UInt8(ascii: "\r") {
                if let e = endLine() { out.append(e) }
            } else {
                line.append(b)
            }
        }
        return out
    }

    /// At end of stream: an event not followed by a blank line is dropped, as the SSE rules say.
    mutating func finish() -> [FeedEvent] { [] }

    private mutating func endLine() -> FeedEvent? {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty { return dispatch() }
        if line.first == UInt8(ascii: ":") { return nil }
        let text = String(decoding: line, as: UTF8.self)
        let field: Substring
        var value: Substring
        if let colon = text.firstIndex(of: ":") {
            field = text[..<colon]
            value = text[text.index(after: colon)...]
            if value.first == " " { value = value.dropFirst() }
        } else {
            field = Substring(text)
            value = ""
        }
        switch field {
        case "event": name = String(value)
        case "id": id = String(value)
        case "data":
            data.append(String(value))
            hasData = true
        default: break
        }
        return nil
    }

    private mutating func dispatch() -> FeedEvent? {
        defer {
            name = ""
            data = []
            hasData = false
        }
        guard hasData else { return nil }
        let text = data.joined(separator: "\n")
        let value = (try? JSONValue.parse(text)) ?? .string(text)
        // The id is sticky (the SSE "last event id"), the name is per event.
        return FeedEvent(name: name.isEmpty ? "message" : name, id: id, data: value)
    }
}
