import Foundation
import PushyProtocol
import Testing

@testable import PushyCore

/// One message to a node machine in a given state, and what it must do.
struct NodeRow: Sendable, CustomTestStringConvertible {
    var name: String
    var availability: NodeMachine.Availability
    var type: AgentMessageType
    var jobId: String?
    var jobState: AgentJobState? = nil
    /// What the engine knows of the job named (nil: unknown here).
    var facts: NodeMachine.JobFacts?
    var actions: [NodeMachine.Action]
    var after: NodeMachine.Availability

    var testDescription: String { name }
}

let running = NodeMachine.JobFacts(nodeStatus: .running, running: true, finished: false)
let voting = NodeMachine.JobFacts(nodeStatus: .new, running: false, finished: false)

/// Spec 5.3 routing, 6.1 rehab/idle, and Pushy's checks (spec 12 point 3).
let nodeRows: [NodeRow] = [
    NodeRow(name: "aborted ends rehab", availability: .rehab, type: .aborted, jobId: nil, facts: nil,
            actions: [.available], after: .idle),
    NodeRow(name: "aborted naming a known job is also the job's", availability: .rehab, type: .aborted, jobId: "J", facts: running,
            actions: [.available, .forward(jobId: "J", .aborted)], after: .idle),
    NodeRow(name: "aborted while idle changes nothing", availability: .idle, type: .aborted, jobId: nil, facts: nil,
            actions: [], after: .idle),
    NodeRow(name: "idle heartbeat", availability: .idle, type: .heartbeat, jobId: nil, jobState: .idle, facts: nil,
            actions: [], after: .idle),
    NodeRow(name: "heartbeat claiming an unknown job resets the node", availability: .idle, type: .heartbeat, jobId: "X",
            jobState: .running, facts: nil, actions: [.abort], after: .rehab),
    NodeRow(name: "heartbeat claiming an unknown job while in rehab: the resend covers it", availability: .rehab,
            type: .heartbeat, jobId: "X", jobState: .running, facts: nil, actions: [], after: .rehab),
    NodeRow(name: "ack_commit goes to its job", availability: .idle, type: .ackCommit, jobId: "J", facts: voting,
            actions: [.forward(jobId: "J", .ackCommit)], after: .idle),
    NodeRow(name: "nack_commit carries its reason", availability: .idle, type: .nackCommit, jobId: "J", facts: voting,
            actions: [.forward(jobId: "J", .nackCommit(reason: "busy"))], after: .idle),
    NodeRow(name: "succeeded goes to its job", availability: .idle, type: .succeeded, jobId: "J", facts: running,
            actions: [.forward(jobId: "J", .succeeded)], after: .idle),
    NodeRow(name: "a result for an unknown job resets the node", availability: .idle, type: .succeeded, jobId: "X", facts: nil,
            actions: [.abort], after: .rehab),
    NodeRow(name: "an ack without a job id resets the node", availability: .idle, type: .ackRun, jobId: nil, facts: nil,
            actions: [.abort], after: .rehab),
    NodeRow(name: "output of a running node", availability: .idle, type: .output, jobId: "J", facts: running,
            actions: [.output(jobId: "J")], after: .idle),
    NodeRow(name: "output for an unknown job is dropped", availability: .idle, type: .output, jobId: "X", facts: nil,
            actions: [.drop(reason: "output_for_unknown_job")], after: .idle),
    NodeRow(name: "output of a node not running the job is dropped", availability: .idle, type: .output, jobId: "J",
            facts: voting, actions: [.drop(reason: "output_for_unknown_job")], after: .idle),
]

