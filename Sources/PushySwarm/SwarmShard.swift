import Foundation
import PushyCore
import PushyProtocol
import PushyZMQ

/// A slice of the swarm's agents living on one `ZMQSwarmTransport` I/O thread. All agent
/// state is touched only on that thread (transport callbacks and `transport.perform`), which
/// is what makes the unchecked `Sendable` sound.
final class SwarmShard: ZMQSwarmHandler, @unchecked Sendable {
    enum Job: Equatable {
        case idle
        case committed(String)
        case running(String)

        var id: String? {
            switch self {
            case .idle: nil
            case .committed(let j), .running(let j): j
            }
        }

        var state: AgentJobState {
            switch self {
            case .idle: .idle
            case .committed: .committed
            case .running: .running
            }
        }
    }

    /// A class, so reading an agent's session on every message is one retain, not a copy of
    /// the whole config.
    final class Session {
        var config: NodeConfig
        var mac: SessionMAC
        var serverKey: RSAPublicKey
        var offlineCounter = 0
        var reconfiguring = false
        /// When the sockets were opened, and whether anything has arrived on the command socket
        /// since: like a real agent, no message within 4 s (more after silent sessions:
        /// `Agent.silence`) means the CURVE channel is broken (e.g. the ZAP allow-list expired
        /// during a reconnect storm) → fetch a new config.
        var connectedAt = SwarmShard.now()
        var heardCommand = false
        var interval: Double { max(0.05, config.interval) }

        init(config: NodeConfig, mac: SessionMAC, serverKey: RSAPublicKey) {
            self.config = config
            self.mac = mac
            self.serverKey = serverKey
        }
    }

    struct Agent {
        let index: Int
        let name: String
        let fails: Bool
        let nacks: Bool
        /// Fixed for the agent process's lifetime (spec 5.1); a `restart` makes a new one.
        var incarnation = UUID().uuidString.lowercased()
        /// Its own CURVE key pair, made at its first connect and kept (as a real agent's).
        var curveKeys: CurveKeyPair?
        var session: Session?
        /// Bumped whenever the session changes, to void pending session timers.
        var token = 0
        /// Bumped whenever the job changes, to void a pending command end.
        var jobToken = 0
        var job = Job.idle
        /// What this agent does in its current job (from the job's plan or the swarm's ratios).
        var runSeconds = 0.0
        var runFails = false
        /// When the running command ends (kept so that an unmuted agent finishes it).
        var finishAt: Double?
        var sequence = 0
        var muted = false
        var ready = false
        var fetching = false
        /// The position of the server it is with in its list (`SwarmConfiguration.serverURLs(index:)`),
        /// and where its next config request starts (the next one after that server went silent).
        var server = 0
        var startAt = 0
        /// How long its next session may go without a command message (4 s, doubling while
        /// sessions stay silent), as a real agent's.
        var silence = CommandSilence()
    }

    let org: String
    let configuration: SwarmConfiguration
    let stats: AtomicSwarmStats
    /// Asks the swarm to fetch `slot`'s config (shard, slot, node name, CURVE keys, the position
    /// of the server to start with, whether the agent is moving off a server that went silent);
    /// it answers with `configured` or `fetchFailed`.
    let requestConfig: @Sendable (SwarmShard, Int, String, CurveKeyPair, Int, Bool) -> Void
    var agents: [Agent]
    var timers = TimerHeap()
    /// Set once, right after init (the transport needs its handler first).
    var transport: ZMQSwarmTransport!
    /// Every agent of a shard receives the same server heartbeat; verify the RSA signature once.
    var lastBroadcast: (header: [UInt8], body: [UInt8], message: ServerMessage?)?
    /// Every agent of a job gets the same command: parse its plan once.
    var lastPlan: (command: String, plan: JobPlan?)?
    /// With `recordJobs`: per job, per global agent index, what the agent did (`AgentJobEvent`s).
    var records: [String: [Int: [UInt8]]] = [:]
    /// Jobs already reported: later events for them are not kept (bounded by the jobs run).
    var reported = Set<String>()

