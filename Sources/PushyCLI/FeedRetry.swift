/// When a job's live feed breaks, whether to connect again or give up on it (then the job is
/// polled). A connection that brought new events is always resumed. One that brought none —
/// refused, cut, or silent past the stall limit before its first byte, as a new TLS connection
/// on a loaded machine can be — is tried again, a second apart, up to `attempts` times in a row;
/// an HTTP answer (a server without feeds, a job that is gone) is final at once.
struct FeedRetry {
    /// Unproductive connections in a row before falling back to polling.
    static let attempts = 3
    private(set) var unproductive = 0

    enum Decision: Equatable {
        /// Connect again now (the last connection brought events).
        case resume
        /// Connect again after a short pause (it brought nothing, but may next time).
        case retry
        /// Stop reading the feed.
        case giveUp
    }

    mutating func next(progressed: Bool, final: Bool) -> Decision {
        if final { return .giveUp }
        if progressed {
            unproductive = 0
            return .resume
        }
        unproductive += 1
        return unproductive < Self.attempts ? .retry : .giveUp
    }

    /// Decides after a broken connection and says so on stderr (`-- FEED interrupted (…); …`),
    /// waiting the pause before a retry; false when the feed is given up (the caller says how
    /// it goes on).
    mutating func goOn(_ feed: String, reason: String, progressed: Bool, final: Bool, lastID: String?) async throws -> Bool {
        switch next(progressed: progressed, final: final) {
        case .resume:
            Output.stderr("-- \(feed) interrupted (\(reason)); resuming" + (lastID.map { " after event \($0)" } ?? ""))
            return true
        case .retry:
            Output.stderr("-- \(feed) interrupted (\(reason)); connecting again")
            try await Task.sleep(for: .seconds(1))
            return true
        case .giveUp:
            return false
        }
    }
}
