import CoreMetrics
import Foundation
import Prometheus
import Synchronization

/// The server's Prometheus metrics (`/metrics`, docs/operations.md). Two kinds:
///
/// - measured where they happen, through swift-metrics with this server's own factory (REST
///   request latency, store write latency and batch rows, heartbeat broadcast duration): one
///   histogram observation per event, never per agent message;
/// - read at scrape time from what the engine and the connection budget already count
///   (`sample`): agents, jobs, node transitions, messages in and out, drops, SSE subscribers.
///
/// Each server has its own registry (tests run several servers in one process), so nothing is
/// bootstrapped globally. `PushyMetrics.disabled` measures nothing (engine tests, tools).
public final class PushyMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    let factory: any MetricsFactory
    /// Counters mirrored from the engine's running totals: what was exported last, per series.
    private let exported = Mutex<[String: Int]>([:])
    let enabled: Bool

    public static let disabled = PushyMetrics(enabled: false)

    public convenience init() { self.init(enabled: true) }

    init(enabled: Bool) {
        self.enabled = enabled
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        guard enabled else {
            factory = NOOPMetricsHandler.instance
            return
        }
        var f = PrometheusMetricsFactory(registry: registry)
        let fast: [Duration] = [.microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
                                .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                                .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
                                .seconds(1), .milliseconds(2500), .seconds(5)]
        f.durationHistogramBuckets = [
            Names.restDuration: fast, Names.storeWriteDuration: fast, Names.broadcastDuration: fast,
        ]
        f.valueHistogramBuckets = [Names.storeWriteRows: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]]
        factory = f
    }

    enum Names {
        static let restDuration = "pushy_http_request_duration_seconds"
        static let storeWriteDuration = "pushy_store_write_duration_seconds"
        static let storeWriteRows = "pushy_store_write_batch_rows"
        static let broadcastDuration = "pushy_heartbeat_broadcast_duration_seconds"
    }

    // MARK: Measured where they happen

    /// One REST request: its route pattern (`/organizations/:org/pushy/jobs`), method, status and time.
    func restRequest(route: String, method: String, status: Int, duration: Duration) {
        guard enabled else { return }
        CoreMetrics.Timer(label: Names.restDuration,
                          dimensions: [("route", route), ("method", method), ("status", String(status))],
                          factory: factory).recordNanoseconds(duration.nanoseconds)
    }

    /// One store write of the job writer: how long it took and how many rows it carried.
    func storeWrite(duration: Duration, rows: Int, outcome: String) {
        guard enabled else { return }
        CoreMetrics.Timer(label: Names.storeWriteDuration, dimensions: [("outcome", outcome)], factory: factory)
            .recordNanoseconds(duration.nanoseconds)
        Recorder(label: Names.storeWriteRows, dimensions: [], aggregate: true, factory: factory).record(rows)
    }

    /// One signed heartbeat broadcast (the RSA signature is most of it).
    func heartbeatBroadcast(duration: Duration) {
        guard enabled else { return }
        CoreMetrics.Timer(label: Names.broadcastDuration, dimensions: [], factory: factory)
            .recordNanoseconds(duration.nanoseconds)
    }

    // MARK: Read at scrape time

    func gauge(_ name: String, _ help: String, _ labels: [(String, String)], _ value: Double) {
        registry.makeGauge(name: name, labels: labels, help: help).set(value)
    }

    func gauge(_ name: String, _ help: String, _ value: Double) {
        registry.makeGauge(name: name, labels: [], help: help).set(value)
    }

    /// Brings a Prometheus counter up to `total`, a running total kept elsewhere.
    func counter(_ name: String, _ help: String, _ labels: [(String, String)] = [], total: Int) {
        let key = name + "{" + labels.map { "\($0.0)=\($0.1)" }.joined(separator: ",") + "}"
        let delta = exported.withLock { last -> Int in
            let d = total - (last[key] ?? 0)
            if d > 0 { last[key] = total }
            return d
        }
        let c = registry.makeCounter(name: name, labels: labels, help: help)
        if delta > 0 { c.increment(by: Int64(delta)) }
    }

    /// The exposition text (Prometheus text format 0.0.4), after `sample` brought it up to date.
    public func exposition() -> [UInt8] { registry.emitToBuffer() }
}

extension Duration {
    var nanoseconds: Int64 {
        let (s, a) = components
        return s * 1_000_000_000 + a / 1_000_000_000
    }
}