@Suite(.timeLimit(.minutes(1))) struct NodeMachineTests {
    static func message(_ type: AgentMessageType, seq: Int, job: String? = nil, state: AgentJobState? = nil,
                        incarnation: String = "i1", reason: String? = nil) -> AgentMessage {
        AgentMessage(node: "n", client: "n", org: "o", type: type, sequence: seq, timestamp: Date(timeIntervalSince1970: 0),
                     incarnationId: incarnation, jobId: job, jobState: state, reason: reason)
    }

    /// A machine that connected and answered its first abort if `availability` is idle.
    static func machine(_ availability: NodeMachine.Availability) -> NodeMachine {
        var (m, _) = NodeMachine.connect(message(.heartbeat, seq: 1, state: .idle), now: 0, interval: 10) { _ in nil }
        if availability == .idle { _ = m.receive(message(.aborted, seq: 2), newConnection: false, now: 0, interval: 10) { _ in nil } }
        return m
    }

    @Test(arguments: nodeRows)
    func table(_ row: NodeRow) {
        var m = Self.machine(row.availability)
        let msg = Self.message(row.type, seq: 10, job: row.jobId, state: row.jobState,
                               reason: row.type == .nackCommit ? "busy" : nil)
        let actions = m.receive(msg, newConnection: false, now: 5, interval: 10) { id in id == row.jobId ? row.facts : nil }
        #expect(actions == row.actions)
        #expect(m.availability == row.after)
    }

    @Test func aNewSessionIsResetAtOnceAndItsFirstMessageHandled() {
        let first = Self.message(.aborted, seq: 7)
        let (m, actions) = NodeMachine.connect(first, now: 3, interval: 10) { _ in nil }
        // The reference's answer to a node's first message is `abort`; an `aborted` that was
        // already on its way answers it.
        #expect(actions == [.abort, .available])
        #expect(m.lastInboundSequence == 7)
        #expect(m.incarnation == "i1")
    }

    @Test func sequenceMustIncreaseOnAConnectionAndStartsAgainOnANewOne() {
        var m = Self.machine(.idle)
        #expect(m.receive(Self.message(.heartbeat, seq: 2, state: .idle), newConnection: false, now: 1, interval: 10) { _ in nil }
                == [.drop(reason: "sequence_replay")])
        #expect(m.receive(Self.message(.heartbeat, seq: 3, state: .idle), newConnection: false, now: 1, interval: 10) { _ in nil } == [])
        // A new connection is acked and its sequence accepted whatever it is.
        #expect(m.receive(Self.message(.heartbeat, seq: 1, state: .idle), newConnection: true, now: 1, interval: 10) { _ in nil } == [.ack])
        #expect(m.lastInboundSequence == 1)
    }

    @Test func rehabResendsAbortEveryIntervalUntilAnswered() {
        var m = Self.machine(.rehab)
        #expect(m.tick(now: 0.5, rehabInterval: 1).isEmpty)
        #expect(m.tick(now: 1, rehabInterval: 1) == [.abort])
        #expect(m.tick(now: 1.5, rehabInterval: 1).isEmpty)
        _ = m.receive(Self.message(.aborted, seq: 5), newConnection: false, now: 2, interval: 10) { _ in nil }
        #expect(m.tick(now: 10, rehabInterval: 1).isEmpty)
    }

    @Test func theJobHoldingTheNodeIsCheckedAgainstItsHeartbeats() {
        var m = Self.machine(.idle)
        #expect(m.jobChanged("J", to: .ready).isEmpty)
        #expect(m.jobChanged("J", to: .running).isEmpty)
        #expect(m.held?.jobId == "J" && m.held?.status == .running)
        let facts = { (id: String) in id == "J" ? running : nil }
        #expect(m.receive(Self.message(.heartbeat, seq: 3, state: .idle), newConnection: false, now: 100, interval: 10, job: facts) == [])
        let lost = m.receive(Self.message(.heartbeat, seq: 4, state: .idle), newConnection: false, now: 110, interval: 10, job: facts)
        #expect(lost == [.reconcile(jobId: "J", reason: "the agent reports no job (idle) for more than a heartbeat interval: its result was lost")])
        #expect(m.held == nil)
    }

    @Test func aFinishedNodeIsNoLongerHeld() {
        var m = Self.machine(.idle)
        _ = m.jobChanged("J", to: .running)
        _ = m.jobChanged("K", to: .succeeded)
        #expect(m.held?.jobId == "J", "another job's change leaves it")
        _ = m.jobChanged("J", to: .succeeded)
        #expect(m.held == nil)
        // And a job the engine no longer knows lets go of the node at its next heartbeat.
        _ = m.jobChanged("J", to: .running)
        #expect(m.receive(Self.message(.heartbeat, seq: 9, state: .idle), newConnection: false, now: 1, interval: 10) { _ in nil } == [])
        #expect(m.held == nil)
    }

    /// Found in review: J's result was lost and, within an interval, the node acked job K's
    /// commit (it is idle). K takes the node; J's part ends at once rather than at J's timeout.
    @Test func ackingAnotherJobsCommitEndsTheHeldJobsPart() {
        var m = Self.machine(.idle)
        _ = m.jobChanged("J", to: .running)
        #expect(m.jobChanged("K", to: .ready) == [.reconcile(
            jobId: "J", reason: "the agent took job K while this job still held it: its result here was lost")])
        #expect(m.held?.jobId == "K")
    }
}
