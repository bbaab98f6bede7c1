import Foundation
import Logging
import PushyAPIClient
import PushyCore
import PushyProtocol
import PushyZMQ

/// The agent (spec 5.4, 6.3, 7): fetches its config with a signed request, holds the SUB and
/// DEALER connections, heartbeats, follows the abort/aborted handshake and runs whitelisted
/// commands. Reconfigures on server restart, config lifetime expiry or a silent server.
public actor PushyAgentRuntime {
    let config: AgentConfiguration
    let logger: Logger
    let rest: PushyRESTClient
    let context: ZMQContext
    let processes: ProcessRunner
    /// This process's id, constant across reconfigures (spec 5.1).
    public nonisolated let incarnationId = UUID().uuidString.lowercased()
    let hostName = NodeFacts.hostName()

    var runner: AgentRunner
    var session: Session?
    var generation = 0
    var childPid: pid_t = 0
    var reconfigureAt: Double?
    /// What the agent has seen, for tests and logs.
    public private(set) var stats = Stats()

    public struct Stats: Sendable {
        public var configFetches = 0
        public var serverHeartbeats = 0
        public var badMessages = 0
        public var jobsRun = 0
    }

    struct Session {
        var transport: ZMQAgentTransport
        var nodeConfig: NodeConfig
        var sessionKey: [UInt8]
        var serverKey: RSAPublicKey
        var sequence = 0
        var online = true
        var offlineCounter = 0
        var onlineCounter = 0
        var configuredAt: Double
        var lastServerSequence = -1
    }

    public init(config: AgentConfiguration, logger: Logger = Logger(label: "pushy-client")) throws {
        self.config = config
        self.logger = logger
        self.rest = try PushyRESTClient(orgURL: config.serverURL, userId: config.nodeName, key: config.key,
                                         timeout: .seconds(15))
        self.context = try ZMQContext(ioThreads: 1, maxSockets: 64)
        self.processes = ProcessRunner(workDir: config.fileDir)
        self.runner = AgentRunner(whitelist: config.whitelist)
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
                let delay = min(30.0, pow(2.0, Double(min(attempt, 5))) / 2) * Double.random(in: 0.8...1.2)
                logger.error("cannot configure: \(error); retrying in \(String(format: "%.1f", delay)) s")
                try? await Task.sleep(for: .seconds(delay))
                continue
            }
            await serveSession()
        }
        closeSession()
        if childPid > 0 { ProcessRunner.killGroup(childPid, grace: config.killGracePeriod) }
    }

    /// Fetches the config, reports the node and opens both sockets (spec 5.4 steps 1–3).
    func connect() async throws {
        let nodeConfig = try await rest.config(node: config.nodeName)
        stats.configFetches += 1
        let key = try SessionKey.decrypt(base64: nodeConfig.encodedSessionKey, with: config.key)
        let serverKey = try RSAPublicKey(pemRepresentation: nodeConfig.publicKey)
        if nodeConfig.curvePublicKey == nil, !config.allowUnencrypted {
            throw AgentError("the server offers no CURVE encryption and allow_unencrypted is off")
        }
        if config.reportNode {
            try await rest.reportNode(NodeReport(
                name: config.nodeName, environment: config.environment, roles: config.roles, tags: config.tags,
                automatic: NodeFacts.collect(),
                normal: .object(config.attributes.map { ($0.0, JSONValue.string($0.1)) })))
        }
        let transport = try ZMQAgentTransport(context: context, options: .init(
            subEndpoint: nodeConfig.outAddr, dealerEndpoint: nodeConfig.commandAddr,
            curveServerKey: nil, curveKeyPair: nil))
        closeSession()
        generation += 1
        reconfigureAt = nil
        session = Session(transport: transport, nodeConfig: nodeConfig, sessionKey: key.bytes, serverKey: serverKey,
                          configuredAt: Self.now())
        logger.info("connected", metadata: ["pushy.server": "\(nodeConfig.commandAddr)", "pushy.node": "\(config.nodeName)"])
        sendHeartbeat()
    }

    func closeSession() {
        session?.transport.close()
        session = nil
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
    func tick(generation gen: Int) -> Bool {
        guard generation == gen, var s = session else { return false }
        let now = Self.now()
        if s.online, s.offlineCounter > s.nodeConfig.offlineThreshold {
            logger.warning("no heartbeat from the server; reconnecting")
            s.online = false
            session = s
            reconfigure()
            return false
        }
        s.offlineCounter += 1
        session = s
        if now - s.configuredAt > Double(s.nodeConfig.lifetime) * Double.random(in: 0.9...1.0), reconfigureAt == nil {
            reconfigureAt = now
        }
        if let at = reconfigureAt, now >= at, runner.state == .idle {
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
            logger.info("server restarted; reconfiguring in \(String(format: "%.1f", splay)) s")
            reconfigureAt = Self.now() + splay
        }
    }

    func handleCommand(_ frames: [[UInt8]]) {
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
        switch m.messageType {
        case .commit: perform(runner.commit(m, checks: Self.checks))
        case .run: perform(runner.run(jobId: m.jobId))
        case .abort: perform(runner.abort())
        case .ack, .heartbeat, nil: break
        }
    }

    static let checks = AgentRunner.Checks(
        userExists: { getpwnam($0) != nil },
        directoryExists: { path in
            var isDir: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
        })

    // MARK: Outbound

    func perform(_ outputs: [AgentRunner.Output], result: ProcessRunner.Result? = nil) {
        for o in outputs {
            switch o {
            case .send(let type, let jobId, let reason):
                var stdout: String? = nil, stderr: String? = nil
                if let result, case .running = runner.state {} else if let result, capturing {
                    (stdout, stderr) = Self.fit(result, limit: config.maxBodySize)
                }
                send(type, jobId: jobId, reason: reason, stdout: stdout, stderr: stderr, exitStatus: result.map { Int($0.status) })
            case .spawn(let plan):
                start(plan)
            case .kill:
                if childPid > 0 { ProcessRunner.killGroup(childPid, grace: config.killGracePeriod) }
                childPid = 0
            }
        }
    }

    var capturing = false

    func start(_ plan: AgentRunner.Plan) {
        var env = ProcessInfo.processInfo.environment
        for (k, v) in plan.env { env[k] = v }
        env["CHEF_PUSH_NODE_NAME"] = config.nodeName
        env["CHEF_PUSH_JOB_ID"] = plan.jobId
        capturing = plan.capture
        stats.jobsRun += 1
        do {
            childPid = try processes.spawn(plan, environment: env) { [weak self] result in
                Task { await self?.processExited(jobId: plan.jobId, result: result) }
            }
            logger.info("job started", metadata: ["pushy.job": "\(plan.jobId)", "pushy.pid": "\(childPid)"])
        } catch {
            perform(runner.spawnFailed(jobId: plan.jobId, reason: "\(error)"))
        }
    }

    func processExited(jobId: String, result: ProcessRunner.Result) {
        childPid = 0
        logger.info("job finished", metadata: ["pushy.job": "\(jobId)", "pushy.status": "\(result.status)"])
        perform(runner.exited(jobId: jobId, status: result.status), result: result)
    }

    /// Keeps the tail of stdout and stderr within `limit` bytes together (spec 12 point 8).
    static func fit(_ r: ProcessRunner.Result, limit: Int) -> (String, String) {
        var out = r.stdout, err = r.stderr
        if out.count + err.count > limit {
            let half = limit / 2
            let errKeep = min(err.count, max(half, limit - out.count))
            let outKeep = min(out.count, limit - errKeep)
            out = Array(out.suffix(outKeep))
            err = Array(err.suffix(errKeep))
        }
        return (String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }

    func sendHeartbeat() {
        send(.heartbeat, jobId: runner.jobId, reason: nil, jobState: runner.jobState)
    }

    func send(_ type: AgentMessageType, jobId: String?, reason: String?, jobState: AgentJobState? = nil,
              stdout: String? = nil, stderr: String? = nil, exitStatus: Int? = nil) {
        guard var s = session, let org = config.orgName else { return }
        s.sequence += 1
        session = s
        let msg = AgentMessage(
            node: config.nodeName, client: hostName, org: org, type: type, sequence: s.sequence, timestamp: Date(),
            incarnationId: incarnationId, jobId: jobId, jobState: jobState, stdout: stdout, stderr: stderr,
            reason: reason, exitStatus: type == .succeeded || type == .failed ? exitStatus : nil)
        if !s.transport.send(MessageSigner.hmacFrames(body: msg.bodyBytes, key: s.sessionKey)) {
            logger.warning("could not queue \(type.rawValue); reconnecting")
            reconfigureAt = Self.now()
        }
    }
}

/// A configuration problem the agent cannot fix by retrying.
public struct AgentError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
