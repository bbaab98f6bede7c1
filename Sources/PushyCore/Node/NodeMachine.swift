import PushyProtocol

/// The server's view of one connected node (spec 6.1 node FSM, 5.3, 5.5): which process it is,
/// replay protection on its connection, whether it is available (`rehab` until it answers
/// `abort`, then `idle`), where its messages go, and the job holding it checked against its
/// heartbeats (`HeldJob`). A value like `JobMachine`: the engine feeds it the node's messages and
/// what it knows of the jobs they name, and performs the actions it returns. Liveness (the
/// heartbeat EWMA) is `NodeLiveness`, kept beside it because the engine's timer wheel drives it.
public struct NodeMachine: Sendable, Equatable {
    public enum Availability: Sendable, Equatable {
        /// Being reset: `abort` is sent (again every rehab interval) until the node answers.
        case rehab
        /// Answered the abort: available for jobs.
        case idle
    }

    /// What the engine knows of a job a message names (nil: no such job here, in the node's org).
    public struct JobFacts: Sendable, Equatable {
        /// This node's status in the job (nil: not one of its nodes).
        public var nodeStatus: NodeJobStatus?
        /// The job passed its quorum (`run` was sent).
        public var running: Bool
        /// The job has ended.
        public var finished: Bool

        public init(nodeStatus: NodeJobStatus?, running: Bool, finished: Bool) {
            self.nodeStatus = nodeStatus
            self.running = running
            self.finished = finished
        }
    }

    /// What the engine must do.
    public enum Action: Sendable, Equatable {
        /// A known session on a new connection: answer `ack`, proving the channel (spec 5.3).
        case ack
        /// Send `abort` now (the node is in rehab).
        case abort
        /// The node answered the abort: it is available again.
        case available
        /// Hand `input` to job `jobId`'s machine.
        case forward(jobId: String, JobMachine.Input)
        /// A live output chunk for `jobId`, where the node is ready or running.
        case output(jobId: String)
        /// The node's heartbeats disowned job `jobId` for an interval: a message was lost. End the
        /// node's part with `reason` (and count it).
        case reconcile(jobId: String, reason: String)
        /// The node is still committed to running job `jobId`: `run` was lost, send it again.
        case resendRun(jobId: String)
        /// Drop the message (and count it under `reason`).
        case drop(reason: String)
    }

    /// The agent process (`incarnation_id`); a message from another one starts a new session.
    public let incarnation: String
    public private(set) var availability: Availability = .rehab
    /// Last sequence number received on the current connection.
    public private(set) var lastInboundSequence: Int
    /// When `abort` was last sent (rehab resends it every interval).
    public private(set) var lastAbortAt: Double
    /// The job holding the node (ready or running in it).
    public private(set) var held: HeldJob?

    /// A new session from the node's first message (of this server run, or of a new agent
    /// process): reset at once (spec 5.5 step 3), then the message is handled as any other.
    public static func connect(
        _ first: AgentMessage, now: Double, interval: Double, job: (String) -> JobFacts?
    ) -> (NodeMachine, [Action]) {
        var machine = NodeMachine(incarnation: first.incarnationId, lastInboundSequence: Int.min, lastAbortAt: now)
        let actions = machine.enterRehab(now: now) + machine.receive(first, newConnection: false, now: now, interval: interval, job: job)
        return (machine, actions)
    }

    init(incarnation: String, lastInboundSequence: Int, lastAbortAt: Double) {
        self.incarnation = incarnation
        self.lastInboundSequence = lastInboundSequence
        self.lastAbortAt = lastAbortAt
    }

