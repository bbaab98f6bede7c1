import AsyncHTTPClient
import Foundation
import NIOCore
import PushyAPIClient
import PushyProtocol
import PushyServer
import Testing

/// `/metrics` (issue 15): scraped over a real socket, on the `metrics_listen` listener and on the
/// REST port behind the bearer token; the figures move when a job runs.
@Suite(.serialized, .timeLimit(.minutes(3))) struct MetricsTests {
    static let token = "metrics-token-for-the-test-0123456789"

    /// One scrape: the status, the content type and the samples as `name{labels}` → value.
    static func scrape(_ http: HTTPClient, _ url: String, bearer: String? = nil) async throws
        -> (status: Int, contentType: String, samples: [String: Double], text: String) {
        var request = HTTPClientRequest(url: url)
        if let bearer { request.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
        let response = try await http.execute(request, timeout: .seconds(20))
        let text = String(decoding: try await response.body.collect(upTo: 4 << 20).readableBytesView, as: UTF8.self)
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let v = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = v
        }
        return (Int(response.status.code), response.headers.first(name: "Content-Type") ?? "", samples, text)
    }

    @Test func theFiguresMoveWhenAJobRuns() async throws {
        let c = try await TestCluster { $0.metricsToken = Self.token }
        let http = HTTPClient.shared
        do {
            let port = try #require(await c.server.waitUntilMetricsListening())
            let url = "http://127.0.0.1:\(port)/metrics"
            try await c.startAgent("m1")
            try await c.waitAvailable(["m1"])

            let before = try await Self.scrape(http, url)
            #expect(before.status == 200)
            #expect(before.contentType.hasPrefix("text/plain; version=0.0.4"))
            #expect(before.samples["pushy_agents_connected"] == 1)
            #expect(before.samples["pushy_agents_available"] == 1)
            #expect(before.samples["pushy_agents{state=\"idle\"}"] == 1)
            #expect(before.samples["pushy_jobs_started_total"] == 0)
            #expect(before.samples["pushy_jobs_ended_total{status=\"complete\"}"] == 0)
            #expect((before.samples["pushy_messages_received_total{type=\"heartbeat\"}"] ?? 0) >= 1)
            #expect(before.samples["pushy_connections_budget"].map { $0 > 0 } == true)
            #expect(before.text.contains("# HELP pushy_agents_connected"))

            let id = try await c.admin.startJob(JobRequest(command: "echo", nodes: ["m1"]))
            let done = try await c.waitFinished(id)
            #expect(done.status == .complete)

            let after = try await Self.scrape(http, url)
            #expect(after.samples["pushy_jobs_started_total"] == 1)
            #expect(after.samples["pushy_jobs_ended_total{status=\"complete\"}"] == 1)
            #expect(after.samples["pushy_job_node_transitions_total{status=\"succeeded\",reason=\"none\"}"] == 1
                    || after.samples.keys.contains { $0.hasPrefix("pushy_job_node_transitions_total{status=\"succeeded\"") })
            // The agent asked for `commit_run` (issue 16): one commit that runs, answered ack_run.
            #expect(after.samples["pushy_messages_sent_total{type=\"commit\"}"] == 1)
            #expect((after.samples["pushy_messages_sent_total{type=\"run\"}"] ?? 0) == 0)
            #expect(after.samples["pushy_messages_received_total{type=\"ack_run\"}"] == 1)
            #expect(after.samples["pushy_messages_received_total{type=\"succeeded\"}"] == 1)
            #expect((after.samples["pushy_messages_sent_total{type=\"heartbeat\"}"] ?? 0)
                    >= (before.samples["pushy_messages_sent_total{type=\"heartbeat\"}"] ?? 0))
            // REST: the job's POST, with its route pattern and status, in a latency histogram.
            #expect(after.samples["pushy_http_request_duration_seconds_count{route=\"/organizations/:org/pushy/jobs\",method=\"POST\",status=\"201\"}"] == 1,
                    "\(after.text.split(separator: "\n").filter { $0.contains("http_request") && $0.contains("_count") })")
            // Store writes were timed.
            #expect((after.samples["pushy_store_write_duration_seconds_count{outcome=\"ok\"}"] ?? 0) >= 1)
            #expect((after.samples["pushy_store_write_batch_rows_count"] ?? 0) >= 1)
            #expect((after.samples["pushy_heartbeat_broadcast_duration_seconds_count"] ?? 0) >= 1)

            // The REST port serves it too, only with the token.
            let api = try c.tls.httpClient()
            do {
                let base = "https://127.0.0.1:\(c.apiPort)/metrics"
                let refused = try await Self.scrape(api, base)
                #expect(refused.status == 401)
                let wrong = try await Self.scrape(api, base, bearer: String(Self.token.reversed()))
                #expect(wrong.status == 401)
                let ok = try await Self.scrape(api, base, bearer: Self.token)
                #expect(ok.status == 200)
                #expect(ok.samples["pushy_jobs_started_total"] == 1)
            } catch {
                Issue.record("\(error)")
            }
        } catch {
            Issue.record("\(error)")
        }
        await c.shutdown()
    }
}
