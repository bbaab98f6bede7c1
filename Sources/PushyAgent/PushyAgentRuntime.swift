import FoundationEssentials
import Logging
import PushyAPIClient
import PushyCore
import PushyProtocol
import PushyZMQ

#if canImport(Glibc)
import Glibc
#endif

/// The agent (spec 5.4, 6.3, 7): fetches its config with a signed request, holds the SUB and
/// DEALER connections, heartbeats, follows the abort/aborted handshake and runs whitelisted
/// commands. Reconfigures on server restart, config lifetime expiry or a silent server.
public actor PushyAgentRuntime {
    let config: AgentConfiguration
    let logger: Logger
    /// REST and ZeroMQ to the server (`ServerLink`), or a test's stand-in.
    let link: any AgentServerLink
    /// Job processes (`ProcessRunner`), or a test's stand-in.
    let processes: any ProcessLauncher
    let locks = FileLocks()
    /// This process's id, constant across reconfigures (spec 5.1).
    public nonisolated let incarnationId = UUID().uuidString.lowercased()
    let hostName = NodeFacts.hostName()
    /// This process's CURVE key pair, kept across reconfigures (spec 4.1).
    let curveKeys: CurveKeyPair

    var runner: AgentRunner
    var session: Session?
    var generation = 0
    /// The job whose process is running (nil once it exited or was aborted).
    var current: RunningJob?
    /// Aborted jobs whose processes are being killed; their files go when they exit.
    var dropped: [String: ProcessRunner.Handle] = [:]
    var reconfigureAt: Double?
    /// The pending reconfigure is for a server restart (not a config lifetime expiry).
    var serverRestarted = false
    /// Set when the server went silent: the longest random wait before reconnecting (splay).
    var reconnectSplay: Double?
    /// Job messages not yet taken by a socket: sent again, re-signed, on the next session.
    var outbox = AgentOutbox()
    /// How long a new session may go without a command message before the config is fetched
    /// again (spec 4.5's 4 s, doubling while sessions stay silent).
    var silence = CommandSilence()
    /// What the agent has seen, for tests and logs.
    public internal(set) var stats = Stats()

    public struct Stats: Sendable {
        public var configFetches = 0
        public var serverHeartbeats = 0
        public var badMessages = 0
        public var replaysDropped = 0
        public var jobsRun = 0
        /// Job messages sent again on a new session because the old one never handed them over.
        public var messagesCarriedOver = 0
        /// Heartbeats the socket refused (dropped; the next one follows).
        public var heartbeatsDropped = 0
    }

    struct Session {
        var transport: any AgentTransport
        var nodeConfig: NodeConfig
        var sessionKey: [UInt8]
        var serverKey: RSAPublicKey
        var sequence = 0
        var online = true
        var offlineCounter = 0
        var onlineCounter = 0
        var configuredAt: Double
        var lastServerSequence = -1
        /// Whether anything arrived on the command socket since connecting (CURVE liveness proof).
        var heardCommand = false
    }

    public init(config: AgentConfiguration, logger: Logger = Logger(label: "pushy-client")) throws {
        try self.init(config: config, logger: logger, link: ServerLink(config: config, logger: logger),
                      processes: ProcessRunner(workDir: config.fileDir))
    }

    /// An agent on the given server link and process launcher (tests pass stand-ins).
    init(config: AgentConfiguration, logger: Logger, link: any AgentServerLink, processes: any ProcessLauncher) throws {
        self.config = config
        self.logger = logger
        self.link = link
        self.processes = processes
        self.runner = AgentRunner(whitelist: config.whitelist, defaultLockPath: config.defaultLockPath)
        self.curveKeys = try CurveKeyPair.generate()
    }

    static func now() -> Double { Date().timeIntervalSince1970 }

    /// Whether the agent has a session and has heard from the server.
    public var isConnected: Bool { session != nil }
    public var jobState: AgentJobState { runner.jobState }

    // MARK: Main loop

    /// Runs until the task is cancelled.
    public func run() async {
        var attempt = 0
        while !Task.isCancelled {
            do {
                try await connect()
                attempt = 0
            } catch {
                attempt += 1
                if let busy = error as? PushyClientError, let after = busy.retryAfter {
                    // The server is full (e.g. at its connection budget): wait as long as it asks,
                    // spread out so refused agents do not come back all at once.
                    let delay = Double(min(max(after, 1), 300)) * Double.random(in: 1.0...1.5)
                    logger.warning("server busy: \(error); retrying in \(delay.oneDecimal) s")
                    try? await Task.sleep(for: .seconds(delay))
                    continue
                }
                let delay = min(30.0, pow(2.0, Double(min(attempt, 5))) / 2) * Double.random(in: 0.8...1.2)
                logger.error("cannot configure: \(error); retrying in \(delay.oneDecimal) s")
                try? await Task.sleep(for: .seconds(delay))
                continue
            }
            await serveSession()
            if let splay = reconnectSplay {
                // The server went silent: wait a random part of an interval, so its agents do not
                // all reach the next server at once (issue 17).
                reconnectSplay = nil
                try? await Task.sleep(for: .seconds(Double.random(in: 0..<max(0.001, splay))))
            }
        }
        closeSession()
        stopCurrentJob()
        locks.releaseAll()
    }

    /// Fetches the config, reports the node and opens both sockets (spec 5.4 steps 1–3).
    func connect() async throws {
        // Our CURVE public key travels as `ccpk` so the server's ZAP handler admits it (spec 4.5).
        let nodeConfig = try await link.nodeConfig(node: config.nodeName, curvePublicKey: curveKeys.publicKey)
        stats.configFetches += 1
        let key = try SessionKey.decrypt(base64: nodeConfig.encodedSessionKey, with: config.key)
        let serverKey = try RSAPublicKey(pemRepresentation: nodeConfig.publicKey)
        if nodeConfig.curvePublicKey == nil, !config.allowUnencrypted {
            throw AgentError("the server offers no CURVE encryption and allow_unencrypted is off")
        }
        if config.reportNode {
            try await link.reportNode(NodeReport(
                name: config.nodeName, environment: config.environment, roles: config.roles, tags: config.tags,
                automatic: NodeFacts.collect(),
                normal: .object(config.attributes.map { ($0.0, JSONValue.string($0.1)) })))
        }
        let transport = try link.openTransport(nodeConfig, curveKeys: curveKeys)
        closeSession()
        generation += 1
        reconfigureAt = nil
        serverRestarted = false
        session = Session(transport: transport, nodeConfig: nodeConfig, sessionKey: key.bytes, serverKey: serverKey,
                          configuredAt: Self.now())
        logger.info("connected", metadata: ["pushy.server": "\(nodeConfig.commandAddr)", "pushy.node": "\(config.nodeName)"])
        resendCarryOver()
        sendHeartbeat()
    }

    /// Closes the session's sockets; job messages libzmq had not taken are kept for the next one.
    func closeSession() {
        guard let s = session else { return }
        s.transport.close()
        stats.heartbeatsDropped += s.transport.sendFailures
        // libzmq takes up to 3 messages for a connection that never completes (a refused or
        // broken CURVE handshake): until the server has answered on it, nothing counts as sent.
        let unsent = outbox.connectionClosed(handedOver: s.heardCommand ? s.transport.handedOver : 0)
        if unsent > 0 {
            logger.warning("\(unsent) job message(s) not sent before the connection closed; sending them on the next one")
        }
        session = nil
    }

    /// Sends what an earlier session could not, in its original order, with fresh sequence
    /// numbers and timestamps. The server treats a repeated result as the same result.
    func resendCarryOver() {
        let messages = outbox.takeCarryOver()
        guard !messages.isEmpty else { return }
        stats.messagesCarriedOver += messages.count
        logger.notice("sending \(messages.count) job message(s) left from the previous connection")
        for m in messages { send(m) }
    }

    /// Serves one session until it must be reconfigured or the task is cancelled.
    func serveSession() async {
        guard let s = session else { return }
        let gen = generation
        let interval = max(0.05, s.nodeConfig.interval)
        let ticker = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(interval))
                guard let self, await self.tick(generation: gen) else { return }
            }
        }
        defer { ticker.cancel() }
        await withTaskCancellationHandler {
            for await inbound in s.transport.inbound {
                switch inbound {
                case .broadcast(let frames): handleBroadcast(frames)
                case .command(let frames): handleCommand(frames)
                }
                if generation != gen || session == nil { break }
            }
        } onCancel: {
            s.transport.close()
        }
    }

    /// Once per interval: server liveness (spec 6.3), heartbeat, pending reconfigure.
    /// Returns false when the session ended.
    func tick(generation gen: Int, now: Double = PushyAgentRuntime.now()) -> Bool {
        guard generation == gen, var s = session else { return false }
        if s.online, s.offlineCounter > s.nodeConfig.offlineThreshold {
            logger.warning("no heartbeat from the server; reconnecting")
            s.online = false
            session = s
            reconnectSplay = min(10, s.nodeConfig.interval)
            // The next server is judged afresh: its first session gets spec 4.5's 4 s.
            silence.heard()
            link.serverWentSilent()
            reconfigure()
            return false
        }
        if !s.heardCommand, now - s.configuredAt >= silence.limit {
            logger.warning("No messages being received on command port in \(Int(silence.limit))s. Possible encryption problem? Reconfiguring.")
            silence.expired()
            reconfigure()
            return false
        }
        s.offlineCounter += 1
        session = s
        if now - s.configuredAt > Double(s.nodeConfig.lifetime) * Double.random(in: 0.9...1.0), reconfigureAt == nil {
            reconfigureAt = now
        }
        // A config lifetime expiry waits until the agent is idle; a server restart does not: the
        // old connection cannot reach the new server (its CURVE key changed), so the job's result
        // could not be delivered anyway (the restarted server crashed the job; spec 3.3).
        if let at = reconfigureAt, now >= at, runner.state == .idle || serverRestarted {
            reconfigure()
            return false
        }
        if s.online { sendHeartbeat() }
        return true
    }

    /// Drops the session; `run` fetches a fresh config and reconnects.
    func reconfigure() {
        generation += 1
        closeSession()
    }

    // MARK: Inbound

    func handleBroadcast(_ frames: [[UInt8]]) {
        guard var s = session, frames.count == 2,
              MessageSigner.verifyRSA(header: frames[0], body: frames[1], publicKey: s.serverKey),
              let m = try? ServerMessage.parse(frames[1]), m.messageType == .heartbeat
        else {
            stats.badMessages += 1
            return
        }
        guard abs(m.timestamp.timeIntervalSince1970 - Self.now()) < Double(s.nodeConfig.maxMessageSkew) else {
            stats.badMessages += 1
            return
        }
        stats.serverHeartbeats += 1
        s.offlineCounter = 0
        if !s.online {
            s.onlineCounter += 1
            if s.onlineCounter > s.nodeConfig.onlineThreshold { s.online = true; s.onlineCounter = 0 }
        }
        session = s
        if let inc = m.incarnationId, inc != s.nodeConfig.incarnationId, reconfigureAt == nil {
            // The server restarted: reconnect after a random splay so agents don't stampede.
            let splay = Double.random(in: 0..<max(0.001, s.nodeConfig.interval))
            logger.info("server restarted; reconfiguring in \(splay.oneDecimal) s")
            reconfigureAt = Self.now() + splay
            serverRestarted = true
        }
    }

    func handleCommand(_ frames: [[UInt8]]) {
        if session?.heardCommand == false {
            session?.heardCommand = true
            silence.heard()
        }
        guard let s = session, frames.count == 2,
              MessageSigner.verifyHMAC(header: frames[0], body: frames[1], key: s.sessionKey),
              let m = try? ServerMessage.parse(frames[1])
        else {
            stats.badMessages += 1
            return
        }
        guard abs(m.timestamp.timeIntervalSince1970 - Self.now()) < Double(s.nodeConfig.maxMessageSkew) else {
            stats.badMessages += 1
            return
        }
        // Replay protection (spec 12 point 3): on one connection the sequence must increase.
        // `abort` is always obeyed (it only resets) and sets the new baseline, which keeps
        // reference servers working: their per-node counter restarts with an abort.
        if m.messageType == .abort {
            session?.lastServerSequence = m.sequence
        } else if m.sequence <= s.lastServerSequence {
            stats.badMessages += 1
            stats.replaysDropped += 1
            return
        } else {
            session?.lastServerSequence = m.sequence
        }
        switch m.messageType {
        case .commit: perform(runner.commit(m, checks: checks))
        case .run: perform(runner.run(jobId: m.jobId))
        case .abort: perform(runner.abort())
        case .ack, .heartbeat, nil: break
        }
    }

    // MARK: Outbound

    func sendHeartbeat() {
        send(.heartbeat, jobId: runner.jobId, reason: nil, jobState: runner.jobState)
    }

    /// Whether the current server advertises a feature (`NodeConfig.features`).
    func serverOffers(_ feature: String) -> Bool {
        session?.nodeConfig.features.contains(feature) ?? false
    }

    /// Builds, signs and queues a message; `fill` adds type-specific fields.
    func send(_ type: AgentMessageType, jobId: String?, reason: String?, jobState: AgentJobState? = nil,
              fill: (inout AgentMessage) -> Void = { _ in }) {
        guard let org = config.orgName else {
            logger.error("no organization in the server URL; cannot send \(type.rawValue)")
            return
        }
        var msg = AgentMessage(
            node: config.nodeName, client: hostName, org: org, type: type, sequence: 0, timestamp: Date(),
            incarnationId: incarnationId, jobId: jobId, jobState: jobState, reason: reason)
        fill(&msg)
        send(msg)
    }

    /// Numbers, signs and queues `message` on the current session. Job messages (everything
    /// but heartbeats) are never dropped: with no session they wait in `carryOver`; on a session
    /// they are tracked until libzmq takes them (`inFlight`), so a reconnect sends them again.
    func send(_ message: AgentMessage) {
        guard var s = session else {
            outbox.hold(message)
            return
        }
        var msg = message
        s.sequence += 1
        msg.sequence = s.sequence
        msg.timestamp = Date()
        session = s
        let frames = MessageSigner.hmacFrames(body: msg.bodyBytes, key: s.sessionKey)
        let guaranteed = AgentOutbox.mustDeliver(msg)
        outbox.sending(msg, handedOver: s.heardCommand ? s.transport.handedOver : 0)
        if !s.transport.send(frames, delivery: guaranteed ? .guaranteed : .bestEffort) {
            logger.warning("could not queue \(msg.type): the connection is closing; reconnecting")
            reconfigureAt = Self.now()
        }
    }

}

/// A configuration problem the agent cannot fix by retrying.
public struct AgentError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
