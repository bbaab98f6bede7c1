import PushyProtocol
import Testing

@testable import PushyCore

/// `commit_run` (issue 16) in the pure job machine: nodes whose agents asked for it, in jobs whose
/// quorum no vote can fail (≤ 1) and without rate control, get one `commit` that starts the
/// command once the job's rows are durable, and answer `ack_run`; every other node and job keeps
/// the reference exchange (commit, ack_commit, run, ack_run, result).
@Suite(.timeLimit(.minutes(1)))
struct JobMachineRunAtCommitTests {
    static let start = JobFeedEvent("start")

    static func started(_ nodes: [String], quorum: Int, capable: Set<String>, limits: LaunchLimits? = nil,
                        unavailable: Set<String> = []) -> (JobMachine, [JobMachine.Action]) {
        JobMachine.start(id: "j1", nodes: nodes, quorum: quorum, runTimeout: 60, now: 100, votingTimeout: 60,
                         limits: limits, runsAtCommit: capable, startEvent: start) { n in
            unavailable.contains(n) ? (false, "offline") : (true, "")
        }
    }

    static func sends(_ actions: [JobMachine.Action]) -> [JobMachine.Action] {
        actions.filter {
            switch $0 {
            case .sendCommit, .sendCommitRun, .sendRun: true
            default: false
            }
        }
    }

    static func events(_ actions: [JobMachine.Action]) -> [String] {
        actions.compactMap { if case .event(let e) = $0 { e.name } else { nil } }
    }

    @Test func onlyJobsWhoseQuorumNoVoteCanFailAndWithoutRateControl() {
        #expect(JobMachine.mayRunAtCommit(quorum: 0, limits: nil))
        #expect(JobMachine.mayRunAtCommit(quorum: 1, limits: nil))
        #expect(!JobMachine.mayRunAtCommit(quorum: 2, limits: nil))
        #expect(!JobMachine.mayRunAtCommit(quorum: 1, limits: LaunchLimits(maxConcurrency: 1)))
        // Servers offer it for single-node jobs only (the feed's order, spec 2.3).
        #expect(JobMachine.offersRunAtCommit(nodes: 1, quorum: 1, limits: nil))
        #expect(!JobMachine.offersRunAtCommit(nodes: 2, quorum: 1, limits: nil))
        #expect(!JobMachine.offersRunAtCommit(nodes: 1, quorum: 1, limits: LaunchLimits(maxConcurrency: 1)))
        // Not allowed: every node gets the reference commit at once.
        let (quorumTwo, a1) = Self.started(["a", "b"], quorum: 2, capable: ["a", "b"])
        #expect(Self.sends(a1) == [.sendCommit(["a", "b"])])
        #expect(quorumTwo.runAtCommit.isEmpty)
        let (limited, a2) = Self.started(["a"], quorum: 1, capable: ["a"], limits: LaunchLimits(maxConcurrency: 1))
        #expect(Self.sends(a2) == [.sendCommit(["a"])])
        #expect(limited.runAtCommit.isEmpty)
    }

    /// The single-node job: nothing goes out until the rows are durable, then one commit that
    /// runs; `ack_run` is the vote and the start, the result ends the job. Three messages.
    @Test func aSingleNodeJobIsCommitAckRunResult() {
        var (job, first) = Self.started(["a"], quorum: 1, capable: ["a"])
        #expect(Self.sends(first).isEmpty, "the commit starts the command: it waits for the rows")
        #expect(job.runAtCommit == ["a"])
        #expect(job.markRecorded(now: 100.5) == [.sendCommitRun(["a"])])
        let acked = job.handle(node: "a", input: .ackRun, now: 101)
        #expect(job.nodes["a"] == .running)
        #expect(job.status == .running)
        #expect(Self.events(acked) == ["quorum_vote", "quorum_succeeded", "run_start"], "the reference order")
        #expect(Self.sends(acked).isEmpty, "no separate run")
        let done = job.handle(node: "a", input: .succeeded, now: 102)
        #expect(job.nodes["a"] == .succeeded)
        #expect(job.status == .complete)
        #expect(done.contains(.jobChanged(status: .complete, reason: nil)))
    }

    /// Reference clients in the same job keep the reference exchange; the capable node may
    /// finish before they vote, and the job then runs the ready ones.
    @Test func mixedWithReferenceClients() {
        var (job, first) = Self.started(["a", "b", "c"], quorum: 1, capable: ["a"], unavailable: ["c"])
        #expect(Self.sends(first) == [.sendCommit(["b"])])
        #expect(job.nodes["c"] == .unavailable)
        #expect(job.markRecorded(now: 100) == [.sendCommitRun(["a"])])
        _ = job.handle(node: "a", input: .ackRun, now: 101)
        _ = job.handle(node: "a", input: .succeeded, now: 102)
        #expect(job.nodes["a"] == .succeeded)
        #expect(job.status == .voting, "b has not voted")
        let quorum = job.handle(node: "b", input: .ackCommit, now: 103)
        #expect(job.status == .running)
        #expect(Self.sends(quorum) == [.sendRun(["b"])])
        _ = job.handle(node: "b", input: .ackRun, now: 104)
        _ = job.handle(node: "b", input: .succeeded, now: 105)
        #expect(job.status == .complete)
    }

