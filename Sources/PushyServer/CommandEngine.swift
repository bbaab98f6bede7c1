import Foundation
import Logging
import PushyCore
import PushyProtocol
import PushyStore

/// Owns node sessions and running jobs; the one place where agent messages, REST job requests
/// and timers meet. An actor, so the state machines run without locks; all I/O it triggers is
/// either a non-blocking transport send or a batched store write.
public actor CommandEngine {
    let config: ServerConfiguration
    let store: any PushyStore
    let serverKey: RSAPrivateKey
    let logger: Logger
    public nonisolated let incarnationId: String
    let hostName: String
    var transport: (any CommandTransport)?
    /// Several servers on one PostgreSQL database (issue 17): nil on a single server.
    var cluster: EngineCluster?

    let sessionKeys = SessionKeyTable()
    /// Checks inbound messages; nonisolated so the inbound task runs it beside the actor.
    nonisolated var verifier: InboundVerifier {
        InboundVerifier(keys: sessionKeys, maxBodySize: config.maxBodySize, maxSkew: Double(config.maxMessageSkew))
    }
    /// Outbound sequence of nodes whose session ended, for their next session.
    var outboundSequences: [NodeKey: Int] = [:]
    /// The incarnation a node's current agent process replaced (its late messages are dropped).
    var retiredIncarnations: [NodeKey: String] = [:]
    var sessions: [NodeKey: NodeSession] = [:]
    var identities: [[UInt8]: NodeKey] = [:]
    var jobs: [String: ActiveJob] = [:]
    var broadcastSequence = 0
    var lastBroadcast: Double = 0
    /// Nodes in rehab (abort resent until they answer), so the tick need not visit every session.
    var rehabNodes = Set<NodeKey>()
    var livenessWheel = LivenessWheel<NodeKey>()
    let startedAt = Date().timeIntervalSince1970
    var earlyBroadcasts = 0
    /// Ticks whose liveness was judged more than an interval behind the clock (the server was
    /// behind its inbound messages), and when that was last logged.
    var livenessHeldBack = 0
    /// Most heartbeat intervals liveness is judged behind the clock (`livenessTime`).
    static let livenessHoldBack = 4.0
    var lastHoldBackLog: Double = 0
    /// Node-in-job changes waiting for the next batched store write.
    var pendingNodeUpdates: [JobNodeUpdate] = []
    /// Job rows go to the store through here (in order per job, retried on failure).
    nonisolated let writer: JobWriter
    /// Rung when work for the timers starts (`EngineTicker`).
    nonisolated let tickBell = TickBell()
    /// Times a node's heartbeats disagreed with the job holding it long enough to end its part
    /// in the job: each means a message was lost somewhere (issue 11).
    public private(set) var reconciliations = 0
    /// `run` messages sent again to a node that reported itself still committed.
    public private(set) var runsResent = 0
    var orgSequence = 0
    var orgEvents: [(at: Double, org: String, event: FeedEvent)] = []
    var orgSubscribers: [UUID: (org: String, continuation: AsyncStream<FeedEvent>.Continuation)] = [:]
    /// Set at shutdown: no feed stays open (`closeFeeds`).
    var feedsClosed = false
    /// Messages dropped, by reason (spec 12 point 3 and 7).
    public private(set) var dropped: [String: Int] = [:]
    /// Running totals for `/metrics` (messages by type, jobs, node transitions).
    var counters = EngineCounters()
    /// Where latencies are recorded (`/metrics`); `.disabled` records nothing.
    nonisolated let metrics: PushyMetrics
    /// Refused REST requests, logged once each and rate-limited (`RefusalLog`).
    nonisolated let refusals: RefusalLogger

    /// Seconds since 1970: the wall clock, or a test's own.
    let clock: @Sendable () -> Double

    public init(config: ServerConfiguration, store: any PushyStore, serverKey: RSAPrivateKey, logger: Logger,
                clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 },
                metrics: PushyMetrics = .disabled) {
        self.metrics = metrics
        self.config = config
        self.clock = clock
        self.store = store
        self.serverKey = serverKey
        self.logger = logger
        self.writer = JobWriter(logger: logger, metrics: metrics)
        self.refusals = RefusalLogger(logger: logger)
        self.incarnationId = UUID().uuidString.lowercased()
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, 255)
        self.hostName = String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public func attach(_ transport: any CommandTransport) { self.transport = transport }

    var livenessParameters: LivenessParameters {
        LivenessParameters(interval: config.heartbeatInterval, decayWindow: config.decayWindow, threshold: config.downThreshold)
    }

    // MARK: Session keys

    /// The node's HMAC session key, created on first request and kept for this process (spec 4.4).
    public nonisolated func sessionKey(org: String, node: String) -> [UInt8] {
        sessionKeys.keyOrCreate(for: NodeKey(org: org, node: node))
    }

    /// What the node's agent asked for in its config request (issue 16), for its next session.
    public nonisolated func setAgentFeatures(org: String, node: String, commitRun: Bool) {
        sessionKeys.setCommitRun(NodeKey(org: org, node: node), commitRun)
    }

    /// How long after a node moved to a new connection a heartbeat on the old one is taken for a
    /// late one (the transport holds heartbeats back up to 100 ms) and dropped. Bounded, so a
    /// late job message that moved the session back to the old connection costs the live one
    /// at most this long, not for good.
    static let replacedConnectionGrace = 2.0

    func drop(_ reason: String, _ detail: @autoclosure () -> String = "") {
        dropped[reason, default: 0] += 1
        logger.debug("dropped message", metadata: ["pushy.reason": "\(reason)", "pushy.detail": "\(detail())"])
    }

    // MARK: Inbound

    /// Handles one frame set from the ROUTER: `[identity, header, body]` (spec 4.2).
    public func receive(identity: [UInt8], frames: [[UInt8]]) {
        receive([verifier.verify(identity: identity, frames: frames, now: clock())])
    }

    /// Handles a batch of checked messages with one hop onto the actor.
    func receive(_ batch: [InboundMessage]) {
        let now = clock()
        for message in batch {
            switch message {
            case .verified(let msg, let key, let identity): handle(msg, key: key, identity: identity, now: now)
            case .dropped(let reason, let detail): drop(reason, detail)
            }
        }
    }

    /// Routes one checked message: to the node's machine (a new session for a new node or a new
    /// agent process), then performs what it asks — answers, resets, and inputs for jobs.
    func handle(_ msg: AgentMessage, key: NodeKey, identity: [UInt8], now: Double) {
        // Known types only as labels: an agent's made-up type must not add a metric series.
        counters.countInbound(msg.messageType)
        var session = sessions[key]
        if let s = session, s.machine.incarnation != msg.incarnationId {
            // A late message of the process this one replaced, still on its old connection.
            if retiredIncarnations[key] == msg.incarnationId, identity != s.identity {
                return drop("stale_incarnation", "\(key.org)/\(key.node) \(msg.incarnationId)")
            }
            // The agent restarted: the old session is gone (its jobs see the node go down).
            retiredIncarnations[key] = s.machine.incarnation
            terminate(key, reason: "the agent restarted (new incarnation \(msg.incarnationId))", now: now)
            session = nil
        }
        let s: NodeSession
        var actions: [NodeMachine.Action]
        if let existing = session {
            s = existing
            let newConnection = s.identity != identity
            if newConnection, msg.messageType == .heartbeat, identity == s.replacedIdentity,
               now - s.replacedAt < Self.replacedConnectionGrace {
                // A heartbeat held back on the connection the node has just left.
                return drop("stale_connection", "\(key.org)/\(key.node)")
            }
            if newConnection {
                // Same node, new connection: answer on it from now on.
                if identities[s.identity] == key { identities[s.identity] = nil }
                s.replacedIdentity = s.identity
                s.replacedAt = now
                s.identity = identity
                identities[identity] = key
            }
            actions = s.machine.receive(msg, newConnection: newConnection, now: now, interval: config.heartbeatInterval) {
                self.facts(of: $0, org: key.org, node: key.node)
            }
        } else {
            // The verifier checked this message with the node's key, so it has one.
            guard let mac = sessionKeys.mac(for: key) else { return drop("unknown_node", "\(key.org)/\(key.node)") }
            let (machine, first) = NodeMachine.connect(msg, now: now, interval: config.heartbeatInterval) {
                self.facts(of: $0, org: key.org, node: key.node)
            }
            actions = first
            s = NodeSession(
                identity: identity, machine: machine, liveness: NodeLiveness(now: now, parameters: livenessParameters),
                outboundSequence: outboundSequences.removeValue(forKey: key) ?? 0, mac: mac,
                runsAtCommit: sessionKeys.runsAtCommit(key))
            livenessWheel.schedule(key, at: now + livenessParameters.interval)
            sessions[key] = s
            identities[identity] = key
            logger.info("node connected", metadata: ["pushy.node": "\(key.org)/\(key.node)"])
            notePresence(key, available: false)
            memoryEvents += 1
        }
        if msg.messageType == .heartbeat {
            let start = s.liveness.intervalStart
            s.liveness.heartbeat(at: now)
            s.lastHeartbeat = now
            // A beat re-centres the node's interval: move its wheel entry with it.
            let moved = s.liveness.intervalStart
            if moved != start { livenessWheel.schedule(key, at: moved + livenessParameters.interval) }
        }
        perform(actions, s, key, msg, now: now)
    }

    /// What a node's machine needs to know of a job its message names.
    func facts(of jobId: String, org: String, node: String) -> NodeMachine.JobFacts? {
        guard let job = jobs[jobId], job.org == org else { return remoteFacts(jobId, org: org, node: node) }
        return NodeMachine.JobFacts(nodeStatus: job.machine.nodes[node], running: job.machine.status == .running,
                                    finished: job.machine.status.isTerminal)
    }

    /// Performs what a node's machine asked for.
    func perform(_ actions: [NodeMachine.Action], _ s: NodeSession, _ key: NodeKey, _ msg: AgentMessage, now: Double) {
        for action in actions {
            switch action {
            case .ack:
                send(s, ServerMessage(type: .ack, sequence: 0, timestamp: Date(timeIntervalSince1970: now)))
            case .abort:
                rehabNodes.insert(key)
                tickBell.ring()
                notePresence(key, available: false)
                send(s, ServerMessage(type: .abort, sequence: 0, timestamp: Date(timeIntervalSince1970: now)))
            case .available:
                logger.debug("node available", metadata: ["pushy.node": "\(key.org)/\(key.node)"])
                notePresence(key, available: true)
            case .forward(let jobId, let input):
                guard let job = jobs[jobId] else {
                    remoteInput(jobId, key, input, message: msg)
                    continue
                }
                if JobMachine.isResult(input) { receiveFinalOutput(msg, key: key, job: job) }
                forward(job, key, input, now: now)
            case .output:
                // Live output of another server's job goes to its owner's feed.
                if let id = msg.jobId, isRemoteJob(id) {
                    relayOutput(id, msg, key: key)
                    continue
                }
                receiveOutput(msg, key: key)
            case .resendRun(let jobId):
                guard let job = jobs[jobId] else {
                    resendRemoteRun(jobId, key, now: now)
                    continue
                }
                runsResent += 1
                logger.warning("node still committed to a running job: run sent again (a message was lost)",
                               metadata: ["pushy.node": "\(key.org)/\(key.node)", "pushy.job": "\(jobId)"])
                job.machine.noteRunResent(key.node)
                sendRun(job, [key.node], at: Date(timeIntervalSince1970: now))
            case .reconcile(let jobId, let reason):
                reconcile(jobId, key, reason: reason, now: now)
            case .drop(let reason):
                drop(reason, "\(key.org)/\(key.node) \(msg.type) seq \(msg.sequence)")
            }
        }
    }

    func forward(_ jobId: String, _ key: NodeKey, _ input: JobMachine.Input, now: Double) {
        guard let job = jobs[jobId] else { return }
        forward(job, key, input, now: now)
    }

    func forward(_ job: ActiveJob, _ key: NodeKey, _ input: JobMachine.Input, now: Double) {
        let actions = job.machine.handle(node: key.node, input: input, now: now)
        perform(actions, job: job, now: now)
    }

    // MARK: Outbound

    func send(_ key: NodeKey, _ message: ServerMessage) {
        guard let s = sessions[key] else { return }
        send(s, message)
    }

    func send(_ s: NodeSession, _ message: ServerMessage) {
        var m = message
        counters.outbound[m.type, default: 0] += 1
        m.sequence = s.nextSequence()
        transport?.send(to: s.identity, frames: s.mac.frames(body: m.bodyBytes))
    }

    /// Sends one message to many nodes: the body is built once (a template with the sequence
    /// open), then only the sequence and the HMAC differ per node; one hand-off to the I/O thread.
    func send(_ keys: [NodeKey], _ message: ServerMessage) {
        let template = message.bodyTemplate
        var batch: [(identity: [UInt8], frames: [[UInt8]])] = []
        batch.reserveCapacity(keys.count)
        for key in keys {
            guard let s = sessions[key] else { continue }
            batch.append((s.identity, s.mac.frames(body: template.bytes(sequence: s.nextSequence()))))
        }
        counters.outbound[message.type, default: 0] += batch.count
        transport?.sendBatch(batch)
    }

    /// Puts a node in rehab: `abort` now and every rehab interval until it answers.
    func sendAbort(_ key: NodeKey, now: Double) {
        guard let s = sessions[key] else { return }
        perform(s.machine.enterRehab(now: now), s, key, now: now)
    }

    /// `sendAbort`, unless the node has moved on to another job (what this server last heard
    /// of `jobId` may be late: its final status can still be on its way).
    func sendAbort(_ key: NodeKey, stillIn jobId: String, now: Double) {
        guard sessions[key]?.machine.held.map({ $0.jobId == jobId }) ?? true else { return }
        sendAbort(key, now: now)
    }

    /// Performs node actions that do not depend on a message (rehab from a job or the tick, a job
    /// the node left for another).
    func perform(_ actions: [NodeMachine.Action], _ s: NodeSession, _ key: NodeKey, now: Double) {
        for action in actions {
            switch action {
            case .abort:
                rehabNodes.insert(key)
                tickBell.ring()
                notePresence(key, available: false)
                send(s, ServerMessage(type: .abort, sequence: 0, timestamp: Date(timeIntervalSince1970: now)))
            case .reconcile(let jobId, let reason):
                reconcile(jobId, key, reason: reason, now: now)
            default:
                break
            }
        }
    }

    /// A node left job `jobId` without its result arriving (a message was lost): its part ends
    /// with `reason`, without a reset (it is idle, or busy with a job that must go on). Counted.
    func reconcile(_ jobId: String, _ key: NodeKey, reason: String, now: Double) {
        guard let job = jobs[jobId] else { return remoteInput(jobId, key, .disowned(reason: reason), message: nil) }
        reconciliations += 1
        logger.warning("node left its job without a result (a message was lost): its part ends", metadata: [
            "pushy.node": "\(key.org)/\(key.node)", "pushy.job": "\(jobId)", "pushy.reason": "\(reason)",
            "pushy.reconciliations": "\(reconciliations)",
        ])
        forward(job, key, .disowned(reason: reason), now: now)
    }

    /// Ends a node's session: it is offline; the active jobs it is part of see it go down.
    func terminate(_ key: NodeKey, reason: String, now: Double) {
        guard let s = sessions.removeValue(forKey: key) else { return }
        outboundSequences[key] = s.outboundSequence
        if identities[s.identity] == key { identities[s.identity] = nil }
        logger.info("node offline", metadata: ["pushy.node": "\(key.org)/\(key.node)", "pushy.reason": "\(reason)"])
        notePresence(key, available: nil)
        remoteNodeDown(key, reason: reason)
        // Few jobs are active at once: asking each beats keeping a job set per node.
        for job in jobs.values where job.org == key.org && !job.machine.status.isTerminal {
            if let status = job.machine.nodes[key.node], !status.isTerminal { forward(job, key, .down(reason: reason), now: now) }
        }
    }

    // MARK: Node states

    public func nodeState(org: String, node: String) -> NodeStateView {
        guard let s = sessions[NodeKey(org: org, node: node)] else {
            return NodeStateView(nodeName: node, status: .offline, availability: .unavailable)
        }
        return NodeStateView(nodeName: node, status: .online, availability: s.isAvailable ? .available : .unavailable)
    }

    /// Every connected node of `org`: whether it is available and when it last beat (the
    /// dashboard's node summary).
    func nodeActivity(org: String) -> [String: (available: Bool, lastHeartbeat: Double?)] {
        var out: [String: (available: Bool, lastHeartbeat: Double?)] = [:]
        for (key, s) in sessions where key.org == org { out[key.node] = (s.isAvailable, s.lastHeartbeat) }
        return out
    }

    public func nodeStates(org: String) -> [NodeStateView] {
        sessions.keys.filter { $0.org == org }.map(\.node).sorted().map { nodeState(org: org, node: $0) }
    }

    /// The names among `names` that have no session here. A node with a session is heartbeating
    /// under that name with its session key, so it is no typo; only the others need the store.
    public func namesWithoutSession(org: String, _ names: [String]) -> [String] {
        names.filter { sessions[NodeKey(org: org, node: $0)] == nil }
    }

    public var sessionCount: Int { sessions.count }
    /// Nodes connected plus jobs ended since start: bursts after which freed memory is worth
    /// returning to the system (`HeapTrimmer`).
    public internal(set) var memoryEvents = 0
    public var activeJobIds: [String] { jobs.keys.sorted() }
}
