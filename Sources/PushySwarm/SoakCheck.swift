import PushyProtocol

/// What an agent of the swarm did in one job, one letter per event, in order (the swarm keeps
/// them when `SwarmConfiguration.recordJobs` is on and hands them out with `Swarm.report(job:)`).
public enum AgentJobEvent: Character, Sendable, CaseIterable {
    /// Sent `ack_commit`.
    case ackCommit = "c"
    /// Sent `nack_commit` because the job's plan said so.
    case nackCommit = "n"
    /// Sent `nack_commit` because it was in another job.
    case nackBusy = "b"
    /// Sent `ack_run`.
    case ackRun = "r"
    /// Sent `nack_run` (a `run` for a job it had not committed to).
    case nackRun = "x"
    /// Answered a second `run` for the job it is already running (the server resent it) with
    /// `ack_run` again, as the real agent does. Not a result: the command goes on and reports
    /// `s` or `f`.
    case duplicateRun = "y"
    /// Sent `succeeded` / `failed`.
    case succeeded = "s"
    case failed = "f"
    /// Received `abort` while in this job (and answered `aborted`).
    case aborted = "a"
    /// Was muted while in this job (no heartbeats or answers until unmuted).
    case muted = "m"
    /// Restarted (new incarnation, new connection) while in this job.
    case restarted = "k"
    /// Sent a heartbeat more than an interval after it was due while in this job (the swarm's
    /// process was starved of CPU): the server may rightly have taken the node for dead.
    case late = "l"
}

/// The soak's rule: which node-in-job states the server may show for what the agent did.
///
/// Pure, so it is tested table by table. A job-level end (abort, run timeout, quorum failure)
/// can overtake a node that had not reported a result yet; a result already sent is final,
/// except that a REST abort may overtake it in flight.
public enum SoakCheck {
    /// Why the server's state disagrees with the agent's events, or nil when they agree.
    /// `events` is nil when the agent never heard of the job (offline, muted, in rehab).
    public static func mismatch(events: String?, node: NodeJobStatus, reason: String?, job: JobStatus) -> String? {
        guard job.isTerminal else { return "job still \(job.rawValue)" }
        guard node.isTerminal else { return "node still \(node.rawValue) in a \(job.rawValue) job" }
        let allowed = allowedStates(events: events, job: job)
        guard allowed.contains(node) else {
            let names = allowed.map(\.rawValue).sorted().joined(separator: "/")
            return "agent did '\(events ?? "")', server says \(node.rawValue) (expected \(names))"
        }
        if [.crashed, .unavailable, .nacked].contains(node), (reason ?? "").isEmpty {
            return "\(node.rawValue) without a reason"
        }
        return nil
    }

    /// The node states consistent with the agent's events in a job that ended with `job`.
    public static func allowedStates(events: String?, job: JobStatus) -> Set<NodeJobStatus> {
        if let events, events.contains(AgentJobEvent.late.rawValue) {
            // Silent too long for the server, which may have ended its part; or not.
            let onTime = events.filter { $0 != AgentJobEvent.late.rawValue }
            return allowedStates(events: onTime, job: job).union([.crashed])
        }
        let e = Array(events ?? "")
        // Whatever happens later, a job-level end can only overtake what the agent had not
        // reported yet; these are the states it leaves such a node in.
        var overtaken: Set<NodeJobStatus> = []
        switch job {
        case .aborted: overtaken = [.aborted]
        case .timedOut: overtaken = [.timedOut]
        case .quorumFailed: overtaken = [.wasReady]
        default: break
        }
        guard let first = e.first else {
            // Never heard of the job: offline, muted or in rehab when it was committed.
            return Set<NodeJobStatus>([.unavailable]).union(job == .aborted ? [.aborted] : [])
        }
        if first == AgentJobEvent.nackCommit.rawValue || first == AgentJobEvent.nackBusy.rawValue { return [.nacked] }
        // Only what happened before the agent went silent or restarted counts as reported.
        let disrupted = e.firstIndex { $0 == AgentJobEvent.muted.rawValue || $0 == AgentJobEvent.restarted.rawValue }
        let reported = e[..<(disrupted ?? e.count)]
        let abortOvertakes: Set<NodeJobStatus> = job == .aborted ? [.aborted] : []
        if let result = reported.first(where: { "sfx".contains($0) }) {
            let state: NodeJobStatus = result == AgentJobEvent.succeeded.rawValue ? .succeeded : .failed
            // A REST abort may reach the server before the result does.
            return Set<NodeJobStatus>([state]).union(abortOvertakes)
        }
        if disrupted != nil {
            // Lost mid-job: the server must notice (liveness, new incarnation) unless the job ended first.
            return Set<NodeJobStatus>([.crashed, .unavailable]).union(overtaken)
        }
        // Acked and then told to stop, or still running when the job ended.
        return overtaken
    }
}
