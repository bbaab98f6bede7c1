import Foundation
import PushyCore
import PushyProtocol
@testable import PushyServer
import PushyTestSupport
import Synchronization
import Testing

/// In-memory agents for router-level tests. Each runs the real agent's job runner
/// (`AgentRunner`: the whitelist, one job at a time, commit → run → result, abort → aborted)
/// and answers the engine on the connection the engine sends to, as `pushy-client` does over
/// ZeroMQ; only its processes are scripted (`Script`). The engine's sends come in through the
/// recording transport (`deliver`, on the engine's actor) and are answered in order by one task.
final class AgentStandIns: Sendable {
    /// How a whitelisted command's process ends.
    enum Script: Sendable {
        /// With this exit status, at once.
        case exits(Int32)
        /// Never by itself: it runs until killed (abort, timeout).
        case runsUntilKilled
    }

    /// The whitelist of `TestCluster` (name=command line) and what each process does.
    static let whitelist: [(flag: String, script: Script)] = [
        ("ok=/bin/true", .exits(0)), ("fail=/bin/sh -c 'exit 3'", .exits(3)), ("sleep=/bin/sleep 30", .runsUntilKilled),
        ("echo=echo hello", .exits(0)),
    ]

    struct Agent: Sendable {
        let name: String
        let key: [UInt8]
        let incarnation = UUID().uuidString.lowercased()
        var sequence = 0
        var runner: AgentRunner
        var scripts: [String: Script]
        /// Answers `abort` but never votes (a voting timeout).
        var mute: Bool
    }

    private struct State {
        var agents: [[UInt8]: Agent] = [:]
        var names: [String: [UInt8]] = [:]
        var nextIdentity: UInt32 = 0
        /// Engine sends received and answered: equal when the agents have nothing left to do.
        var delivered = 0
        var handled = 0
        var settleWaiters: [Latch] = []
    }

    private let state = Mutex(State())
    private let input: AsyncStream<(identity: [UInt8], frames: [[UInt8]])>.Continuation
    private let loop = Mutex<Task<Void, Never>?>(nil)
    let engine: CommandEngine
    let org: String
    let clock: TestClock

    init(engine: CommandEngine, org: String, clock: TestClock) {
        self.engine = engine
        self.org = org
        self.clock = clock
        let (inbox, input) = AsyncStream.makeStream(of: (identity: [UInt8], frames: [[UInt8]]).self)
        self.input = input
        loop.withLock { $0 = Task { [self] in for await m in inbox { await self.handle(m.identity, m.frames) } } }
    }

    /// Stops answering (bounded wait for the answering task).
    func stop() async {
        input.finish()
        if let task = loop.withLock({ $0 }) { await waitForTask(task, "the agent stand-ins") }
    }

    /// An engine send (called by the transport on the engine's actor: it only queues).
    func deliver(_ identity: [UInt8], _ frames: [[UInt8]]) {
        state.withLock { $0.delivered += 1 }
        input.yield((identity, frames))
    }

    /// Waits until every message the engine sent so far has been answered, and the answers'
    /// consequences too (answers are handled by the engine before they count as answered).
    func settle(timeout: Duration = .seconds(10)) async -> Bool {
        let latch = Latch()
        let done = state.withLock { s in
            if s.handled == s.delivered { return true }
            s.settleWaiters.append(latch)
            return false
        }
        return done ? true : await latch.wait(timeout: timeout)
    }

    /// Connects agent `name` with its session key (from its config request): its first
    /// heartbeat says idle, and the engine's `abort` then makes it available.
    func connect(_ name: String, key: [UInt8], whitelist: [(flag: String, script: Script)] = AgentStandIns.whitelist,
                 mute: Bool = false) async throws {
        let runner = AgentRunner(whitelist: try Whitelist(entries: whitelist.map { try WhitelistEntry.parse(flag: $0.flag) }))
        var scripts: [String: Script] = [:]
        for entry in whitelist {
            if let line = runner.whitelist.resolve(String(entry.flag.prefix { $0 != "=" }))?.commandLine { scripts[line] = entry.script }
        }
        let agent = Agent(name: name, key: key, runner: runner, scripts: scripts, mute: mute)
        let identity: [UInt8] = state.withLock { s in
            s.nextIdentity += 1
            let id = withUnsafeBytes(of: s.nextIdentity.bigEndian) { [0] + Array($0) }
            s.agents[id] = agent
            s.names[name] = id
            return id
        }
        await heartbeat(name, identity: identity)
    }

