import PushyProtocol

/// What the engine counts as it goes, for `/metrics` (read at scrape time, so the hot paths
/// only bump integers in the engine's own actor: no metrics library call per message).
struct EngineCounters: Sendable {
    /// Agent messages handled (checked and routed), by wire type.
    var inbound: [String: Int] = [:]
    /// Messages sent to agents, by wire type (heartbeat broadcasts are counted once each).
    var outbound: [String: Int] = [:]
    var jobsStarted = 0
    /// Jobs that reached a final state, by that state.
    var jobsEnded: [String: Int] = [:]
    /// Node-in-job changes, by new status and a reason class (`reasonClass`, a small fixed set).
    var nodeTransitions: [Transition: Int] = [:]

    struct Transition: Hashable, Sendable {
        var status: String
        var reason: String
    }

    mutating func nodeChanged(_ status: NodeJobStatus, reason: String?) {
        nodeTransitions[Transition(status: status.rawValue, reason: Self.reasonClass(reason)), default: 0] += 1
    }

    /// A node-in-job reason (free text naming nodes, users and seconds) as one of a few stable
    /// label values, so the metric's series stay few.
    static func reasonClass(_ reason: String?) -> String {
        guard let r = reason, !r.isEmpty else { return "none" }
        let table: [(String, String)] = [
            ("nacked", "nacked"), ("no vote", "voting_timeout"), ("quorum failed", "quorum_failed"),
            ("still running at the run timeout", "run_timeout"), ("job aborted", "aborted"),
            ("not launched", "not_launched"), ("lost", "lost"), ("offline", "offline"),
            ("unavailable", "unavailable"), ("the node refused", "refused"), ("unexpected message", "unexpected_message"),
            ("left the job", "left"), ("the agent", "disowned"),
        ]
        for (prefix, label) in table where r.hasPrefix(prefix) { return label }
        if r.contains("exit") || r.contains("status") { return "command" }
        return "other"
    }
}