    init(org: String, indexes: Range<Int>, configuration: SwarmConfiguration, stats: AtomicSwarmStats,
         requestConfig: @escaping @Sendable (SwarmShard, Int, String, CurveKeyPair, Int, Bool) -> Void) {
        self.org = org
        self.configuration = configuration
        self.stats = stats
        self.requestConfig = requestConfig
        agents = indexes.map { i in
            Agent(index: i, name: Swarm.nodeName(prefix: configuration.prefix, index: i),
                  fails: Swarm.isSelected(index: i, ratio: configuration.failRatio),
                  nacks: Swarm.isSelected(index: i, ratio: configuration.nackRatio))
        }
    }

    static let clockStart = ContinuousClock.now
    static func now() -> Double {
        let d = clockStart.duration(to: .now)
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    // MARK: Called through transport.perform

    func start() {
        let now = Self.now()
        for slot in agents.indices {
            let splay = configuration.connectSplaySeconds > 0 ? Double.random(in: 0..<configuration.connectSplaySeconds) : 0
            timers.push(.init(at: now + splay, slot: slot, token: agents[slot].token, kind: .connect))
        }
        tick()
    }

    func mute(slot: Int) {
        guard !agents[slot].muted else { return }
        agents[slot].muted = true
        note(slot, job: agents[slot].job.id, .muted)
    }

    /// Ends a mute: heartbeats resume, and a command that ended meanwhile reports now (a hung
    /// host coming back). Messages that arrived while muted stay lost.
    func unmute(slot: Int) {
        guard agents[slot].muted else { return }
        agents[slot].muted = false
        let a = agents[slot]
        let now = Self.now()
        if a.session != nil {
            // The heartbeat timer kept running while muted (without sending).
            sendHeartbeat(slot)
        } else {
            timers.push(.init(at: now, slot: slot, token: a.token, kind: .connect))
        }
        if case .running = a.job, let at = a.finishAt {
            timers.push(.init(at: max(now, at), slot: slot, token: a.jobToken, kind: .finish))
        }
        tick()
    }

    /// Restarts an agent that is in a job, like a killed agent process coming back: its
    /// connections close at once (unsent messages are lost), it gets a new incarnation and
    /// reconnects with a fresh config after 0.2–1 s. Returns false (and does nothing) when the
    /// agent is idle, muted or not connected.
    func restart(slot: Int) -> Bool {
        let a = agents[slot]
        guard a.job != .idle, !a.muted, a.session != nil else { return false }
        note(slot, job: a.job.id, .restarted)
        stats.add(.restarts)
        agents[slot].incarnation = UUID().uuidString.lowercased()
        agents[slot].finishAt = nil
        reconfigure(slot, after: Double.random(in: 0.2...1.0))
        return true
    }

    /// Hands out (and forgets) what this shard's agents did in `job`.
    func takeRecords(job: String) -> [(index: Int, events: String)] {
        reported.insert(job)
        guard let r = records.removeValue(forKey: job) else { return [] }
        return r.map { (index: $0.key, events: String(decoding: $0.value, as: UTF8.self)) }
    }

    func note(_ slot: Int, job: String?, _ event: AgentJobEvent) {
        guard configuration.recordJobs, let job, !reported.contains(job) else { return }
        records[job, default: [:]][agents[slot].index, default: []].append(event.rawValue.asciiValue!)
    }

    /// The config came from the agent's server at position `server` (it stays with that one).
    func configured(slot: Int, config: NodeConfig, key: [UInt8], serverKey: RSAPublicKey, server: Int = 0) {
        var a = agents[slot]
        a.fetching = false
        if server != a.server { stats.add(.serverMoves) }
        a.server = server
        a.startAt = server
        if a.session == nil { stats.add(.connected) }
        if a.ready { stats.add(.ready, -1) }
        a.ready = false
        a.token += 1
        a.sequence = 0
        a.session = Session(config: config, mac: SessionMAC(key: key), serverKey: serverKey)
        agents[slot] = a
        let spread = configuration.addressSpread
        let curve = config.curvePublicKey.flatMap { server in
            a.curveKeys.map { ZMQSwarmTransport.Curve(serverKey: server, keyPair: $0) }
        }
        transport.open(slot: slot, subEndpoint: Self.endpoint(config.outAddr, spread: spread, index: a.index),
                       dealerEndpoint: Self.endpoint(config.commandAddr, spread: spread, index: a.index), curve: curve)
        sendHeartbeat(slot)
        timers.push(.init(at: Self.now() + max(0.05, config.interval), slot: slot, token: a.token, kind: .heartbeat))
    }

    /// A failed config fetch is retried after 1–5 s, or after the server's `Retry-After` (+0–50 %).
    func fetchFailed(slot: Int, retryAfter: Int? = nil) {
        agents[slot].fetching = false
        let delay = retryAfter.map { Double(min(max($0, 1), 300)) * Double.random(in: 1.0...1.5) } ?? Double.random(in: 1...5)
        timers.push(.init(at: Self.now() + delay, slot: slot, token: agents[slot].token, kind: .connect))
    }

    /// A fresh CURVE key pair whose Z85 public key has no `%`: the server currently decodes the
    /// `ccpk` query parameter twice, so a key containing `%XX` arrives mangled (401 Bad ccpk).
    /// Remove the filter once the server decodes once.
    static func curveKeyPair() -> CurveKeyPair? {
        for _ in 0..<64 {
            guard let k = try? CurveKeyPair.generate() else { return nil }
            if !k.publicKey.contains("%") { return k }
        }
        return nil
    }

    /// `tcp://HOST:PORT` → `tcp://127.0.0.(1 + index % spread):PORT` when spreading.
    static func endpoint(_ e: String, spread: Int, index: Int) -> String {
        guard spread > 1, e.hasPrefix("tcp://"), let colon = e.lastIndex(of: ":") else { return e }
        return "tcp://127.0.0.\(1 + index % spread)" + e[colon...]
    }

    // MARK: ZMQSwarmHandler

    func tick() {
        let now = Self.now()
        while let e = timers.popDue(now) { fire(e, now: now) }
    }

    func openFailed(slot: Int, error: ZMQError) {
        stats.add(.openFailures)
        reconfigure(slot, after: Double.random(in: 1...5))
    }

    func sendFailed(slot: Int, error: ZMQError) {
        stats.add(.sendFailures)
    }

    func received(slot: Int, channel: ZMQSwarmTransport.Channel, frames: [[UInt8]]) {
        guard !agents[slot].muted, agents[slot].session != nil, frames.count == 2 else { return }
        switch channel {
        case .broadcast: broadcast(slot, header: frames[0], body: frames[1])
        case .command: command(slot, header: frames[0], body: frames[1])
        }
    }

    // MARK: Timers

    func fire(_ e: TimerHeap.Entry, now: Double) {
        let a = agents[e.slot]
        switch e.kind {
        case .connect:
            guard e.token == a.token, a.session == nil, !a.fetching, !a.muted else { return }
            guard let keys = a.curveKeys ?? Self.curveKeyPair() else {
                stats.add(.openFailures)
                return
            }
            agents[e.slot].curveKeys = keys
            agents[e.slot].fetching = true
            requestConfig(self, e.slot, a.name, keys, a.startAt, a.startAt != a.server)
        case .heartbeat:
            guard e.token == a.token, let s = a.session else { return }
            if a.muted {
                // Silent, but the timer keeps its beat for when the agent is unmuted.
                timers.push(.init(at: max(now, e.at + s.interval), slot: e.slot, token: a.token, kind: .heartbeat))
                return
            }
            // Server liveness (spec 6.3): too many intervals without a server heartbeat → reconnect.
            if s.offlineCounter > s.config.offlineThreshold, !s.reconfiguring {
                // As the agent does: the next config request starts with the next server.
                agents[e.slot].startAt = (a.server + 1) % (1 + configuration.fallbackURLs.count)
                agents[e.slot].silence.heard()
                reconfigure(e.slot, after: Double.random(in: 0..<s.interval))
                return
            }
            if !s.heardCommand, now - s.connectedAt >= a.silence.limit, !s.reconfiguring {
                stats.add(.silentCommandChannels)
                agents[e.slot].silence.expired()
                reconfigure(e.slot, after: Double.random(in: 0..<1))
                return
            }
            s.offlineCounter += 1
            stats.max(.heartbeatLagMaxMs, Int((now - e.at) * 1000))
            // A whole interval late: the server's liveness (dead 2.5 intervals after the last
            // beat) may have lost the node; the soak's check allows for it.
            if now - e.at > s.interval, a.job != .idle { note(e.slot, job: a.job.id, .late) }
            sendHeartbeat(e.slot)
            timers.push(.init(at: max(now, e.at + s.interval), slot: e.slot, token: a.token, kind: .heartbeat))
        case .finish:
            // A muted agent's command ends when it is unmuted (`unmute` schedules it again).
            guard e.token == a.jobToken, case .running(let job) = a.job, !a.muted else { return }
            finish(e.slot, job: job)
        case .reconfigure:
            guard e.token == a.token, a.session != nil else { return }
            reconfigure(e.slot, after: 0)
        }
    }

    /// Drops the session and fetches a fresh config after `delay` (spec 5.4).
    func reconfigure(_ slot: Int, after delay: Double) {
        var a = agents[slot]
        if a.session != nil { stats.add(.connected, -1) }
        if a.ready { stats.add(.ready, -1) }
        transport.close(slot: slot)
        a.session = nil
        a.ready = false
        a.token += 1
        a.jobToken += 1
        a.job = .idle
        a.finishAt = nil
        agents[slot] = a
        stats.add(.reconfigures)
        timers.push(.init(at: Self.now() + delay, slot: slot, token: a.token, kind: .connect))
    }

    // MARK: Inbound

    func broadcast(_ slot: Int, header: [UInt8], body: [UInt8]) {
        guard let s = agents[slot].session else { return }
        let message: ServerMessage?
        if let last = lastBroadcast, last.header == header, last.body == body {
            message = last.message
        } else {
            message = MessageSigner.verifyRSA(header: header, body: body, publicKey: s.serverKey)
                ? (try? ServerMessage.parse(body)) : nil
            lastBroadcast = (header, body, message)
        }
        guard let m = message, m.messageType == .heartbeat,
              abs(m.timestamp.timeIntervalSinceNow) < Double(s.config.maxMessageSkew)
        else { return stats.add(.badMessages) }
        stats.add(.serverHeartbeats)
        s.offlineCounter = 0
        if let inc = m.incarnationId, inc != s.config.incarnationId, !s.reconfiguring {
            // The server restarted: reconnect after a random splay so agents don't stampede.
            s.reconfiguring = true
            timers.push(.init(at: Self.now() + Double.random(in: 0..<s.interval), slot: slot,
                              token: agents[slot].token, kind: .reconfigure))
        }
    }

    func command(_ slot: Int, header: [UInt8], body: [UInt8]) {
        if agents[slot].session?.heardCommand == false {
            agents[slot].session?.heardCommand = true
            agents[slot].silence.heard()
        }
        guard let s = agents[slot].session,
              let scanned = try? MessageHeader.scan(header), s.mac.verify(frame: header, scanned, body: body),
              let m = try? ServerMessage.parse(body),
              abs(m.timestamp.timeIntervalSinceNow) < Double(s.config.maxMessageSkew)
        else { return stats.add(.badMessages) }
        var a = agents[slot]
        switch m.messageType {
        case .abort:
            stats.add(.aborts)
            let previous = a.job.id
            a.job = .idle
            a.jobToken += 1
            a.finishAt = nil
            markReady(&a)
            agents[slot] = a
            note(slot, job: previous, .aborted)
            send(slot, .aborted, jobId: previous)
        case .ack:
            markReady(&a)
            agents[slot] = a
        case .commit:
            stats.add(.commits)
            guard let job = m.jobId else { return stats.add(.badMessages) }
            var nacks = a.nacks
            (a.runSeconds, a.runFails) = (configuration.commandSeconds, a.fails)
            if let plan = plan(m.command) {
                switch plan.outcome(jobId: job, index: a.index) {
                case .nack: nacks = true
                case .run(let seconds, let fails): (nacks, a.runSeconds, a.runFails) = (false, seconds, fails)
                }
            }
            if a.job != .idle {
                stats.add(.nacks)
                note(slot, job: job, .nackBusy)
                send(slot, .nackCommit, jobId: job, reason: "busy")
            } else if nacks {
                stats.add(.nacks)
                note(slot, job: job, .nackCommit)
                send(slot, .nackCommit, jobId: job, reason: "simulated nack")
            } else if m.commitRun == true {
                // `commit_run` (issue 16): accepted means started, answered `ack_run`.
                agents[slot] = a
                start(slot, job: job)
            } else {
                a.job = .committed(job)
                agents[slot] = a
                note(slot, job: job, .ackCommit)
                send(slot, .ackCommit, jobId: job)
            }
        case .run:
            guard let job = m.jobId, a.job == .committed(job) else {
                if let job = m.jobId, a.job == .running(job) {
                    // The same run again (the server resent it): acked again, as the real agent does.
                    note(slot, job: job, .duplicateRun)
                    return send(slot, .ackRun, jobId: job)
                }
                note(slot, job: m.jobId, .nackRun)
                return send(slot, .nackRun, jobId: m.jobId)
            }
            agents[slot] = a
            start(slot, job: job)
        case .heartbeat, nil:
            break
        }
    }

    /// Starts the simulated command of `job` (after `run`, or a `commit_run` commit): `ack_run`,
    /// then the result at once or when its time is up.
    func start(_ slot: Int, job: String) {
        var a = agents[slot]
        stats.add(.runs)
        a.job = .running(job)
        a.jobToken += 1
        a.finishAt = Self.now() + a.runSeconds
        agents[slot] = a
        note(slot, job: job, .ackRun)
        send(slot, .ackRun, jobId: job)
        if a.runSeconds <= 0 {
            finish(slot, job: job)
        } else {
            timers.push(.init(at: a.finishAt!, slot: slot, token: a.jobToken, kind: .finish))
        }
    }

    /// The plan of a `mix-…` command (nil for any other command), parsed once per command.
    func plan(_ command: String?) -> JobPlan? {
        guard let command else { return nil }
        if let last = lastPlan, last.command == command { return last.plan }
        let p = JobPlan.parse(command)
        lastPlan = (command, p)
        return p
    }

    func markReady(_ a: inout Agent) {
        guard !a.ready else { return }
        a.ready = true
        stats.add(.ready)
    }

    // MARK: Outbound

    func finish(_ slot: Int, job: String) {
        let fails = agents[slot].runFails
        agents[slot].job = .idle
        agents[slot].jobToken += 1
        agents[slot].finishAt = nil
        stats.add(fails ? .failed : .succeeded)
        note(slot, job: job, fails ? .failed : .succeeded)
        send(slot, fails ? .failed : .succeeded, jobId: job, exitStatus: fails ? 1 : 0)
    }

    func sendHeartbeat(_ slot: Int) {
        stats.add(.heartbeatsSent)
        send(slot, .heartbeat, jobId: agents[slot].job.id, jobState: agents[slot].job.state)
    }

    func send(_ slot: Int, _ type: AgentMessageType, jobId: String?, jobState: AgentJobState? = nil,
              reason: String? = nil, exitStatus: Int? = nil) {
        guard let s = agents[slot].session else { return }
        agents[slot].sequence += 1
        let message = AgentMessage(
            node: agents[slot].name, client: "pushy-swarm", org: org, type: type, sequence: agents[slot].sequence,
            timestamp: Date(), incarnationId: agents[slot].incarnation, jobId: jobId, jobState: jobState, reason: reason,
            exitStatus: exitStatus)
        transport.send(slot: slot, frames: s.mac.frames(body: message.bodyBytes))
    }
}
