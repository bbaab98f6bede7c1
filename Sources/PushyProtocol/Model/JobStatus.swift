/// Job status (spec 3.1). Raw values are the wire strings; `dbCode` is the reference's DB code.
public enum JobStatus: String, Sendable, CaseIterable, Codable {
    case voting, running, complete
    case quorumFailed = "quorum_failed"
    case aborted, new
    case timedOut = "timed_out"
    case crashed

    public var dbCode: Int {
        switch self {
        case .voting: 0
        case .running: 1
        case .complete: 2
        case .quorumFailed: 3
        case .aborted: 4
        case .new: 5
        case .timedOut: 6
        case .crashed: 7
        }
    }

    public init?(dbCode: Int) {
        guard let s = JobStatus.allCases.first(where: { $0.dbCode == dbCode }) else { return nil }
        self = s
    }

    public var isTerminal: Bool {
        switch self {
        case .new, .voting, .running: false
        default: true
        }
    }
}

/// Status of one node within one job (spec 3.2).
public enum NodeJobStatus: String, Sendable, CaseIterable, Codable {
    case new, ready, running, succeeded, failed, aborted, unavailable, nacked, faulty
    case wasReady = "was_ready"
    case crashed
    case timedOut = "timed_out"
    /// Pushy (issue 13): acked the commit and waits for its turn to run (rate control).
    case queued
    /// Pushy (issue 13): never told to run, because the job stopped launching (max_errors,
    /// a failed canary).
    case skipped

    /// The index in `allCases`: new cases go at the end, so stored codes keep their meaning.
    public var dbCode: Int { NodeJobStatus.allCases.firstIndex(of: self)! }

    public init?(dbCode: Int) {
        guard dbCode >= 0, dbCode < NodeJobStatus.allCases.count else { return nil }
        self = NodeJobStatus.allCases[dbCode]
    }

    public var isTerminal: Bool {
        switch self {
        case .new, .ready, .running, .queued: false
        default: true
        }
    }
}
