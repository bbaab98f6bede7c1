import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PushyProtocol
import PushyStore

extension PushyAPI {
    static let lastEventIdHeader = HTTPField.Name("Last-Event-ID")!
    static let accelBuffering = HTTPField.Name("X-Accel-Buffering")!
    static let truncatedHeader = HTTPField.Name("X-Pushy-Output-Truncated")!

    /// `GET jobs/{id}/output/{node}/{stdout|stderr}`: the exact captured bytes.
    func jobOutput(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org"), id = param(context, "id"), node = param(context, "node")
        let channel = param(context, "channel")
        try await requireJobReader(try await authenticate(request, org: orgName, body: body), org: orgName, jobId: id)
        guard channel == "stdout" || channel == "stderr" else {
            throw .notFound("no such output channel '\(channel)' (use stdout or stderr)")
        }
        _ = try await jobView(org: orgName, id: id)
        var output = await engine.activeOutput(org: orgName, jobId: id, node: node)
        if output == nil {
            do { output = try await store.output(jobId: id, node: node) } catch { throw .from(error) }
        }
        guard let output else {
            throw .notFound("no output captured for node '\(node)' in job '\(id)' (start the job with capture_output)")
        }
        let bytes = channel == "stdout" ? output.stdout : output.stderr
        let truncated = channel == "stdout" ? output.stdoutTruncated : output.stderrTruncated
        var headers: HTTPFields = [.contentType: "application/octet-stream"]
        if truncated { headers[Self.truncatedHeader] = "true" }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// `GET job_status_feed/{id}` (spec 2.3): history (after `Last-Event-ID`), then live events
    /// until `job_complete`; a job no longer in memory gets one `summary` event.
    func jobFeed(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org"), id = param(context, "id")
        try await requireJobReader(try await authenticate(request, org: orgName, body: body), org: orgName, jobId: id)
        let lastId = request.headers[Self.lastEventIdHeader]
        // Pushy extension (the dashboard): `?output=none` leaves out `output` events, `?output=NODE`
        // keeps only that node's, so a page over thousands of nodes never receives all their output.
        let only = request.uri.queryParameters.get("output").map { String($0) }
        let keep: @Sendable (FeedEvent) -> Bool = { e in
            guard let only, e.name == "output" else { return true }
            return only != "none" && e.data["node"]?.stringValue == only
        }
        switch await engine.subscribeJob(org: orgName, id: id, lastEventId: lastId, keep: keep) {
        case .active(let replay, let live):
            return sse(replay: replay, live: live, endless: false, keep: keep)
        case .notActive:
            let view = try await jobView(org: orgName, id: id)
            if await engine.clusterId != nil, !view.status.isTerminal {
                // Run by another server of the cluster: follow its stored state.
                let feed = polledJobFeed(org: orgName, id: id, first: view)
                return sse(replay: feed.replay, live: feed.live, endless: false, keep: keep)
            }
            var fields = view.json.objectValue ?? []
            fields.insert(("timestamp", .string(WireTime.feed(Date()))), at: 0)
            return sse(replay: [FeedEvent(name: "summary", id: "job-1", data: .object(fields))], live: nil, endless: false)
        }
    }

    /// `GET job_status_feed` (spec 2.3): `start` and `job_complete` of every job in the org; never ends.
    func orgFeed(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org")
        try await requireReader(try await authenticate(request, org: orgName, body: body))
        let sub = await engine.subscribeOrg(org: orgName, lastEventId: request.headers[Self.lastEventIdHeader])
        return sse(replay: sub.replay, live: sub.live, endless: true)
    }

    /// Streams events with `:keepalive` comments every `keepAliveTime` seconds; the stream ends
    /// after the replay when there is no live part, or when the live part ends. The keep-alives
    /// go along the live stream itself (`LiveFeed`): an event wakes only this writer's task.
    func sse(replay: [FeedEvent], live: LiveFeed?, endless: Bool,
             keep: @escaping @Sendable (FeedEvent) -> Bool = { _ in true }) -> Response {
        let keepAlive = config.keepAliveTime
        let headers: HTTPFields = [
            .contentType: "text/event-stream", .cacheControl: "no-cache", Self.accelBuffering: "no",
        ]
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            for e in replay where keep(e) { try await writer.write(ByteBuffer(string: e.text)) }
            if let live {
                // A keep-alive that does not fit a full buffer is simply not sent: the events
                // filling it keep the connection busy.
                let ticker = Task { [continuation = live.continuation] in
                    while !Task.isCancelled {
                        try await Task.sleep(for: .seconds(keepAlive))
                        continuation.yield(.keepAlive)
                    }
                }
                // However the writer stops (the client gone, the feed's end), the stream ends with
                // it, so the producer drops the subscription (`onTermination`) at once.
                defer {
                    ticker.cancel()
                    live.continuation.finish()
                }
                for await e in live.events where e.isKeepAlive || keep(e) {
                    try await writer.write(ByteBuffer(string: e.text))
                }
            }
            try await writer.finish(nil)
        })
    }
}
