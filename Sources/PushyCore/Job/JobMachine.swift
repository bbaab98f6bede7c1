import PushyProtocol

/// The server's job state machine (spec 3.3, plus abort from spec 12). A value: feed it inputs
/// and clock ticks, perform the actions it returns. It never touches sockets, storage or clocks.
public struct JobMachine: Sendable {
    /// What a node said or what happened to it, as far as this job is concerned.
    public enum Input: Sendable, Equatable {
        case ackCommit
        case nackCommit(reason: String?)
        case ackRun
        case nackRun
        case succeeded
        /// The process failed; `reason` when the agent said why (its own run timeout, a process
        /// that could not start).
        case failed(reason: String?)
        /// The node replied `aborted` naming this job.
        case aborted
        /// The node went offline (liveness lost, new incarnation) or was unavailable.
        case down(reason: String)
        /// The node left the job without a word that arrived (its heartbeats say it is idle or on
        /// another job; it acked another job's commit): its part ends, but the node is not reset —
        /// it is idle, or busy with a job that must not be aborted (issue 11).
        case disowned(reason: String)
        /// Any other message naming this job.
        case other(String)
    }

    /// What the caller must do.
    public enum Action: Sendable, Equatable {
        case sendCommit([String])
        /// `commit` with `commit_run` (issue 16): the node runs at once when it accepts, and
        /// answers `ack_run`. Only after the job's rows are durable, as for `run`.
        case sendCommitRun([String])
        case sendRun([String])
        /// Put the node in rehab (send `abort` until it answers `aborted`).
        case rehab(String)
        case nodeChanged(node: String, status: NodeJobStatus, reason: String?)
        case jobChanged(status: JobStatus, reason: String?)
        case event(JobFeedEvent)
    }

    public let id: String
    public let quorum: Int
    public let runTimeout: Int
    public private(set) var status: JobStatus = .new
    public private(set) var statusReason: String?
    /// Node names in request order.
    public let nodeNames: [String]
    public private(set) var nodes: [String: NodeJobStatus]
    public private(set) var reasons: [String: String] = [:]
    public private(set) var votingDeadline: Double
    /// How long voting may take (`votingDeadline` is set from it at the start, or later for
    /// nodes whose commit waits for the job's rows).
    public private(set) var votingTimeout: Double = 0
    public private(set) var runDeadline: Double?
    /// When the job reached a terminal status.
    public private(set) var finishedAt: Double?
    /// When the job's status last changed (its `updated_at`).
    public private(set) var updatedAt: Double
    /// Nodes `run` was sent to again because it seemed lost (a nack of the copy is not a refusal).
    public private(set) var runResent: Set<String> = []
    /// Whether the job's rows are durable. Until then votes are counted but nothing runs: a job
    /// the server could not record must not run anywhere (`recorded(now:)` releases the runs).
    public private(set) var recorded: Bool
    /// Rate control (issue 13): which ready nodes are told to run, and when. nil: all at once.
    public private(set) var launcher: Launcher?
    /// When each node was told to run, for rate-controlled jobs: each node's run timeout counts
    /// from its own launch (a job in waves has no job-wide run deadline).
    public private(set) var launchedAt: [String: Double] = [:]
    /// Nodes told to run at their commit (`commit_run`, issue 16): no separate vote and `run`.
    /// Only in jobs whose quorum no vote can fail (`mayRunAtCommit`), for nodes that asked.
    public private(set) var runAtCommit: Set<String> = []

    /// Whether nodes may run as they accept the commit: when one accepting node meets the
    /// quorum (quorum ≤ 1), the vote decides nothing the node's own answer does not, and
    /// without rate control no launch waits its turn. The machine handles such nodes in any job
    /// (`start`'s `runsAtCommit`); servers offer it only where `offersRunAtCommit` says.
    public static func mayRunAtCommit(quorum: Int, limits: LaunchLimits?) -> Bool { quorum <= 1 && limits == nil }

    /// Whether a server offers `commit_run` for a job: single-node jobs only. In a job of several
    /// nodes the reference feed reports `quorum_succeeded` before any node's `run_start`
    /// (spec 2.3), and a node that runs at its commit would start while others still vote.
    public static func offersRunAtCommit(nodes: Int, quorum: Int, limits: LaunchLimits?) -> Bool {
        nodes == 1 && mayRunAtCommit(quorum: quorum, limits: limits)
    }

