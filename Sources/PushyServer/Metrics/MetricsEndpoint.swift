import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import PushyZMQ
import ServiceLifecycle

/// The `metrics_listen` listener: plain HTTP, `GET /metrics` only, no authentication (bind it to
/// loopback or a private address; docs/operations.md).
enum MetricsEndpoint {
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// Samples the engine, then answers with the exposition text.
    static func response(metrics: PushyMetrics, engine: CommandEngine, budget: ConnectionBudget) async -> Response {
        await metrics.sample(engine: engine, budget: budget)
        let bytes = metrics.exposition()
        return Response(status: .ok, headers: [.contentType: contentType],
                        body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func application(host: String, port: Int, metrics: PushyMetrics, engine: CommandEngine,
                            budget: ConnectionBudget, logger: Logger,
                            onRunning: @escaping @Sendable (Int) -> Void) -> some Service {
        let router = Router()
        router.get("/metrics") { _, _ -> Response in
            await response(metrics: metrics, engine: engine, budget: budget)
        }
        router.get("/") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: "Pushy metrics: GET /metrics (Prometheus text format)\n")))
        }
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "pushy-metrics"),
            onServerRunning: { channel in onRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
        return Listener(app: app, address: "\(host):\(port)")
    }

    /// The listener, whose failure to start says which setting to change.
    struct Listener<App: Service>: Service {
        let app: App
        let address: String

        func run() async throws {
            do { try await app.run() } catch {
                throw ServerStartError("cannot serve /metrics on \(address) (metrics_listen): \(error); "
                    + "set metrics_listen (--metrics-listen, PUSHY_SERVER_METRICS_LISTEN) to a free HOST:PORT, or to '' to turn the listener off")
            }
        }
    }
}
