import Synchronization

/// The hand-off from any thread or task to an I/O thread: a mutex-guarded list plus a wake
/// signal. The poller is woken only when the list goes from empty to non-empty, so a burst
/// of sends costs one wake-up.
final class OutboundQueue<Item: Sendable>: Sendable {
    private struct State {
        var items: [Item] = []
        var stopping = false
    }

    let wake: WakeSignal
    private let state = Mutex(State())

    init(wake: WakeSignal) {
        self.wake = wake
    }

    /// Queues `items`; false (nothing queued) once the loop is stopping.
    @discardableResult
    func enqueue(_ items: some Collection<Item>) -> Bool {
        guard !items.isEmpty else { return true }
        let (accepted, mustWake): (Bool, Bool) = state.withLock { state in
            guard !state.stopping else { return (false, false) }
            let wasEmpty = state.items.isEmpty
            state.items.append(contentsOf: items)
            return (true, wasEmpty)
        }
        if mustWake { wake.signal() }
        return accepted
    }

    /// Asks the loop to stop; true the first time.
    func stop() -> Bool {
        let first = state.withLock { state in
            defer { state.stopping = true }
            return !state.stopping
        }
        if first { wake.signal() }
        return first
    }

    var isStopping: Bool { state.withLock { $0.stopping } }

    /// Items queued and not yet taken.
    var count: Int { state.withLock { $0.items.count } }

    /// Takes everything queued so far (called by the I/O thread).
    func takeAll() -> (items: [Item], stopping: Bool) {
        state.withLock { state in
            defer { state.items.removeAll(keepingCapacity: false) }
            return (state.items, state.stopping)
        }
    }
}
