import Logging
import ServiceLifecycle
import Synchronization

/// Which of the server's services are still running, so a stop that takes long says what it
/// waits on (a warning every `every` until the group has ended) instead of hanging silently.
final class StopWatch: Sendable {
    private let running = Mutex<[String]>([])
    let every: Duration

    init(every: Duration = .seconds(10)) { self.every = every }

    /// `service`, wrapped to note when it starts and ends.
    func track(_ config: ServiceGroupConfiguration.ServiceConfiguration) -> ServiceGroupConfiguration.ServiceConfiguration {
        var c = config
        // The type's name without its generic arguments (`Application`, not `Application<RouterResponder<…>>`).
        let name = String(String(describing: type(of: config.service)).prefix { $0 != "<" })
        c.service = Tracked(name: name, inner: config.service, watch: self)
        return c
    }

    var stillRunning: [String] { running.withLock { $0 } }

    /// Until cancelled (the group ended): every `every`, a warning naming what has not stopped.
    func report(_ logger: Logger) async {
        let started = ContinuousClock.now
        while true {
            do { try await Task.sleep(for: every) } catch { return }
            let left = stillRunning
            if left.isEmpty { return }
            logger.warning("the server is still stopping; waiting on \(left.joined(separator: ", "))", metadata: [
                "pushy.stopping_for": "\(ContinuousClock.now - started)"])
        }
    }

    fileprivate func started(_ name: String) { running.withLock { $0.append(name) } }

    fileprivate func ended(_ name: String) {
        running.withLock { r in if let i = r.firstIndex(of: name) { r.remove(at: i) } }
    }

    private struct Tracked: Service {
        let name: String
        let inner: any Service
        let watch: StopWatch

        func run() async throws {
            watch.started(name)
            defer { watch.ended(name) }
            try await inner.run()
        }
    }
}
