import Foundation
import PushyAPIClient
import Synchronization

/// Watches the org's job feed (opened before the jobs start) and tells when each job's
/// `job_complete` arrived: the single-node job is timed POST → complete with one REST call (the
/// POST), not two (a long poll also pays for signing and authenticating its own request).
final class CompletionWatch: Sendable {
    private struct State {
        var arrived: [String: ContinuousClock.Instant] = [:]
        var waiters: [String: CheckedContinuation<ContinuousClock.Instant?, Never>] = [:]
        var failed: String?
    }

    private let state = Mutex(State())
    private let task: Mutex<Task<Void, Never>?> = Mutex(nil)

    /// Starts reading `client`'s org feed. The bench runs its all-node jobs before any job is
    /// timed on it, so the subscription is in place by then; a job the feed misses fails the
    /// bench (`timeJobOnFeed`).
    init(_ client: PushyRESTClient) {
        let t = Task { [self] in
            do {
                for try await event in client.orgFeed() where event.name == "job_complete" {
                    let at = ContinuousClock.now
                    guard let id = event.data["job"]?.stringValue else { continue }
                    let waiter = self.state.withLock { s in
                        s.arrived[id] = at
                        return s.waiters.removeValue(forKey: id)
                    }
                    waiter?.resume(returning: at)
                }
            } catch {
                let waiters = self.state.withLock { s in
                    s.failed = "\(error)"
                    defer { s.waiters = [:] }
                    return s.waiters
                }
                for w in waiters.values { w.resume(returning: nil) }
            }
        }
        task.withLock { $0 = t }
    }

    /// When `id`'s `job_complete` arrived, waiting for it up to `timeout`; nil when it did not
    /// (or the feed failed).
    func completed(_ id: String, timeout: Duration) async -> ContinuousClock.Instant? {
        await withTaskGroup(of: ContinuousClock.Instant?.self) { group in
            group.addTask { [self] in
                await withCheckedContinuation { (c: CheckedContinuation<ContinuousClock.Instant?, Never>) in
                    let now: ContinuousClock.Instant?? = self.state.withLock { s in
                        if let at = s.arrived[id] { return .some(at) }
                        if s.failed != nil { return .some(nil) }
                        s.waiters[id] = c
                        return nil
                    }
                    if let now { c.resume(returning: now) }
                }
            }
            group.addTask { [self] in
                try? await Task.sleep(for: timeout)
                let w = self.state.withLock { $0.waiters.removeValue(forKey: id) }
                w?.resume(returning: nil)
                return nil
            }
            let first = await group.next() ?? nil
            // The other child: a waiter still registered is released, a timer is cancelled.
            let w = state.withLock { $0.waiters.removeValue(forKey: id) }
            w?.resume(returning: nil)
            group.cancelAll()
            return first
        }
    }

    /// Why the feed stopped, once it did.
    var failure: String? { state.withLock { $0.failed } }

    func stop() { task.withLock { $0?.cancel() } }
}
