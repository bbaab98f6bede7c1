import Synchronization

/// Cuts `EngineTicker`'s idle wait short. An idle engine (no job running, nobody in rehab) is
/// ticked at most once a second instead of five times; the engine rings this bell when such
/// work starts, so a new job's timers are watched from its first moment, not up to a second
/// late. One waiter (the ticker).
final class TickBell: Sendable {
    private struct State {
        var sleeper: Task<Void, Never>?
        /// Rung while no wait was under way: the next wait returns at once.
        var rung = false
    }
    private let state = Mutex(State())

    /// Waits `duration`, or less when the bell rings meanwhile (or rang since the last wait).
    func wait(_ duration: Duration) async {
        let sleeper = Task { _ = try? await Task.sleep(for: duration) }
        let early = state.withLock { s -> Bool in
            if s.rung {
                s.rung = false
                return true
            }
            s.sleeper = sleeper
            return false
        }
        if early { sleeper.cancel() }
        await withTaskCancellationHandler { await sleeper.value } onCancel: { sleeper.cancel() }
        state.withLock { $0.sleeper = nil }
    }

    /// Ends the wait under way, or the next one at once.
    func ring() {
        let sleeper = state.withLock { s -> Task<Void, Never>? in
            defer { s.sleeper = nil }
            if s.sleeper == nil { s.rung = true }
            return s.sleeper
        }
        sleeper?.cancel()
    }
}
