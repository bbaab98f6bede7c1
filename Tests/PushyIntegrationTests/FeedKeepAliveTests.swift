import AsyncHTTPClient
import Foundation
import PushyAPIClient
import PushyProtocol
import Synchronization
import Testing

/// The SSE writer's keep-alives travel along the feed's live stream (`LiveFeed`, issue 16), over
/// a real socket: an idle org feed outlives its reader's idle limit, still carries events, and
/// a reader that goes away is unsubscribed (the `pushy_sse_subscribers` gauge).
@Suite(.timeLimit(.minutes(2))) struct FeedKeepAliveTests {
    @Test func anIdleOrgFeedIsKeptAliveAndAReaderThatLeavesIsUnsubscribed() async throws {
        let c = try await TestCluster {
            $0.metricsToken = MetricsTests.token
            $0.keepAliveTime = 0.2
        }
        do {
            let port = try #require(await c.server.waitUntilMetricsListening())
            let url = "http://127.0.0.1:\(port)/metrics"
            func subscribers() async throws -> Double? {
                try await MetricsTests.scrape(HTTPClient.shared, url).samples["pushy_sse_subscribers{feed=\"org\"}"]
            }
            try await c.startAgent("k1")
            try await c.waitAvailable(["k1"])

            // A reader that gives up after 2 s without a byte (not even a keep-alive).
            let seen = Mutex<(names: [String], ended: String?)>(([], nil))
            let admin = c.admin!
            let reader = Task {
                do {
                    for try await e in admin.orgFeed(idleTimeout: .seconds(2)) { seen.withLock { $0.names.append(e.name) } }
                    seen.withLock { $0.ended = "the feed ended" }
                } catch {
                    seen.withLock { $0.ended = "\(error)" }
                }
            }
            defer { reader.cancel() }
            try await c.eventually("the org feed's reader subscribed", saw: { "\(seen.withLock { $0 })" }) {
                try await subscribers() == 1
            }
            // Twice the reader's idle limit with no event: only the keep-alives hold it open.
            try await Task.sleep(for: .seconds(4))
            #expect(seen.withLock { $0.ended } == nil, "the idle feed was dropped")

            let id = try await admin.startJob(JobRequest(command: "ok", nodes: ["k1"]))
            #expect(try await c.waitFinished(id).status == .complete)
            try await c.eventually("job_complete on the org feed", saw: { "\(seen.withLock { $0 })" }) {
                seen.withLock { $0.names.contains("job_complete") }
            }
            #expect(seen.withLock { $0.names } == ["start", "job_complete"])
            #expect(seen.withLock { $0.ended } == nil)

            // The reader leaves: the server drops its subscription.
            reader.cancel()
            try await c.eventually("the subscription dropped", saw: { "\(seen.withLock { $0 })" }) {
                try await subscribers() == 0
            }
        } catch {
            await c.shutdown()
            throw error
        }
        await c.shutdown()
    }
}