    /// One message from the node, already checked for framing, HMAC and clock. `newConnection`:
    /// it came on another ZeroMQ connection than the last (the sequence starts again there).
    /// `job` tells what the engine knows of a job id. `interval` is the heartbeat interval.
    public mutating func receive(
        _ m: AgentMessage, newConnection: Bool, now: Double, interval: Double, job: (String) -> JobFacts?
    ) -> [Action] {
        var actions: [Action] = []
        if newConnection {
            actions.append(.ack)
        } else if m.sequence <= lastInboundSequence {
            return [.drop(reason: "sequence_replay")]
        }
        lastInboundSequence = m.sequence
        let facts = m.jobId.flatMap(job)
        switch m.messageType {
        case .heartbeat:
            if m.jobId != nil, facts == nil, m.jobState != .idle, availability == .idle {
                // The node claims a job the server does not know: reset it.
                actions += enterRehab(now: now)
            }
            if held != nil { actions += reconcile(m, now: now, interval: interval, job: job) }
        case .aborted:
            if availability == .rehab {
                availability = .idle
                actions.append(.available)
            }
            if let id = m.jobId, facts != nil { actions.append(.forward(jobId: id, .aborted)) }
        case .ackCommit: actions += forwardOrRehab(m, facts, .ackCommit, now: now)
        case .nackCommit: actions += forwardOrRehab(m, facts, .nackCommit(reason: m.reason), now: now)
        case .ackRun: actions += forwardOrRehab(m, facts, .ackRun, now: now)
        case .nackRun: actions += forwardOrRehab(m, facts, .nackRun, now: now)
        case .succeeded: actions += forwardOrRehab(m, facts, .succeeded, now: now)
        case .failed: actions += forwardOrRehab(m, facts, .failed(reason: m.reason), now: now)
        case .output:
            if let id = m.jobId, let status = facts?.nodeStatus, status == .ready || status == .running {
                actions.append(.output(jobId: id))
            } else {
                actions.append(.drop(reason: "output_for_unknown_job"))
            }
        case nil:
            actions.append(.drop(reason: "unknown_type"))
        }
        return actions
    }

    /// A message about a job goes to that job; about a job the server does not know, the node
    /// is reset (spec 5.3).
    mutating func forwardOrRehab(_ m: AgentMessage, _ facts: JobFacts?, _ input: JobMachine.Input, now: Double) -> [Action] {
        guard let id = m.jobId, facts != nil else { return enterRehab(now: now) }
        return [.forward(jobId: id, input)]
    }

    /// Puts the node in rehab: `abort` now, and again every rehab interval until it answers.
    public mutating func enterRehab(now: Double) -> [Action] {
        availability = .rehab
        lastAbortAt = now
        return [.abort]
    }

    /// The rehab resend: `abort` again when the node has not answered for `interval`.
    public mutating func tick(now: Double, rehabInterval: Double) -> [Action] {
        guard availability == .rehab, now - lastAbortAt >= rehabInterval else { return [] }
        return enterRehab(now: now)
    }

    /// The node's status in job `jobId` changed: keeps `held` in step (ready/running hold it).
    /// A node that acks another job's commit while a job still holds it has left that job (an
    /// agent runs one job at a time and acks only when idle; its result, sent before the ack on
    /// the same connection, would have arrived first): the old job's part ends at once.
    public mutating func jobChanged(_ jobId: String, to status: NodeJobStatus) -> [Action] {
        switch status {
        case .ready, .running, .queued:
            if held?.jobId == jobId {
                held?.status = status
                return []
            }
            let previous = held
            held = HeldJob(jobId: jobId, status: status)
            guard let previous else { return [] }
            return [.reconcile(jobId: previous.jobId,
                               reason: "the agent took job \(jobId) while this job still held it: its result here was lost")]
        default:
            if held?.jobId == jobId { held = nil }
            return []
        }
    }

    /// `run` for `jobId` went to the node (first time or again).
    public mutating func runSent(_ jobId: String) {
        if held?.jobId == jobId { held?.runWasSent() }
    }

    /// The heartbeat against the job holding the node (issue 11).
    mutating func reconcile(_ m: AgentMessage, now: Double, interval: Double, job: (String) -> JobFacts?) -> [Action] {
        guard var h = held else { return [] }
        guard let facts = job(h.jobId), let status = facts.nodeStatus, !status.isTerminal, !facts.finished else {
            held = nil
            return []
        }
        h.status = status
        let verdict = h.heartbeat(jobState: m.jobState, jobId: m.jobId, jobRunning: facts.running, now: now, interval: interval)
        held = h
        switch verdict {
        case .agrees, .disagrees:
            return []
        case .resendRun:
            return [.resendRun(jobId: h.jobId)]
        case .lost(let reason):
            held = nil
            return [.reconcile(jobId: h.jobId, reason: reason)]
        }
    }
}
