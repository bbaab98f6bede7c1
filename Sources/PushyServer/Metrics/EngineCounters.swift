import PushyProtocol

/// What the engine counts as it goes, for `/metrics` (read at scrape time, so the hot paths
/// only bump integers in the engine's own actor: no metrics library call per message).
struct EngineCounters: Sendable {
    /// Agent messages handled (checked and routed), by type in `AgentMessageType.allCases`
    /// order, then types Pushy does not know: an array, because every heartbeat bumps it.
    var inboundCounts = [Int](repeating: 0, count: AgentMessageType.allCases.count + 1)

    mutating func countInbound(_ type: AgentMessageType?) {
        inboundCounts[type.flatMap { AgentMessageType.allCases.firstIndex(of: $0) } ?? AgentMessageType.allCases.count] += 1
    }

    /// Agent messages handled, by wire type (`unknown` for the others); types never seen are absent.
    var inbound: [String: Int] {
        var out: [String: Int] = [:]
        for (i, t) in AgentMessageType.allCases.enumerated() where inboundCounts[i] > 0 { out[t.rawValue] = inboundCounts[i] }
        if let unknown = inboundCounts.last, unknown > 0 { out["unknown"] = unknown }
        return out
    }
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
