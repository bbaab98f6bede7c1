import PushyProtocol
import Testing

@testable import PushyCore

/// One row of the spec 3.3 transition tables: a node in `from` receives `input` while the job is in
/// `phase`; it must end in `to`, be sent to rehab or not, and the job must emit `event` (name, status).
struct TransitionRow: Sendable, CustomTestStringConvertible {
    var phase: JobStatus
    var from: NodeJobStatus
    var input: JobMachine.Input
    var to: NodeJobStatus
    var rehab: Bool
    /// Event name and its `status` field (nil for events without one, like `run_start`); nil = no event.
    var event: (name: String, status: String?)?

    var testDescription: String { "\(phase.rawValue): \(from.rawValue) × \(input) → \(to.rawValue)\(rehab ? " +rehab" : "")" }

    var expectedEvent: JobFeedEvent? {
        guard let event else { return nil }
        var fields: [(String, JSONValue)] = [("node", "n")]
        if let s = event.status { fields.append(("status", .string(s))) }
        return JobFeedEvent(event.name, fields)
    }
}

/// Every input a node can send that is not named explicitly in a table row.
let otherVotingInputs: [JobMachine.Input] = [.ackRun, .nackRun, .succeeded, .failed(reason: nil), .aborted, .other("output")]
let otherRunningInputs: [JobMachine.Input] = [.aborted, .down(reason: "offline"), .ackCommit, .nackCommit(reason: nil), .other("output")]
/// Terminal node states that can occur in each phase.
let terminalWhileVoting: [NodeJobStatus] = [.nacked, .unavailable]
let terminalWhileRunning: [NodeJobStatus] = [.succeeded, .failed, .nacked, .unavailable, .crashed, .wasReady]

/// Spec 3.3, voting table.
let votingRows: [TransitionRow] = {
    var rows: [TransitionRow] = [
        TransitionRow(phase: .voting, from: .new, input: .ackCommit, to: .ready, rehab: false, event: ("quorum_vote", "success")),
        TransitionRow(phase: .voting, from: .ready, input: .ackCommit, to: .ready, rehab: false, event: ("quorum_vote", "unexpected_commit")),
        TransitionRow(phase: .voting, from: .new, input: .nackCommit(reason: "busy"), to: .nacked, rehab: false, event: ("quorum_vote", "failure")),
        TransitionRow(phase: .voting, from: .ready, input: .nackCommit(reason: nil), to: .unavailable, rehab: true, event: ("quorum_vote", "lost_availibility")),
        TransitionRow(phase: .voting, from: .new, input: .down(reason: "offline"), to: .unavailable, rehab: true, event: ("quorum_vote", "down")),
        TransitionRow(phase: .voting, from: .ready, input: .down(reason: "offline"), to: .unavailable, rehab: true, event: ("quorum_vote", "down")),
        TransitionRow(phase: .voting, from: .ready, input: .disowned(reason: "gone"), to: .unavailable, rehab: false, event: ("quorum_vote", "down")),
    ]
    for t in terminalWhileVoting {
        rows.append(TransitionRow(phase: .voting, from: t, input: .ackCommit, to: t, rehab: true, event: ("quorum_vote", "client_died_while_voting")))
        rows.append(TransitionRow(phase: .voting, from: t, input: .nackCommit(reason: nil), to: t, rehab: true, event: ("quorum_vote", "client_died_while_voting")))
        // Pushy: a finished node going offline or answering our abort is left alone.
        rows.append(TransitionRow(phase: .voting, from: t, input: .down(reason: "offline"), to: t, rehab: false, event: nil))
        rows.append(TransitionRow(phase: .voting, from: t, input: .aborted, to: t, rehab: false, event: nil))
    }
    for from in [NodeJobStatus.new, .ready] {
        for input in otherVotingInputs {
            rows.append(TransitionRow(phase: .voting, from: from, input: input, to: .unavailable, rehab: true, event: nil))
        }
    }
    return rows
}()

