import Synchronization

/// What a swarm has done so far, over all its agents.
public struct SwarmStats: Sendable, Equatable, CustomStringConvertible {
    /// Agents with open sockets right now.
    public var connected = 0
    /// Agents that answered the server's `abort` since they last connected (the server then
    /// marks them available).
    public var ready = 0
    public var configFetches = 0
    public var fetchFailures = 0
    public var openFailures = 0
    public var reconfigures = 0
    public var heartbeatsSent = 0
    public var serverHeartbeats = 0
    public var commits = 0
    public var nacks = 0
    public var runs = 0
    public var succeeded = 0
    public var failed = 0
    public var aborts = 0
    /// Messages dropped: bad signature, bad JSON, outside the clock skew.
    public var badMessages = 0
    public var sendFailures = 0
    /// Reconnects because nothing arrived on the command socket within 4 s (CURVE refused).
    public var silentCommandChannels = 0
    /// Config fetches answered 503 (server at its connection budget); also in `fetchFailures`.
    public var unavailable = 0
    /// Agents restarted mid-job by `Swarm.restart(index:)`.
    public var restarts = 0
    /// Agents that moved to another of their servers (the last one failed or went silent).
    public var serverMoves = 0
    /// Most milliseconds a heartbeat went out after it was due (the swarm's own lag: an agent
    /// whose beats are late by 2.5 intervals is rightly found dead by the server).
    public var heartbeatLagMaxMs = 0

    public var description: String {
        "connected=\(connected) ready=\(ready) fetches=\(configFetches) fetchFailures=\(fetchFailures) "
            + "openFailures=\(openFailures) reconfigures=\(reconfigures) heartbeats=\(heartbeatsSent) "
            + "serverHeartbeats=\(serverHeartbeats) commits=\(commits) nacks=\(nacks) runs=\(runs) "
            + "succeeded=\(succeeded) failed=\(failed) aborts=\(aborts) bad=\(badMessages) sendFailures=\(sendFailures) silentCommand=\(silentCommandChannels) unavailable=\(unavailable) restarts=\(restarts) moves=\(serverMoves) hbLagMaxMs=\(heartbeatLagMaxMs)"
    }
}

/// Live counters shared by the shards' I/O threads and readers.
final class AtomicSwarmStats: Sendable {
    enum Field: Int, CaseIterable {
        case connected, ready, configFetches, fetchFailures, openFailures, reconfigures, heartbeatsSent
        case serverHeartbeats, commits, nacks, runs, succeeded, failed, aborts, badMessages, sendFailures
        case silentCommandChannels, unavailable, restarts, heartbeatLagMaxMs, serverMoves
    }

    private let values = Mutex([Int](repeating: 0, count: Field.allCases.count))

    func add(_ f: Field, _ n: Int = 1) { values.withLock { $0[f.rawValue] += n } }
    func get(_ f: Field) -> Int { values.withLock { $0[f.rawValue] } }
    func max(_ f: Field, _ n: Int) { values.withLock { $0[f.rawValue] = Swift.max($0[f.rawValue], n) } }

    var snapshot: SwarmStats {
        SwarmStats(
            connected: get(.connected), ready: get(.ready), configFetches: get(.configFetches),
            fetchFailures: get(.fetchFailures), openFailures: get(.openFailures), reconfigures: get(.reconfigures),
            heartbeatsSent: get(.heartbeatsSent), serverHeartbeats: get(.serverHeartbeats), commits: get(.commits),
            nacks: get(.nacks), runs: get(.runs), succeeded: get(.succeeded), failed: get(.failed),
            aborts: get(.aborts), badMessages: get(.badMessages), sendFailures: get(.sendFailures),
            silentCommandChannels: get(.silentCommandChannels), unavailable: get(.unavailable), restarts: get(.restarts),
            serverMoves: get(.serverMoves), heartbeatLagMaxMs: get(.heartbeatLagMaxMs))
    }
}
