import Synchronization

/// How this server's lease loop has been faring (`ClusterService.leaseOnce`): whether it has
/// been in touch with the database long enough since its last failure to judge its peers, and
/// when its full presence is due again. A value behind a lock; the clock is the caller's.
final class LeaseHealth: Sendable {
    /// In touch this long after a failure before peers are judged again.
    let judgeAfter: Duration
    private let state = Mutex<State>(State())

    struct State {
        var failed = false
        var okSince: ContinuousClock.Instant?
        var lastRefresh: ContinuousClock.Instant?
    }

    init(judgeAfter seconds: Double) {
        judgeAfter = .milliseconds(Int64(seconds * 1000))
    }

    /// A look at the database failed.
    func failed() {
        state.withLock {
            $0.failed = true
            $0.okSince = nil
        }
    }

    /// A look worked at `now`: whether peers may be judged (no failure yet, or in touch for
    /// `judgeAfter` since the last one).
    func succeeded(at now: ContinuousClock.Instant) -> Bool {
        state.withLock { s in
            guard s.failed else { return true }
            let since = s.okSince ?? now
            guard now - since >= judgeAfter else {
                s.okSince = since
                return false
            }
            s.failed = false
            s.okSince = nil
            return true
        }
    }

    /// Whether the full presence is due at `now` (every `every` seconds; not at the first look,
    /// which follows the registration's own snapshot).
    func refreshDue(at now: ContinuousClock.Instant, every seconds: Double) -> Bool {
        state.withLock { s in
            guard let last = s.lastRefresh else {
                s.lastRefresh = now
                return false
            }
            guard now - last >= .milliseconds(Int64(seconds * 1000)) else { return false }
            s.lastRefresh = now
            return true
        }
    }
}
