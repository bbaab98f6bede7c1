import Foundation
import PushyCore
import PushyProtocol

extension CommandEngine {
    /// One pass of every timer: job timeouts, finished-job release, rehab resends, the liveness
    /// scan and the heartbeat broadcast; one scan serves all nodes instead of a timer per node.
    /// Returns how long `EngineTicker` may wait before the next pass: nil for its prompt period
    /// (a few times a second) while `needsPromptTick`, else `idleWait(now:)`.
    @discardableResult
    public func tick() -> Double? {
        tickTimers()
        return needsPromptTick ? nil : idleWait(now: clock())
    }

    /// Whether a timer may fire any moment: a job is under way, node changes wait to be written,
    /// a node waits in rehab for its `aborted`, or the first broadcasts are not all out.
    var needsPromptTick: Bool {
        !rehabNodes.isEmpty || !pendingNodeUpdates.isEmpty || earlyBroadcasts < 3
            || jobs.values.contains { !$0.machine.status.isTerminal }
    }

    /// Longest wait, seconds, between two passes of an idle engine: a fifth of the heartbeat
    /// interval (liveness is then judged a fifth of an interval late at worst, against a
    /// tolerance of several), at most `idleTickLimit`, and never past the next broadcast.
    func idleWait(now: Double) -> Double {
        min(Self.idleTickLimit, config.heartbeatInterval / 5, max(0, lastBroadcast + config.heartbeatInterval - now))
    }

    /// At most this long (seconds) between two passes of an idle engine (issue 16: at small fleets an
    /// idle server's fixed wake-ups were most of its CPU).
    static let idleTickLimit = 1.0

    private func tickTimers() {
        let now = clock()
        flush()
        for (id, job) in jobs {
            if !job.machine.status.isTerminal {
                let actions = job.machine.tick(now: now)
                if !actions.isEmpty { perform(actions, job: job, now: now) }
            } else if let f = job.machine.finishedAt, now - f >= config.waitCompleteTime, !writer.hasPending(job: id) {
                // Released only once its rows are durable: until then readers are served from here.
                jobs[id] = nil
            }
        }
        // Judged no later than the server last had every inbound message in hand: a server
        // starved of CPU must not take its own lateness for its agents' silence.
        let judged = livenessTime(now: now)
        // Only nodes waiting for `aborted` are visited, not every session. A node has not
        // answered only if its `aborted` is not among the messages still unread: resends are
        // judged at the same time as liveness, so a server behind on its inbound does not send
        // one abort per second per node (each answered, and read, once it catches up) and
        // fall further behind.
        for key in rehabNodes {
            guard let s = sessions[key] else { rehabNodes.remove(key); continue }
            if s.machine.availability != .rehab {
                rehabNodes.remove(key)
            } else if judged - s.machine.lastAbortAt >= config.rehabInterval {
                perform(s.machine.tick(now: now, rehabInterval: config.rehabInterval), s, key, now: now)
            }
        }
        // Liveness: only nodes whose EWMA interval has ended are evaluated (the wheel), on
        // every tick, so a silent node is noticed within a tick (idle: a fifth of an interval at
        // most) of crossing the threshold.
        var dead: [NodeKey] = []
        for key in livenessWheel.due(at: judged) {
            guard let s = sessions[key] else { continue }
            let due = s.liveness.intervalStart + s.liveness.parameters.interval
            if judged < due {
                livenessWheel.schedule(key, at: due)
            } else if s.liveness.evaluate(at: judged) {
                livenessWheel.schedule(key, at: s.liveness.intervalStart + s.liveness.parameters.interval)
            } else {
                dead.append(key)
            }
        }
        for key in dead { terminate(key, reason: "no heartbeat from the node (liveness lost)", now: now) }
        // Besides every interval, broadcast 1, 2 and 3 s after start: the first broadcast is
        // lost while agents' subscriptions reconnect, and agents learn of a restart from it.
        let sinceStart = now - startedAt
        let early = earlyBroadcasts < 3 && sinceStart >= Double(earlyBroadcasts + 1)
        if early { earlyBroadcasts += 1 }
        if early || now - lastBroadcast >= config.heartbeatInterval {
            lastBroadcast = now
            broadcastHeartbeat(now: now)
        }
    }

    /// The time up to which node silence is judged: the clock, or the moment the transport last
    /// had every inbound message in hand when that is earlier (the server is behind), but never
    /// more than `livenessHoldBack` heartbeat intervals behind the clock, so a server that stays
    /// overloaded still finds dead nodes, later. Counted when it holds back more than an interval.
    func livenessTime(now: Double) -> Double {
        guard let caughtUp = transport?.caughtUpAt, caughtUp < now else { return now }
        let judged = max(caughtUp, now - config.heartbeatInterval * Self.livenessHoldBack)
        if now - judged > config.heartbeatInterval {
            livenessHeldBack += 1
            if now - lastHoldBackLog >= 60 {
                lastHoldBackLog = now
                logger.warning("inbound messages are behind: node liveness judged as of \(String(format: "%.1f", now - judged)) s ago",
                               metadata: ["pushy.held_back_ticks": "\(livenessHeldBack)"])
            }
        }
        return judged
    }

    /// Publishes the server heartbeat: one RSA signature per broadcast, shared by every agent (spec 6.2).
    func broadcastHeartbeat(now: Double) {
        let msg = ServerMessage(
            type: .heartbeat, sequence: broadcastSequence, timestamp: Date(timeIntervalSince1970: now),
            server: hostName, incarnationId: incarnationId)
        broadcastSequence += 1
        counters.outbound[msg.type, default: 0] += 1
        let started = ContinuousClock.now
        defer { metrics.heartbeatBroadcast(duration: ContinuousClock.now - started) }
        do {
            transport?.publish(try MessageSigner.rsaFrames(body: msg.bodyBytes, key: serverKey))
        } catch {
            logger.error("could not sign heartbeat", metadata: ["pushy.error": "\(error)"])
        }
    }

    /// At start: jobs left unfinished by a previous run become `crashed` (spec 3.3).
    public func crashUnfinishedJobs() async throws -> [String] {
        try await store.crashUnfinishedJobs(
            reason: "the server restarted while the job was unfinished", at: Date())
    }
}
