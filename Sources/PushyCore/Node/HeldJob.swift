import PushyProtocol

/// The job that holds a node, as the server sees it, checked against what the node's own
/// heartbeats say (`job_state`, `job_id`, spec 5.3).
///
/// The two views part only when a message was lost: the agent finished (or never got `run`)
/// but its `succeeded` or `ack_run` did not arrive. Without this check the job waited for its
/// run timeout (an hour by default) while the node sat idle. The views must disagree for at
/// least one heartbeat interval before anything is done, so a result or ack still on its way
/// (sent just before an idle heartbeat) is not mistaken for a loss. A value: no clocks, no I/O.
public struct HeldJob: Sendable, Equatable {
    public let jobId: String
    /// The node's status in the job (`ready`, `running` or `queued`; others are not checked).
    public var status: NodeJobStatus
    /// When the heartbeats started to disagree (nil while they agree).
    public private(set) var disagreeingSince: Double?
    /// Whether `run` has gone to the node (a job's runs wait until its rows are durable).
    public private(set) var runSent = false

    public init(jobId: String, status: NodeJobStatus) {
        self.jobId = jobId
        self.status = status
    }

    /// `run` went to the node now: a `committed` heartbeat counts against it only from here
    /// (one that crossed it on the way, or came while the run was held, is no sign of a loss).
    public mutating func runWasSent() {
        runSent = true
        disagreeingSince = nil
    }

    /// What to do about one heartbeat.
    public enum Verdict: Sendable, Equatable {
        /// The node and the job agree (or it is too early to tell).
        case agrees
        /// They disagree, not yet for a whole interval: wait for the next heartbeat.
        case disagrees
        /// The node reports it is still committed to the job, which is running: `run` was lost,
        /// send it again (at most once per interval).
        case resendRun
        /// The node has left the job (idle, or on another job): end its part with this reason.
        case lost(reason: String)
    }

    /// Checks one heartbeat. `jobRunning`: the job passed its quorum (so `run` was sent).
    /// A heartbeat without `job_state` (an agent that does not report it) is never judged.
    public mutating func heartbeat(jobState: AgentJobState?, jobId reported: String?, jobRunning: Bool,
                                   now: Double, interval: Double) -> Verdict {
        guard let jobState else { return .agrees }
        let mine = reported == jobId
        let want: Verdict
        switch status {
        case .ready where mine && jobState == .committed:
            want = jobRunning && runSent ? .resendRun : .agrees
        case .ready where mine && jobState == .running, .running where mine && jobState != .idle:
            want = .agrees
        case .queued where mine && jobState == .committed:
            // Waiting for its turn (rate control): committed, as it should be.
            want = .agrees
        case .ready, .running, .queued:
            want = .lost(reason: Self.reason(jobState: jobState, reported: reported, expected: jobId))
        default:
            want = .agrees
        }
        guard want != .agrees else {
            disagreeingSince = nil
            return .agrees
        }
        guard let since = disagreeingSince else {
            disagreeingSince = now
            return .disagrees
        }
        guard now - since >= interval else { return .disagrees }
        // A resent `run` gets another interval to be answered before it is sent again.
        if want == .resendRun { disagreeingSince = now }
        return want
    }

    static func reason(jobState: AgentJobState, reported: String?, expected: String) -> String {
        if let reported, reported != expected {
            return "the agent reports job \(reported) (\(jobState.rawValue)), not this job: a message from it was lost"
        }
        return "the agent reports no job (\(jobState.rawValue)) for more than a heartbeat interval: its result was lost"
    }
}