    /// Creates a job and starts voting. `isAvailable` says whether a node is online and idle
    /// (not in rehab); other nodes are `unavailable` at once, like the reference.
    public static func start(
        id: String, nodes: [String], quorum: Int, runTimeout: Int, now: Double, votingTimeout: Double,
        limits: LaunchLimits? = nil, runsAtCommit: Set<String> = [],
        startEvent: JobFeedEvent, isAvailable: (String) -> (available: Bool, reason: String)
    ) -> (JobMachine, [Action]) {
        var job = JobMachine(id: id, nodeNames: nodes, quorum: quorum, runTimeout: runTimeout,
                             votingDeadline: now + votingTimeout, now: now)
        job.launcher = limits.map(Launcher.init(limits:))
        job.votingTimeout = votingTimeout
        let combined = mayRunAtCommit(quorum: quorum, limits: limits) ? runsAtCommit : []
        var actions: [Action] = [.event(startEvent)]
        job.status = .voting
        actions.append(.jobChanged(status: .voting, reason: nil))
        var commit: [String] = []
        for n in nodes {
            let a = isAvailable(n)
            if a.available {
                // Their commit starts the command: it waits for the job's rows (`markRecorded`).
                if combined.contains(n) { job.runAtCommit.insert(n) } else { commit.append(n) }
            } else {
                job.set(n, .unavailable, reason: a.reason, into: &actions)
                actions.append(.event(.vote(n, "down")))
                actions.append(.rehab(n))
                actions.append(.event(JobFeedEvent("rehab", [("node", .string(n))])))
            }
        }
        if !commit.isEmpty { actions.append(.sendCommit(commit)) }
        job.evaluateQuorumIfVoted(now: now, into: &actions)
        return (job, actions)
    }

    init(id: String, nodeNames: [String], quorum: Int, runTimeout: Int, votingDeadline: Double, now: Double) {
        self.id = id
        self.updatedAt = now
        self.recorded = false
        self.nodeNames = nodeNames
        self.quorum = quorum
        self.runTimeout = runTimeout
        self.votingDeadline = votingDeadline
        self.nodes = Dictionary(uniqueKeysWithValues: nodeNames.map { ($0, NodeJobStatus.new) })
    }

    /// Restores a machine from stored state (used by tests and by a future store-backed recovery);
    /// its rows exist, so it is recorded.
    public init(id: String, nodes: [(String, NodeJobStatus)], quorum: Int, runTimeout: Int, status: JobStatus,
                votingDeadline: Double, runDeadline: Double?, updatedAt: Double = 0) {
        self.id = id
        self.updatedAt = updatedAt
        self.recorded = true
        self.nodeNames = nodes.map(\.0)
        self.nodes = Dictionary(uniqueKeysWithValues: nodes)
        self.quorum = quorum
        self.runTimeout = runTimeout
        self.status = status
        self.votingDeadline = votingDeadline
        self.runDeadline = runDeadline
    }

    public func count(_ s: NodeJobStatus) -> Int { nodes.values.reduce(0) { $1 == s ? $0 + 1 : $0 } }

    /// Node names grouped by status, each group in request order, groups in status order.
    public var grouped: [(NodeJobStatus, [String])] {
        // One pass over the nodes (this runs for every job read, with up to tens of thousands of nodes).
        let order = NodeJobStatus.allCases
        var buckets = [[String]](repeating: [], count: order.count)
        for name in nodeNames {
            guard let status = nodes[name], let i = order.firstIndex(of: status) else { continue }
            buckets[i].append(name)
        }
        return zip(order, buckets).compactMap { $1.isEmpty ? nil : ($0, $1) }
    }

    mutating func set(_ node: String, _ s: NodeJobStatus, reason: String?, into actions: inout [Action]) {
        nodes[node] = s
        if let reason { reasons[node] = reason }
        actions.append(.nodeChanged(node: node, status: s, reason: reason))
    }

    mutating func finish(_ s: JobStatus, reason: String?, now: Double, into actions: inout [Action]) {
        status = s
        statusReason = reason
        finishedAt = now
        updatedAt = now
        actions.append(.jobChanged(status: s, reason: reason))
        actions.append(.event(JobFeedEvent("job_complete", [("status", .string(s.rawValue))])))
    }

    /// Rehab for one node because of something it did: the reference records a `rehab` event.
    mutating func rehab(_ node: String, into actions: inout [Action]) {
        actions.append(.rehab(node))
        actions.append(.event(JobFeedEvent("rehab", [("node", .string(node))])))
    }

    /// Rehab for nodes swept up by a job-level change (voting timeout, quorum failed, run timeout):
    /// the reference resets them without a `rehab` event, so the feed sequences of spec 2.3 hold.
    func rehabQuietly(_ node: String, into actions: inout [Action]) {
        actions.append(.rehab(node))
    }