    /// `name` heartbeats, saying what its runner is doing.
    func heartbeat(_ name: String) async {
        guard let identity = state.withLock({ $0.names[name] }) else {
            Issue.record("no stand-in agent \(name)")
            return
        }
        await heartbeat(name, identity: identity)
    }

    private func heartbeat(_ name: String, identity: [UInt8]) async {
        let beat = state.withLock { s -> (AgentMessage, [UInt8])? in
            guard var a = s.agents[identity] else { return nil }
            let m = self.message(&a, .heartbeat, jobId: a.runner.jobId, reason: nil, jobState: a.runner.jobState)
            s.agents[identity] = a
            return (m, a.key)
        }
        if let (m, key) = beat { await send(m, key: key, identity: identity) }
    }

    /// The runner of `name` (what it is doing now).
    func runner(_ name: String) -> AgentRunner? {
        state.withLock { s in s.names[name].flatMap { s.agents[$0]?.runner } }
    }

    private func message(_ a: inout Agent, _ type: AgentMessageType, jobId: String?, reason: String?,
                         jobState: AgentJobState? = nil) -> AgentMessage {
        a.sequence += 1
        return AgentMessage(node: a.name, client: a.name, org: org, type: type, sequence: a.sequence,
                            timestamp: Date(timeIntervalSince1970: clock.now()), incarnationId: a.incarnation, jobId: jobId,
                            jobState: jobState, reason: reason)
    }

    private func send(_ m: AgentMessage, key: [UInt8], identity: [UInt8]) async {
        await engine.receive(identity: identity, frames: MessageSigner.hmacFrames(body: m.bodyBytes, key: key))
    }

    /// Answers one engine message as the agent on that connection would.
    private func handle(_ identity: [UInt8], _ frames: [[UInt8]]) async {
        let replies = state.withLock { s -> [AgentMessage] in
            guard frames.count == 2, var a = s.agents[identity], let m = try? ServerMessage.parse(frames[1]) else { return [] }
            var outputs: [AgentRunner.Output] = []
            switch m.messageType {
            case .commit?: if !a.mute { outputs = a.runner.commit(m, checks: Self.checks) }
            case .run?: outputs = a.runner.run(jobId: m.jobId)
            case .abort?: outputs = a.runner.abort()
            default: break
            }
            var replies: [AgentMessage] = []
            var i = 0
            while i < outputs.count {
                switch outputs[i] {
                case .send(let type, let jobId, let reason):
                    replies.append(message(&a, type, jobId: jobId, reason: reason))
                case .spawn(let plan):
                    // The process: ends at once with its exit status, or runs until killed.
                    if case .exits(let status)? = a.scripts[plan.commandLine] {
                        outputs += a.runner.exited(jobId: plan.jobId, status: status)
                    }
                case .kill, .releaseLock:
                    break
                }
                i += 1
            }
            s.agents[identity] = a
            return replies
        }
        if !replies.isEmpty, let key = state.withLock({ $0.agents[identity]?.key }) {
            for m in replies { await send(m, key: key, identity: identity) }
        }
        let waiters = state.withLock { s -> [Latch] in
            s.handled += 1
            guard s.handled == s.delivered else { return [] }
            defer { s.settleWaiters = [] }
            return s.settleWaiters
        }
        for w in waiters { w.open() }
    }

    /// A machine where every user and directory exists and no lock is held.
    static let checks = AgentRunner.Checks(userExists: { _ in true }, directoryExists: { _ in true })
}