/// Spec 3.3, running table.
let runningRows: [TransitionRow] = {
    var rows: [TransitionRow] = [
        TransitionRow(phase: .running, from: .ready, input: .ackRun, to: .running, rehab: false, event: ("run_start", nil)),
        TransitionRow(phase: .running, from: .running, input: .ackRun, to: .running, rehab: false, event: nil),
        TransitionRow(phase: .running, from: .ready, input: .nackRun, to: .failed, rehab: true, event: ("run_complete", "run_nacked")),
        TransitionRow(phase: .running, from: .running, input: .nackRun, to: .failed, rehab: true, event: ("run_complete", "run_nacked_while_running")),
        TransitionRow(phase: .running, from: .running, input: .succeeded, to: .succeeded, rehab: false, event: ("run_complete", "success")),
        TransitionRow(phase: .running, from: .running, input: .failed(reason: nil), to: .failed, rehab: false, event: ("run_complete", "failure")),
        // Pushy (issue 11): a result from a node whose ack_run was lost still counts.
        TransitionRow(phase: .running, from: .ready, input: .succeeded, to: .succeeded, rehab: false, event: ("run_complete", "success")),
        TransitionRow(phase: .running, from: .ready, input: .failed(reason: nil), to: .failed, rehab: false, event: ("run_complete", "failure")),
        // Pushy: a node that left the job without a word that arrived ends crashed, not reset.
        TransitionRow(phase: .running, from: .ready, input: .disowned(reason: "gone"), to: .crashed, rehab: false, event: ("run_complete", "crashed")),
        TransitionRow(phase: .running, from: .running, input: .disowned(reason: "gone"), to: .crashed, rehab: false, event: ("run_complete", "crashed")),
    ]
    for from in [NodeJobStatus.ready, .running] {
        for input in otherRunningInputs {
            rows.append(TransitionRow(phase: .running, from: from, input: input, to: .crashed, rehab: true, event: ("run_complete", "crashed")))
        }
    }
    for t in terminalWhileRunning {
        for input in [JobMachine.Input.ackRun, .nackRun, .ackCommit, .nackCommit(reason: nil), .other("x")] {
            rows.append(TransitionRow(phase: .running, from: t, input: input, to: t, rehab: true,
                                      event: ("run_complete", "client_died_while_running")))
        }
        // Pushy (issue 11): a result for a finished node is the same result sent again after a
        // reconnect, or a late one after the server ended the node's part; the agent is idle.
        for input in [JobMachine.Input.succeeded, .failed(reason: nil)] {
            rows.append(TransitionRow(phase: .running, from: t, input: input, to: t, rehab: false, event: nil))
        }
        rows.append(TransitionRow(phase: .running, from: t, input: .down(reason: "offline"), to: t, rehab: false, event: nil))
        rows.append(TransitionRow(phase: .running, from: t, input: .aborted, to: t, rehab: false, event: nil))
    }
    return rows
}()

