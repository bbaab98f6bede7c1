import PushyTestSupport
import Synchronization
import Testing

/// Things a fake saw, in order, that a test can wait for with a deadline (no polling, no sleeps).
final class Recorder<Item: Sendable>: Sendable {
    private struct Waiter {
        let condition: @Sendable ([Item]) -> Bool
        let latch: Latch
    }

    private struct State {
        var items: [Item] = []
        var waiters: [Waiter] = []
    }

    private let state = Mutex(State())

    init() {}

    var items: [Item] { state.withLock { $0.items } }

    func append(_ item: Item) {
        let ready = state.withLock { s -> [Latch] in
            s.items.append(item)
            let items = s.items
            let ready = s.waiters.filter { $0.condition(items) }.map(\.latch)
            s.waiters.removeAll { w in ready.contains { $0 === w.latch } }
            return ready
        }
        for latch in ready { latch.open() }
    }

    /// Waits until `condition` holds for the items so far; false at the deadline.
    func wait(within timeout: Duration = .seconds(10), until condition: @escaping @Sendable ([Item]) -> Bool) async -> Bool {
        let latch = Latch()
        let now = state.withLock { s -> Bool in
            if condition(s.items) { return true }
            s.waiters.append(Waiter(condition: condition, latch: latch))
            return false
        }
        return now ? true : await latch.wait(timeout: timeout)
    }

    /// The first item matching `match`, waiting for it up to `timeout`; records an issue and
    /// throws `Missing` when none comes.
    func first(_ what: String, within timeout: Duration = .seconds(10), sourceLocation: SourceLocation = #_sourceLocation,
               where match: @escaping @Sendable (Item) -> Bool = { _ in true }) async throws -> Item {
        if await wait(within: timeout, until: { $0.contains(where: match) }), let item = items.first(where: match) {
            return item
        }
        Issue.record("\(what) did not come within \(timeout)", sourceLocation: sourceLocation)
        throw Missing(description: "\(what) did not come within \(timeout)")
    }

    /// What `first` throws at its deadline.
    struct Missing: Error, CustomStringConvertible {
        let description: String
    }
}
