import FoundationEssentials
import PushyProtocol

/// The agent's job runner (spec 7.3): `idle` —commit→ `committed` —run→ `running` —exit→ `idle`;
/// `abort` from any state → `idle` + `aborted`. One job at a time: commits while busy are nacked.
/// Lock entries take their lock file at commit and release it when the job starts or is dropped
/// (spec 7.2, 12 point 5); the agent's own run timeout kills the job and reports `failed` (12 point 2).
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
        /// Kill the job's process group (abort, run timeout).
        case kill(jobId: String)
        /// Let go of the lock file taken at commit (spec 7.2: when the job starts or the runner goes idle).
        case releaseLock(String)
    }

    /// Facts about the machine a commit depends on (the runtime answers them).
    public struct Checks: Sendable {
        public var userExists: @Sendable (String) -> Bool
        public var directoryExists: @Sendable (String) -> Bool
        /// Whether the agent can switch to this (existing) user: only root can become someone else.
        public var canRunAs: @Sendable (String) -> Bool
        /// Takes the lock file without waiting; nil when it is now held by the agent, else why not
        /// (e.g. "lock held: PATH"), which becomes the nack reason.
        public var tryLock: @Sendable (String) -> String?
        public init(userExists: @escaping @Sendable (String) -> Bool, directoryExists: @escaping @Sendable (String) -> Bool,
                    canRunAs: @escaping @Sendable (String) -> Bool = { _ in true },
                    tryLock: @escaping @Sendable (String) -> String? = { _ in nil }) {
            self.userExists = userExists
            self.directoryExists = directoryExists
            self.canRunAs = canRunAs
            self.tryLock = tryLock
        }
    }

    public private(set) var state: State = .idle
    public let whitelist: Whitelist
    /// The file behind `lock: true` entries.
    public let defaultLockPath: String
    /// The lock file held since commit, until the job starts or is dropped.
    public private(set) var heldLock: String?
    /// Why the running job will be reported failed whatever its exit status (run timeout).
    private var failureReason: String?

    public init(whitelist: Whitelist, defaultLockPath: String = "/var/chef/cache/chef-client-running.pid") {
        self.whitelist = whitelist
        self.defaultLockPath = defaultLockPath
    }

    /// The lock file a whitelist lock stands for.
    public func lockPath(_ lock: WhitelistLock) -> String {
        switch lock {
        case .defaultLock: defaultLockPath
        case .path(let p): p
        }
    }

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
    /// With `commit_run` an accepted commit starts the job at once and is answered `ack_run`.
    public mutating func commit(_ m: ServerMessage, checks: Checks) -> [Output] {
        guard let jobId = m.jobId else { return [] }
        func nack(_ reason: String) -> [Output] { [.send(.nackCommit, jobId: jobId, reason: reason)] }
        guard state == .idle else { return nack("busy: already working on job \(self.jobId ?? "?")") }
        let command = m.command ?? ""
        guard let match = whitelist.resolve(command) else { return nack("not whitelisted: '\(command)'") }
        if let u = m.user {
            guard checks.userExists(u) else { return nack("no such user: '\(u)'") }
            guard checks.canRunAs(u) else { return nack("cannot run as \(u): the agent is not root") }
        }
        if let d = m.dir, !checks.directoryExists(d) { return nack("no such directory: '\(d)'") }
        if let f = m.file {
            guard f.hasPrefix("raw:") || f.hasPrefix("base64:") else {
                return nack("bad file: expected 'raw:' or 'base64:' prefix")
            }
            guard Self.decodeFile(f) != nil else { return nack("bad file: invalid base64") }
        }
        // Last, because it takes the lock: every nack above leaves nothing held.
        if let lock = match.lock {
            let path = lockPath(lock)
            if let problem = checks.tryLock(path) { return nack(problem) }
            heldLock = path
        }
        let env = (m.env?.objectValue ?? []).compactMap { k, v in v.stringValue.map { (k, $0) } }
        let plan = Plan(jobId: jobId, commandLine: match.commandLine, lock: match.lock, user: m.user, dir: m.dir,
                        env: env, file: m.file, capture: m.capture ?? false, runTimeout: m.runTimeout)
        failureReason = nil
        if m.commitRun == true {
            // `commit_run` (issue 16): accepted means started; `ack_run` is the vote.
            state = .running(jobId: jobId)
            return [.send(.ackRun, jobId: jobId, reason: nil)] + releaseHeldLock() + [.spawn(plan)]
        }
        state = .committed(plan)
        return [.send(.ackCommit, jobId: jobId, reason: nil)]
    }

    /// The bytes of a `file` parameter (`raw:TEXT` or `base64:DATA`), nil when malformed.
    public static func decodeFile(_ file: String) -> [UInt8]? {
        if file.hasPrefix("raw:") { return Array(file.utf8.dropFirst(4)) }
        guard file.hasPrefix("base64:") else { return nil }
        // Ruby's Base64.decode64 (the reference) skips line breaks and other non-alphabet characters.
        return Data(base64Encoded: String(file.dropFirst(7)), options: .ignoreUnknownCharacters).map { [UInt8]($0) }
    }

    /// The job's environment (spec 7.3): `base` plus the job's `env`, where keys outside
    /// `allowedOverwritable` (when it is a list) are renamed `CHEF_PUSH_ENV_<key>`; then
    /// `CHEF_PUSH_NODE_NAME`, `CHEF_PUSH_JOB_ID` and `CHEF_PUSH_JOB_FILE`, which always win.
    public static func environment(base: [String: String], plan: Plan, nodeName: String,
                                   allowedOverwritable: [String]?, jobFile: String?) -> [String: String] {
        var env = base
        for (key, value) in plan.env {
            if let allowed = allowedOverwritable, !allowed.contains(key) {
                env["CHEF_PUSH_ENV_" + key] = value
            } else {
                env[key] = value
            }
        }
        env["CHEF_PUSH_NODE_NAME"] = nodeName
        env["CHEF_PUSH_JOB_ID"] = plan.jobId
        if let jobFile { env["CHEF_PUSH_JOB_FILE"] = jobFile } else { env["CHEF_PUSH_JOB_FILE"] = nil }
        return env
    }

    /// A `run` from the server: start the committed job, or nack.
    public mutating func run(jobId: String?) -> [Output] {
        if case .running(let j) = state, j == jobId {
            // The same `run` again (the server resends it when it thinks the first was lost):
            // the job is running, so say so again; nothing else changes.
            return [.send(.ackRun, jobId: j, reason: nil)]
        }
        guard case .committed(let plan) = state, plan.jobId == jobId else {
            return [.send(.nackRun, jobId: jobId, reason: "not committed to this job")]
        }
        state = .running(jobId: plan.jobId)
        // The lock only guards the vote: the job (chef-client) takes it itself once running.
        return [.send(.ackRun, jobId: plan.jobId, reason: nil)] + releaseHeldLock() + [.spawn(plan)]
    }

    private mutating func releaseHeldLock() -> [Output] {
        guard let path = heldLock else { return [] }
        heldLock = nil
        return [.releaseLock(path)]
    }

    /// The agent's own run timeout (the commit's `run_timeout`) expired: kill the process group;
    /// its exit is then reported `failed` with the timeout as reason.
    public mutating func runTimedOut(jobId: String, seconds: Int) -> [Output] {
        guard case .running(let j) = state, j == jobId, failureReason == nil else { return [] }
        failureReason = "run timeout (\(seconds) s) reached"
        return [.kill(jobId: jobId)]
    }

    /// The process could not be started: report failure and go idle.
    public mutating func spawnFailed(jobId: String, reason: String) -> [Output] {
        guard case .running(let j) = state, j == jobId else { return [] }
        state = .idle
        failureReason = nil
        return [.send(.failed, jobId: jobId, reason: reason)]
    }

    /// The job's process ended.
    public mutating func exited(jobId: String, status: Int32) -> [Output] {
        guard case .running(let j) = state, j == jobId else { return [] }
        state = .idle
        if let reason = failureReason {
            failureReason = nil
            return [.send(.failed, jobId: jobId, reason: reason)]
        }
        return [.send(status == 0 ? .succeeded : .failed, jobId: jobId, reason: nil)]
    }

    /// `abort` from the server: stop whatever is going on and answer `aborted` with the previous job.
    public mutating func abort() -> [Output] {
        let previous = jobId
        var out: [Output] = []
        if case .running(let j) = state { out.append(.kill(jobId: j)) }
        out += releaseHeldLock()
        state = .idle
        failureReason = nil
        out.append(.send(.aborted, jobId: previous, reason: nil))
        return out
    }
}