    /// A started node counts for the quorum even when every other node refuses.
    @Test func aStartedNodeMeetsTheQuorumAlone() {
        var (job, _) = Self.started(["a", "b"], quorum: 1, capable: ["a"])
        _ = job.markRecorded(now: 100)
        _ = job.handle(node: "a", input: .ackRun, now: 101)
        _ = job.handle(node: "a", input: .failed(reason: "exit 3"), now: 102)
        let last = job.handle(node: "b", input: .nackCommit(reason: "busy"), now: 103)
        #expect(job.nodes == ["a": .failed, "b": .nacked])
        #expect(job.status == .complete)
        #expect(Self.sends(last).isEmpty)
    }

    struct Row: Sendable, CustomTestStringConvertible {
        var from: NodeJobStatus
        var input: JobMachine.Input
        var to: NodeJobStatus
        var rehab: Bool
        var testDescription: String { "\(from.rawValue) × \(input) → \(to.rawValue)\(rehab ? " +rehab" : "")" }
    }

    /// A run-at-commit node's transitions while the job still votes (another node has not).
    @Test(arguments: [
        Row(from: .new, input: .ackRun, to: .running, rehab: false),
        // Its ack_run was lost, but the result says it ran.
        Row(from: .new, input: .succeeded, to: .succeeded, rehab: false),
        Row(from: .new, input: .failed(reason: nil), to: .failed, rehab: false),
        Row(from: .new, input: .nackCommit(reason: "busy"), to: .nacked, rehab: false),
        Row(from: .new, input: .down(reason: "offline"), to: .unavailable, rehab: true),
        Row(from: .new, input: .nackRun, to: .unavailable, rehab: true),
        // An agent that took it as a plain commit: ready, and `run` follows at the quorum.
        Row(from: .new, input: .ackCommit, to: .ready, rehab: false),
        Row(from: .running, input: .succeeded, to: .succeeded, rehab: false),
        Row(from: .running, input: .failed(reason: nil), to: .failed, rehab: false),
        Row(from: .running, input: .ackRun, to: .running, rehab: false),
        Row(from: .running, input: .down(reason: "offline"), to: .crashed, rehab: true),
        Row(from: .running, input: .disowned(reason: "gone"), to: .crashed, rehab: false),
        Row(from: .running, input: .ackCommit, to: .crashed, rehab: true),
    ])
    func whileVoting(_ row: Row) {
        var (job, _) = Self.started(["n", "other"], quorum: 1, capable: ["n"])
        _ = job.markRecorded(now: 100)
        if row.from == .running { _ = job.handle(node: "n", input: .ackRun, now: 101) }
        #expect(job.nodes["n"] == row.from)
        let actions = job.handle(node: "n", input: row.input, now: 102)
        #expect(job.nodes["n"] == row.to)
        #expect(actions.contains(.rehab("n")) == row.rehab)
        #expect(job.status == .voting, "the other node has not voted")
    }

    /// An unanswered run-at-commit node times out like any voter (and is reset: it may have
    /// started without its answer arriving); an abort stops a running one.
    @Test func votingTimeoutAndAbort() {
        var (silent, _) = Self.started(["a"], quorum: 1, capable: ["a"])
        _ = silent.markRecorded(now: 100)
        let timeout = silent.tick(now: 161)
        #expect(silent.nodes["a"] == .unavailable)
        #expect(timeout.contains(.rehab("a")))
        #expect(silent.status == .quorumFailed)

        var (running, _) = Self.started(["a", "b"], quorum: 1, capable: ["a"])
        _ = running.markRecorded(now: 100)
        _ = running.handle(node: "a", input: .ackRun, now: 101)
        let abort = running.abort(now: 102, by: "pivotal")
        #expect(running.nodes["a"] == .aborted)
        #expect(abort.contains(.rehab("a")))
        #expect(running.status == .aborted)
    }

    /// A lost `ack_run`: the result is the vote and the start; the feed keeps the reference order.
    @Test func aResultBeforeItsAckRunKeepsTheOrder() {
        var (job, _) = Self.started(["a"], quorum: 1, capable: ["a"])
        _ = job.markRecorded(now: 100)
        let done = job.handle(node: "a", input: .succeeded, now: 101)
        #expect(Self.events(done) == ["quorum_vote", "quorum_succeeded", "run_complete", "job_complete"]
                || Self.events(done).starts(with: ["quorum_vote", "quorum_succeeded"]), "\(Self.events(done))")
        #expect(job.nodes["a"] == .succeeded)
        #expect(job.status == .complete)
    }

    /// The voting time of a node whose commit waited for the job's rows counts from when it went.
    @Test func votingTimeCountsFromTheCommitThatRuns() {
        var (job, _) = Self.started(["a"], quorum: 1, capable: ["a"])
        #expect(job.votingDeadline == 160)
        _ = job.markRecorded(now: 150)
        #expect(job.votingDeadline == 210)
        #expect(job.tick(now: 170).isEmpty, "the commit went out at 150: its 60 s are not over")
        _ = job.handle(node: "a", input: .ackRun, now: 171)
        #expect(job.nodes["a"] == .running)
    }

    /// A job that ended before its rows were durable sends no commit that would run.
    @Test func nothingRunsForAJobAbortedBeforeItsRows() {
        var (job, _) = Self.started(["a"], quorum: 1, capable: ["a"])
        _ = job.abort(now: 100.1, by: "pivotal")
        #expect(job.markRecorded(now: 100.2).isEmpty)
    }
}
