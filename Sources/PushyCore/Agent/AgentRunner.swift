import PushyProtocol

/// The agent's job runner (spec 7.3): `idle` —commit→ `committed` —run→ `running` —exit→ `idle`;
/// `abort` from any state → `idle` + `aborted`. One job at a time: commits while busy are nacked.
/// A value that returns what to do; the runtime sends the messages and runs the processes.
public struct AgentRunner: Sendable {
    /// Everything needed to start the job's process.
    public struct Plan: Sendable, Equatable {
        public var jobId: String
        public var commandLine: String
        public var lock: WhitelistLock?
        public var user: String?
        public var dir: String?
        public var env: [(String, String)]
        public var file: String?
        public var capture: Bool
        public var runTimeout: Int?

        public static func == (a: Plan, b: Plan) -> Bool {
            a.jobId == b.jobId && a.commandLine == b.commandLine && a.lock == b.lock && a.user == b.user
                && a.dir == b.dir && a.file == b.file && a.capture == b.capture && a.runTimeout == b.runTimeout
                && a.env.map { "\($0.0)=\($0.1)" } == b.env.map { "\($0.0)=\($0.1)" }
        }
    }

    public enum State: Sendable, Equatable {
        case idle
        case committed(Plan)
        case running(jobId: String)
    }

    /// What the runtime must do.
    public enum Output: Sendable, Equatable {
        case send(AgentMessageType, jobId: String?, reason: String?)
        case spawn(Plan)
        /// Kill the job's process group (abort).
        case kill(jobId: String)
    }

    /// Facts about the machine a commit depends on (the runtime answers them).
    public struct Checks: Sendable {
        public var userExists: @Sendable (String) -> Bool
        public var directoryExists: @Sendable (String) -> Bool
        public init(userExists: @escaping @Sendable (String) -> Bool, directoryExists: @escaping @Sendable (String) -> Bool) {
            self.userExists = userExists
            self.directoryExists = directoryExists
        }
    }

    public private(set) var state: State = .idle
    public let whitelist: Whitelist

    public init(whitelist: Whitelist) { self.whitelist = whitelist }

    public var jobId: String? {
        switch state {
        case .idle: nil
        case .committed(let p): p.jobId
        case .running(let j): j
        }
    }

    public var jobState: AgentJobState {
        switch state {
        case .idle: .idle
        case .committed: .committed
        case .running: .running
        }
    }

    /// A `commit` from the server: ack if idle, whitelisted and the user/dir/file are usable.
    public mutating func commit(_ m: ServerMessage, checks: Checks) -> [Output] {
        guard let jobId = m.jobId else { return [] }
        func nack(_ reason: String) -> [Output] { [.send(.nackCommit, jobId: jobId, reason: reason)] }
        guard state == .idle else { return nack("busy: already working on job \(self.jobId ?? "?")") }
        let command = m.command ?? ""
        guard let match = whitelist.resolve(command) else { return nack("not whitelisted: '\(command)'") }
        if let u = m.user, !checks.userExists(u) { return nack("no such user: '\(u)'") }
        if let d = m.dir, !checks.directoryExists(d) { return nack("no such directory: '\(d)'") }
        if let f = m.file, !(f.hasPrefix("raw:") || f.hasPrefix("base64:")) {
            return nack("bad file: expected 'raw:' or 'base64:' prefix")
        }
        let env = (m.env?.objectValue ?? []).compactMap { k, v in v.stringValue.map { (k, $0) } }
        let plan = Plan(jobId: jobId, commandLine: match.commandLine, lock: match.lock, user: m.user, dir: m.dir,
                        env: env, file: m.file, capture: m.capture ?? false, runTimeout: m.runTimeout)
        state = .committed(plan)
        return [.send(.ackCommit, jobId: jobId, reason: nil)]
    }

    /// A `run` from the server: start the committed job, or nack.
    public mutating func run(jobId: String?) -> [Output] {
        guard case .committed(let plan) = state, plan.jobId == jobId else {
            return [.send(.nackRun, jobId: jobId, reason: "not committed to this job")]
        }
        state = .running(jobId: plan.jobId)
        return [.send(.ackRun, jobId: plan.jobId, reason: nil), .spawn(plan)]
    }

    /// The process could not be started: report failure and go idle.
    public mutating func spawnFailed(jobId: String, reason: String) -> [Output] {
        guard case .running(let j) = state, j == jobId else { return [] }
        state = .idle
        return [.send(.failed, jobId: jobId, reason: reason)]
    }

    /// The job's process ended.
    public mutating func exited(jobId: String, status: Int32) -> [Output] {
        guard case .running(let j) = state, j == jobId else { return [] }
        state = .idle
        return [.send(status == 0 ? .succeeded : .failed, jobId: jobId, reason: nil)]
    }

    /// `abort` from the server: stop whatever is going on and answer `aborted` with the previous job.
    public mutating func abort() -> [Output] {
        let previous = jobId
        var out: [Output] = []
        if case .running(let j) = state { out.append(.kill(jobId: j)) }
        state = .idle
        out.append(.send(.aborted, jobId: previous, reason: nil))
        return out
    }
}