    /// Handles a message from, or news about, one node of this job.
    public mutating func handle(node: String, input: Input, now: Double) -> [Action] {
        guard let current = nodes[node] else { return [] }
        var actions: [Action] = []
        switch status {
        case .voting where runAtCommit.contains(node): handleRunAtCommit(node, current, input, now, &actions)
        case .voting: handleVoting(node, current, input, now, &actions)
        case .running:
            handleRunning(node, current, input, now, &actions)
            if let after = nodes[node], after != current, after.isTerminal {
                ended(node, after, now: now, into: &actions)
            }
            launch(now: now, into: &actions)
            completeIfDone(now: now, into: &actions)
        default:
            // The job is over; a node still talking about it is reset (spec 3.3) — unless it
            // is a result for a node already finished (sent again after a reconnect, or late
            // after the server gave up on it): the agent is idle then, nothing to reset.
            if case .down = input { break }
            if case .disowned = input { break }
            if Self.isResult(input), current.isTerminal { break }
            if input != .aborted { actions.append(.rehab(node)) }
        }
        return actions
    }

    /// Whether `input` is a node's result (`succeeded` or `failed`).
    public static func isResult(_ input: Input) -> Bool {
        switch input {
        case .succeeded, .failed: true
        default: false
        }
    }

    /// A queued node leaves the job before its launch.
    mutating func leaveQueue(_ node: String, _ s: NodeJobStatus, reason: String, into actions: inout [Action]) {
        launcher?.withdraw(node)
        set(node, s, reason: reason, into: &actions)
        actions.append(.event(JobFeedEvent("queue_left", [("node", .string(node)), ("status", .string(s.rawValue))])))
    }

    /// A launched node's run ended: the launcher counts it, and may stop launching.
    mutating func ended(_ node: String, _ s: NodeJobStatus, now: Double, into actions: inout [Action]) {
        // Mutated in place (`?.`): a copy would copy the launcher's sets on every end.
        guard launcher != nil else { return }
        let stop = launcher?.finished(node, failed: s != .succeeded, now: now) ?? nil
        launchedAt[node] = nil
        if let stop { skip(stop, into: &actions) }
    }

    /// Nothing more is launched: the waiting nodes are skipped (and released: they are committed).
    mutating func skip(_ stop: Launcher.Stop, into actions: inout [Action]) {
        for n in stop.skipped {
            set(n, .skipped, reason: "not launched: \(stop.reason)", into: &actions)
            rehabQuietly(n, into: &actions)
        }
        actions.append(.event(JobFeedEvent("launch_stopped", [
            ("reason", .string(stop.reason)), ("skipped", .number(Double(stop.skipped.count))),
        ])))
    }

    /// Tells the next nodes to run, as the rate control allows (only once the job's rows are durable).
    mutating func launch(now: Double, into actions: inout [Action]) {
        guard status == .running, recorded, launcher != nil else { return }
        let go = launcher?.next(now: now) ?? []
        guard !go.isEmpty, let l = launcher else { return }
        for n in go {
            launchedAt[n] = now
            // An empty reason replaces the "waiting ..." one (a nil reason keeps the stored one);
            // views leave empty reasons out.
            set(n, .ready, reason: "", into: &actions)
        }
        actions.append(.sendRun(go))
        var fields: [(String, JSONValue)] = [("nodes", .array(go.map(JSONValue.string)))]
        if l.limits.batchSize != nil { fields.append(("batch", .number(Double(l.batches)))) }
        actions.append(.event(JobFeedEvent("launch", fields)))
    }

    mutating func evaluateQuorumIfVoted(now: Double, into actions: inout [Action]) {
        guard status == .voting, !nodes.values.contains(.new) else { return }
        let ready = nodeNames.filter { nodes[$0] == .ready }
        // Nodes that ran at their commit voted yes by starting (whatever their result since).
        let started = runAtCommit.isEmpty ? 0 : runAtCommit.count {
            [.running, .succeeded, .failed, .crashed].contains(nodes[$0] ?? .new)
        }
        if ready.count + started >= quorum {
            status = .running
            updatedAt = now
            actions.append(.event(JobFeedEvent("quorum_succeeded")))
            actions.append(.jobChanged(status: .running, reason: nil))
            if launcher != nil {
                // Every ready node waits its turn (committed, as the reference client allows
                // without a time limit, spec 7.3); the first ones go at once.
                launcher?.enqueue(ready)
                let why = launcher?.waitReason ?? ""
                for n in ready { set(n, .queued, reason: why, into: &actions) }
                if !ready.isEmpty {
                    actions.append(.event(JobFeedEvent("queued", [("count", .number(Double(ready.count))), ("reason", .string(why))])))
                }
                launch(now: now, into: &actions)
            } else {
                runDeadline = now + Double(runTimeout)
                if !ready.isEmpty, recorded { actions.append(.sendRun(ready)) }
            }
            completeIfDone(now: now, into: &actions)
        } else {
            for n in ready {
                set(n, .wasReady, reason: "quorum failed", into: &actions)
                rehabQuietly(n, into: &actions)
            }
            finish(.quorumFailed, reason: "\(ready.count) of \(nodeNames.count) nodes ready, quorum was \(quorum)",
                   now: now, into: &actions)
        }
    }