@Suite(.timeLimit(.minutes(2))) struct JobMachineTests {
    static let start = JobFeedEvent("start", [("command", "chef-client")])

    static func events(_ actions: [JobMachine.Action]) -> [JobFeedEvent] {
        actions.compactMap { if case .event(let e) = $0 { e } else { nil } }
    }

    static func names(_ actions: [JobMachine.Action]) -> [String] { events(actions).map(\.name) }

    static func rehabbed(_ actions: [JobMachine.Action]) -> [String] {
        actions.compactMap { if case .rehab(let n) = $0 { n } else { nil } }
    }

    /// A started job whose rows are durable (`recorded: false` leaves it waiting for them).
    static func started(_ nodes: [String], quorum: Int? = nil, runTimeout: Int = 3600, unavailable: Set<String> = [],
                        recorded: Bool = true) -> (JobMachine, [JobMachine.Action])
    {
        var (job, actions) = JobMachine.start(
            id: "j1", nodes: nodes, quorum: quorum ?? nodes.count, runTimeout: runTimeout, now: 100,
            votingTimeout: 60, startEvent: start) { n in
            unavailable.contains(n) ? (false, "offline") : (true, "")
        }
        if recorded { actions += job.markRecorded() }
        return (job, actions)
    }

    // MARK: Durability

    /// Votes are counted before the job's rows are durable, but `run` waits for them.
    @Test func runWaitsUntilTheJobIsRecorded() {
        var (job, _) = Self.started(["a", "b"], recorded: false)
        #expect(!job.recorded)
        _ = job.handle(node: "a", input: .ackCommit, now: 101)
        let quorum = job.handle(node: "b", input: .ackCommit, now: 102)
        #expect(job.status == .running)
        #expect(!quorum.contains { if case .sendRun = $0 { true } else { false } })
        // A node that acked its run before... cannot: it never got one. The rows land:
        #expect(job.markRecorded() == [.sendRun(["a", "b"])])
        #expect(job.recorded)
        #expect(job.markRecorded().isEmpty, "once")
    }

    @Test func recordedWhileVotingSendsNothingThenRunsAtQuorum() {
        var (job, _) = Self.started(["a"], recorded: false)
        #expect(job.markRecorded().isEmpty)
        #expect(job.handle(node: "a", input: .ackCommit, now: 101).contains(.sendRun(["a"])))
    }

    /// A Push Jobs client nacks a second `run` for the job it already runs: after a resend that
    /// nack is not a refusal, and the node's own result stands.
    @Test func aNackOfAResentRunIsNotARefusal() {
        var (job, _) = Self.started(["a"])
        _ = job.handle(node: "a", input: .ackCommit, now: 101)
        job.noteRunResent("a")
        _ = job.handle(node: "a", input: .ackRun, now: 102)
        #expect(job.handle(node: "a", input: .nackRun, now: 103).isEmpty)
        #expect(job.nodes["a"] == .running)
        _ = job.handle(node: "a", input: .succeeded, now: 104)
        #expect(job.nodes["a"] == .succeeded)
        // Without a resend a nack while running is still a refusal (spec 3.3).
        var (other, _) = Self.started(["b"])
        _ = other.handle(node: "b", input: .ackCommit, now: 101)
        _ = other.handle(node: "b", input: .ackRun, now: 102)
        _ = other.handle(node: "b", input: .nackRun, now: 103)
        #expect(other.nodes["b"] == .failed)
    }

    @Test func aFailureCarriesTheAgentsReason() {
        var (job, _) = Self.started(["a"])
        _ = job.handle(node: "a", input: .ackCommit, now: 101)
        _ = job.handle(node: "a", input: .ackRun, now: 102)
        let actions = job.handle(node: "a", input: .failed(reason: "run timeout (5 s) reached on the node"), now: 103)
        #expect(actions.contains(.nodeChanged(node: "a", status: .failed, reason: "run timeout (5 s) reached on the node")))
        #expect(job.reasons["a"] == "run timeout (5 s) reached on the node")
        #expect(job.updatedAt == 103)
    }

    // MARK: Transition tables

    @Test(arguments: votingRows + runningRows)
    func transitionTable(_ row: TransitionRow) {
        // A second node keeps the job from finishing (voting: still `new`; running: still `running`).
        let other: NodeJobStatus = row.phase == .voting ? .new : .running
        var job = JobMachine(id: "j1", nodes: [("n", row.from), ("o", other)], quorum: 1, runTimeout: 60,
                             status: row.phase, votingDeadline: 1000, runDeadline: 1000)
        let actions = job.handle(node: "n", input: row.input, now: 10)
        #expect(job.nodes["n"] == row.to)
        #expect(job.status == row.phase)
        #expect(Self.rehabbed(actions) == (row.rehab ? ["n"] : []))
        let rehabEvent = JobFeedEvent("rehab", [("node", "n")])
        #expect(Self.events(actions).contains(rehabEvent) == row.rehab)
        let nodeEvents = Self.events(actions).filter { $0.name != "rehab" }
        #expect(nodeEvents == (row.expectedEvent.map { [$0] } ?? []))
        let changed = actions.contains { if case .nodeChanged("n", row.to, _) = $0 { true } else { false } }
        #expect(changed == (row.from != row.to))
    }

    @Test func aResultSentAgainAfterTheJobEndedChangesNothing() {
        var (job, _) = Self.started(["a"])
        _ = job.handle(node: "a", input: .ackCommit, now: 101)
        _ = job.handle(node: "a", input: .ackRun, now: 102)
        _ = job.handle(node: "a", input: .succeeded, now: 103)
        #expect(job.status == .complete)
        let again = job.handle(node: "a", input: .succeeded, now: 104)
        #expect(again.isEmpty)
        #expect(job.nodes["a"] == .succeeded)
        // Anything else about a finished job still resets the node (spec 3.3).
        #expect(Self.rehabbed(job.handle(node: "a", input: .ackRun, now: 105)) == ["a"])
    }

    @Test func unknownNodeIsIgnored() {
        var (job, _) = Self.started(["a"])
        #expect(job.handle(node: "zz", input: .ackCommit, now: 101).isEmpty)
    }

    // MARK: Quorum

    @Test func quorumIsEvaluatedOnlyWhenNoNodeIsNew() {
        var (job, actions) = Self.started(["a", "b", "c"], quorum: 1)
        #expect(actions.contains(.sendCommit(["a", "b", "c"])))
        #expect(job.status == .voting)
        let a1 = job.handle(node: "a", input: .ackCommit, now: 101)
        #expect(Self.names(a1) == ["quorum_vote"])
        #expect(job.status == .voting, "quorum 1 reached, but b and c have not voted")
        _ = job.handle(node: "b", input: .nackCommit(reason: "busy"), now: 102)
        #expect(job.status == .voting)
        let a3 = job.handle(node: "c", input: .ackCommit, now: 103)
        #expect(job.status == .running)
        #expect(Self.names(a3) == ["quorum_vote", "quorum_succeeded"])
        let runs = a3.compactMap { if case .sendRun(let n) = $0 { n } else { nil } }
        #expect(runs == [["a", "c"]])
        #expect(a3.contains(.jobChanged(status: .running, reason: nil)))
        #expect(job.runDeadline == 3703.0)
        #expect(job.nodes == ["a": .ready, "b": .nacked, "c": .ready])
        #expect(job.reasons["b"]?.contains("busy") == true)
    }

    @Test func quorumFailedSendsReadyNodesToRehabAsWasReady() {
        var (job, _) = Self.started(["a", "b", "c"])
        _ = job.handle(node: "a", input: .ackCommit, now: 101)
        _ = job.handle(node: "b", input: .ackCommit, now: 101)
        let actions = job.handle(node: "c", input: .nackCommit(reason: nil), now: 102)
        #expect(job.status == .quorumFailed)
        #expect(job.finishedAt == 102)
        #expect(job.nodes == ["a": .wasReady, "b": .wasReady, "c": .nacked])
        #expect(Self.rehabbed(actions) == ["a", "b"])
        #expect(Self.names(actions) == ["quorum_vote", "job_complete"])
        #expect(Self.events(actions).last == JobFeedEvent("job_complete", [("status", "quorum_failed")]))
        #expect(!actions.contains { if case .sendRun = $0 { true } else { false } })
        #expect(job.grouped.map(\.0) == [.nacked, .wasReady])
    }

    @Test func quorumZeroWithNoReadyNodeRunsThenCompletes() {
        var (job, _) = Self.started(["a", "b"], quorum: 0)
        _ = job.handle(node: "a", input: .nackCommit(reason: nil), now: 101)
        let actions = job.handle(node: "b", input: .nackCommit(reason: nil), now: 101)
        #expect(job.status == .complete)
        #expect(Self.names(actions) == ["quorum_vote", "quorum_succeeded", "job_complete"])
        #expect(actions.contains(.jobChanged(status: .running, reason: nil)))
        #expect(actions.contains(.jobChanged(status: .complete, reason: nil)))
        #expect(!actions.contains { if case .sendRun = $0 { true } else { false } })
    }

    @Test func quorumLargerThanNodeCountFails() {
        var (job, _) = Self.started(["a"], quorum: 2)
        let actions = job.handle(node: "a", input: .ackCommit, now: 101)
        #expect(job.status == .quorumFailed)
        #expect(job.nodes["a"] == .wasReady)
        #expect(Self.rehabbed(actions) == ["a"])
    }

    @Test func unavailableNodesAtStartAreDownAndRehabbed() {
        let (job, actions) = Self.started(["a", "b", "c"], quorum: 1, unavailable: ["b"])
        #expect(job.status == .voting)
        #expect(job.nodes == ["a": .new, "b": .unavailable, "c": .new])
        #expect(job.reasons["b"] == "offline")
        #expect(actions.contains(.sendCommit(["a", "c"])))
        #expect(Self.rehabbed(actions) == ["b"])
        #expect(Self.names(actions) == ["start", "quorum_vote", "rehab"])
        #expect(Self.events(actions)[1] == JobFeedEvent("quorum_vote", [("node", "b"), ("status", "down")]))
        #expect(actions.contains(.jobChanged(status: .voting, reason: nil)))
    }

    @Test func allNodesUnavailableWithQuorumZeroCompletesAtOnce() {
        let (job, actions) = Self.started(["a"], quorum: 0, unavailable: ["a"])
        #expect(job.status == .complete)
        #expect(!actions.contains { if case .sendCommit = $0 { true } else { false } })
        #expect(Self.names(actions) == ["start", "quorum_vote", "rehab", "quorum_succeeded", "job_complete"])
    }

    // MARK: Timers

    @Test func votingTimeoutMakesNewNodesUnavailable() {
        var (job, _) = Self.started(["a", "b", "c"], quorum: 1)
        _ = job.handle(node: "a", input: .ackCommit, now: 101)
        #expect(job.votingDeadline == 160)
        #expect(job.tick(now: 159.9).isEmpty)
        let actions = job.tick(now: 160)
        #expect(job.nodes == ["a": .ready, "b": .unavailable, "c": .unavailable])
        #expect(Self.rehabbed(actions) == ["b", "c"])
        #expect(Self.events(actions).prefix(2) == [
            JobFeedEvent("quorum_vote", [("node", "b"), ("status", "voting_timeout")]),
            JobFeedEvent("quorum_vote", [("node", "c"), ("status", "voting_timeout")]),
        ])
        #expect(job.status == .running, "a is ready and quorum is 1")
        #expect(actions.contains(.sendRun(["a"])))
        #expect(job.tick(now: 161).isEmpty, "the voting timer is spent")
    }

    @Test func runTimeoutZeroTimesOutReadyAndRunningNodes() {
        var (job, _) = Self.started(["a", "b", "c"], quorum: 1, runTimeout: 0)
        _ = job.handle(node: "a", input: .ackCommit, now: 101)
        _ = job.handle(node: "b", input: .ackCommit, now: 101)
        _ = job.handle(node: "c", input: .ackCommit, now: 101)
        #expect(job.status == .running)
        #expect(job.runDeadline == 101)
        _ = job.handle(node: "a", input: .ackRun, now: 101)
        _ = job.handle(node: "b", input: .ackRun, now: 101)
        _ = job.handle(node: "b", input: .succeeded, now: 101)
        let actions = job.tick(now: 101)
        #expect(job.status == .timedOut)
        #expect(job.nodes == ["a": .timedOut, "b": .succeeded, "c": .timedOut])
        #expect(Self.rehabbed(actions) == ["a", "c"])
        #expect(Self.events(actions) == [JobFeedEvent("job_complete", [("status", "timed_out")])])
        #expect(actions.contains(.jobChanged(status: .timedOut, reason: job.statusReason)))
        #expect(job.tick(now: 500).isEmpty)
    }

    @Test func runTimeoutWaitsForItsDeadline() {
        var (job, _) = Self.started(["a"], runTimeout: 30)
        _ = job.handle(node: "a", input: .ackCommit, now: 110)
        #expect(job.tick(now: 139).isEmpty)
        #expect(job.status == .running)
        _ = job.tick(now: 140)
        #expect(job.status == .timedOut)
    }

    @Test func completesWhenNoNodeIsReadyOrRunning() {
        var (job, _) = Self.started(["a", "b"])
        _ = job.handle(node: "a", input: .ackCommit, now: 101)
        _ = job.handle(node: "b", input: .ackCommit, now: 101)
        _ = job.handle(node: "a", input: .ackRun, now: 102)
        _ = job.handle(node: "b", input: .ackRun, now: 102)
        let a1 = job.handle(node: "a", input: .failed(reason: nil), now: 103)
        #expect(job.status == .running)
        #expect(Self.names(a1) == ["run_complete"])
        let a2 = job.handle(node: "b", input: .succeeded, now: 104)
        #expect(job.status == .complete)
        #expect(job.finishedAt == 104)
        #expect(Self.names(a2) == ["run_complete", "job_complete"])
        #expect(Self.events(a2).last == JobFeedEvent("job_complete", [("status", "complete")]))
        #expect(job.grouped.map(\.0) == [.succeeded, .failed])
        #expect(job.count(.succeeded) == 1)
    }

    // MARK: Abort (spec 12 point 1) and late messages

    @Test func abortWhileVoting() {
        var (job, _) = Self.started(["a", "b", "c"])
        _ = job.handle(node: "a", input: .ackCommit, now: 101)
        _ = job.handle(node: "b", input: .nackCommit(reason: nil), now: 101)
        let actions = job.abort(now: 102, by: "alice")
        #expect(job.status == .aborted)
        #expect(job.nodes == ["a": .aborted, "b": .nacked, "c": .aborted])
        #expect(Self.rehabbed(actions) == ["a", "c"])
        #expect(Self.events(actions) == [
            JobFeedEvent("aborted", [("user", "alice")]), JobFeedEvent("job_complete", [("status", "aborted")]),
        ])
        #expect(job.statusReason?.contains("alice") == true)
        #expect(job.abort(now: 103, by: "bob").isEmpty, "idempotent")
        #expect(job.statusReason?.contains("alice") == true)
        // The nodes answer the abort: nothing more to do.
        #expect(job.handle(node: "a", input: .aborted, now: 104).isEmpty)
        #expect(job.tick(now: 10_000).isEmpty)
    }

    @Test func abortWhileRunning() {
        var (job, _) = Self.started(["a", "b", "c"], quorum: 1)
        for n in ["a", "b", "c"] { _ = job.handle(node: n, input: .ackCommit, now: 101) }
        _ = job.handle(node: "a", input: .ackRun, now: 102)
        _ = job.handle(node: "c", input: .ackRun, now: 102)
        _ = job.handle(node: "c", input: .succeeded, now: 103)
        let actions = job.abort(now: 104, by: "alice")
        #expect(job.status == .aborted)
        #expect(job.nodes == ["a": .aborted, "b": .aborted, "c": .succeeded])
        #expect(Self.rehabbed(actions) == ["a", "b"])
        #expect(Self.names(actions) == ["aborted", "job_complete"])
        #expect(job.abort(now: 105, by: "alice").isEmpty)
    }

    @Test func abortOnFinishedJobDoesNothing() {
        var (job, _) = Self.started(["a"], unavailable: ["a"])
        #expect(job.status == .quorumFailed)
        #expect(job.abort(now: 200, by: "alice").isEmpty)
        #expect(job.status == .quorumFailed)
    }

    @Test(arguments: [JobMachine.Input.ackCommit, .nackCommit(reason: nil), .ackRun, .nackRun, .other("x")])
    func messagesAfterTheJobFinishedSendTheNodeToRehab(_ input: JobMachine.Input) {
        var (job, _) = Self.started(["a"], runTimeout: 0)
        _ = job.handle(node: "a", input: .ackCommit, now: 101)
        _ = job.tick(now: 101)
        #expect(job.status == .timedOut)
        #expect(job.handle(node: "a", input: input, now: 102) == [.rehab("a")])
        #expect(job.nodes["a"] == .timedOut)
    }

    /// A result that arrives after the server timed the node out is too late to count, and the
    /// agent that sent it is idle: nothing to reset (the timeout already did).
    @Test(arguments: [JobMachine.Input.succeeded, .failed(reason: nil)])
    func aLateResultAfterTheJobTimedOutChangesNothing(_ input: JobMachine.Input) {
        var (job, _) = Self.started(["a"], runTimeout: 0)
        _ = job.handle(node: "a", input: .ackCommit, now: 101)
        _ = job.tick(now: 101)
        #expect(job.handle(node: "a", input: input, now: 102).isEmpty)
        #expect(job.nodes["a"] == .timedOut)
    }

    @Test func abortedRepliesAndDownAfterTheJobFinishedAreIgnored() {
        var (job, _) = Self.started(["a"], runTimeout: 0)
        _ = job.handle(node: "a", input: .ackCommit, now: 101)
        _ = job.tick(now: 101)
        #expect(job.handle(node: "a", input: .aborted, now: 102).isEmpty)
        #expect(job.handle(node: "a", input: .down(reason: "offline"), now: 102).isEmpty)
    }

    // MARK: Typical SSE sequences (spec 2.3, from oc-pushy-pedant sse_spec.rb)

    @Test func successSequence() {
        var (job, all) = Self.started(["n1"])
        all += job.handle(node: "n1", input: .ackCommit, now: 101)
        all += job.handle(node: "n1", input: .ackRun, now: 101)
        all += job.handle(node: "n1", input: .succeeded, now: 102)
        #expect(Self.names(all) == ["start", "quorum_vote", "quorum_succeeded", "run_start", "run_complete", "job_complete"])
        let e = Self.events(all)
        #expect(e[1]["status"] == "success")
        #expect(e[4]["status"] == "success")
        #expect(e[5]["status"] == "complete")
    }

    @Test func nonexistentNodeSequence() {
        let (job, all) = Self.started(["nonexistent"], unavailable: ["nonexistent"])
        #expect(Self.names(all) == ["start", "quorum_vote", "rehab", "job_complete"])
        #expect(Self.events(all)[1]["status"] == "down")
        #expect(Self.events(all)[3]["status"] == "quorum_failed")
        #expect(job.nodes["nonexistent"] == .unavailable)
    }

    @Test func votingTimeoutSequence() {
        var (job, all) = Self.started(["n1"])
        all += job.tick(now: 160)
        #expect(Self.names(all) == ["start", "quorum_vote", "job_complete"])
        #expect(Self.events(all)[1]["status"] == "voting_timeout")
        #expect(Self.events(all)[2]["status"] == "quorum_failed")
        #expect(Self.rehabbed(all) == ["n1"], "the node is still reset, only without an event")
    }

    @Test func runTimeoutSequence() {
        var (job, all) = Self.started(["n1"], runTimeout: 0)
        all += job.handle(node: "n1", input: .ackCommit, now: 101)
        all += job.tick(now: 101)
        #expect(Self.names(all) == ["start", "quorum_vote", "quorum_succeeded", "job_complete"])
        #expect(Self.events(all)[3]["status"] == "timed_out")
        #expect(Self.rehabbed(all) == ["n1"])
    }
}

extension JobFeedEvent {
    /// The value of a field, for terse assertions.
    subscript(_ key: String) -> JSONValue? { JSONValue.object(fields)[key] }
}
