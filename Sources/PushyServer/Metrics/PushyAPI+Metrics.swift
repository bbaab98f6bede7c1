import Foundation
import Hummingbird

extension PushyAPI {
    /// `GET /metrics` on the REST port: only with `metrics_token` set and presented as
    /// `Authorization: Bearer TOKEN` (the `metrics_listen` listener needs none).
    func metricsScrape(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        guard let token = config.metricsToken else {
            throw .notFound("/metrics is served on the metrics_listen address (\(config.metricsListen.isEmpty ? "off" : config.metricsListen)); set metrics_token to serve it here too, behind a bearer token")
        }
        let given = request.headers[.authorization] ?? ""
        guard given.hasPrefix("Bearer "), Self.constantTimeEqual(Array(given.utf8.dropFirst(7)), Array(token.utf8)) else {
            throw .metricsTokenRefused
        }
        return await MetricsEndpoint.response(metrics: engine.metrics, engine: engine, budget: connectionBudget)
    }

    /// Compares without stopping at the first difference (the token is a secret).
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for (x, y) in zip(a, b) { diff |= x ^ y }
        return diff == 0
    }
}