    mutating func completeIfDone(now: Double, into actions: inout [Action]) {
        guard status == .running, !nodes.values.contains(where: { !$0.isTerminal }) else { return }
        let reason = launcher?.stopReason.map { "stopped launching: \($0)" }
        finish(.complete, reason: reason, now: now, into: &actions)
    }

    /// The nack that answers a `run` sent again has come: nothing more is awaited for it.
    mutating func resentRunAnswered(_ node: String) {
        runResent.remove(node)
    }

    /// `run` is being sent again to `node` (its heartbeats still say `committed`).
    public mutating func noteRunResent(_ node: String) {
        if nodes[node] == .ready { runResent.insert(node) }
    }

    /// The job's rows are durable: what waited for them may go on (`run` to the ready nodes of a
    /// job that already passed its quorum).
    public mutating func markRecorded(now: Double? = nil) -> [Action] {
        guard !recorded else { return [] }
        recorded = true
        if status == .voting, !runAtCommit.isEmpty {
            let waiting = nodeNames.filter { runAtCommit.contains($0) && nodes[$0] == .new }
            // Their commit goes out only now: the voting time counts from here, or a slow insert
            // would leave a node that starts its command just before the deadline marked
            // unavailable and reset mid-run.
            if !waiting.isEmpty, let now { votingDeadline = max(votingDeadline, now + votingTimeout) }
            return waiting.isEmpty ? [] : [.sendCommitRun(waiting)]
        }
        guard status == .running else { return [] }
        if launcher != nil {
            var actions: [Action] = []
            launch(now: now ?? updatedAt, into: &actions)
            return actions
        }
        let ready = nodeNames.filter { nodes[$0] == .ready }
        return ready.isEmpty ? [] : [.sendRun(ready)]
    }

    /// Advances timers: voting timeout and run timeout.
    public mutating func tick(now: Double) -> [Action] {
        var actions: [Action] = []
        if status == .voting, now >= votingDeadline {
            for n in nodeNames where nodes[n] == .new {
                set(n, .unavailable, reason: "no vote before the voting timeout", into: &actions)
                actions.append(.event(.vote(n, "voting_timeout")))
                rehabQuietly(n, into: &actions)
            }
            evaluateQuorumIfVoted(now: now, into: &actions)
        } else if status == .running, let d = runDeadline, now >= d {
            for n in nodeNames where nodes[n] == .ready || nodes[n] == .running {
                set(n, .timedOut, reason: "still running at the run timeout (\(runTimeout) s)", into: &actions)
                rehabQuietly(n, into: &actions)
            }
            finish(.timedOut, reason: "run timeout of \(runTimeout) s reached", now: now, into: &actions)
        } else if status == .running, let l = launcher {
            // Rate control: each node's run timeout counts from its own launch.
            let late = l.inFlight.filter { launchedAt[$0].map { now >= $0 + Double(runTimeout) } ?? false }
            if !late.isEmpty {
                for n in nodeNames where late.contains(n) && (nodes[n] == .ready || nodes[n] == .running) {
                    set(n, .timedOut, reason: "still running at the run timeout (\(runTimeout) s after its launch)", into: &actions)
                    actions.append(.event(.runComplete(n, "timed_out")))
                    rehabQuietly(n, into: &actions)
                    ended(n, .timedOut, now: now, into: &actions)
                }
            }
            launch(now: now, into: &actions)
            completeIfDone(now: now, into: &actions)
        }
        return actions
    }

    /// Aborts the job (spec 12 point 1). Idempotent: a finished job returns no actions.
    public mutating func abort(now: Double, by requestor: String) -> [Action] {
        guard !status.isTerminal else { return [] }
        var actions: [Action] = []
        _ = launcher?.stop("the job was aborted")
        for n in nodeNames where !(nodes[n]?.isTerminal ?? true) {
            set(n, .aborted, reason: "job aborted by \(requestor)", into: &actions)
            actions.append(.rehab(n))
        }
        actions.append(.event(JobFeedEvent("aborted", [("user", .string(requestor))])))
        finish(.aborted, reason: "aborted by \(requestor)", now: now, into: &actions)
        return actions
    }
}
