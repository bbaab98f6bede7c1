import PushyProtocol
import Testing

@testable import PushyCore

/// One heartbeat against the job holding the node: what the server holds, what the agent says,
/// and the verdicts for a first heartbeat and for one a whole interval later.
struct HeldJobRow: Sendable, CustomTestStringConvertible {
    var held: NodeJobStatus
    var jobRunning: Bool
    var state: AgentJobState?
    var reported: String?
    /// Verdict at the first heartbeat, then at one `interval` later with the same report.
    var first: HeldJob.Verdict
    var later: HeldJob.Verdict
    /// Whether `run` has gone to the node.
    var runSent = true

    var testDescription: String {
        "\(held.rawValue)\(jobRunning ? " (running)" : " (voting)") × \(state?.rawValue ?? "no job_state") \(reported ?? "nil")"
    }
}

let lostIdle = HeldJob.Verdict.lost(
    reason: "the agent reports no job (idle) for more than a heartbeat interval: its result was lost")
func lostOther(_ state: AgentJobState) -> HeldJob.Verdict {
    .lost(reason: "the agent reports job K (\(state.rawValue)), not this job: a message from it was lost")
}

let heldJobRows: [HeldJobRow] = [
    // Agreement.
    HeldJobRow(held: .ready, jobRunning: false, state: .committed, reported: "J", first: .agrees, later: .agrees),
    HeldJobRow(held: .ready, jobRunning: true, state: .running, reported: "J", first: .agrees, later: .agrees),
    HeldJobRow(held: .running, jobRunning: true, state: .running, reported: "J", first: .agrees, later: .agrees),
    HeldJobRow(held: .running, jobRunning: true, state: .committed, reported: "J", first: .agrees, later: .agrees),
    // No job_state: an agent that does not report it is never judged.
    HeldJobRow(held: .running, jobRunning: true, state: nil, reported: nil, first: .agrees, later: .agrees),
    // The result (or ack) was lost: the agent is idle.
    HeldJobRow(held: .running, jobRunning: true, state: .idle, reported: nil, first: .disagrees, later: lostIdle),
    HeldJobRow(held: .ready, jobRunning: false, state: .idle, reported: nil, first: .disagrees, later: lostIdle),
    HeldJobRow(held: .ready, jobRunning: true, state: .idle, reported: nil, first: .disagrees, later: lostIdle),
    // On another job.
    HeldJobRow(held: .running, jobRunning: true, state: .running, reported: "K", first: .disagrees, later: lostOther(.running)),
    HeldJobRow(held: .ready, jobRunning: false, state: .committed, reported: "K", first: .disagrees, later: lostOther(.committed)),
    // `run` was lost: the agent is still committed while the job runs.
    HeldJobRow(held: .ready, jobRunning: true, state: .committed, reported: "J", first: .disagrees, later: .resendRun),
    // …but not while the run is held (the job's rows are not durable yet): nothing was sent.
    HeldJobRow(held: .ready, jobRunning: true, state: .committed, reported: "J", first: .agrees, later: .agrees, runSent: false),
    // Statuses that are not checked.
    HeldJobRow(held: .new, jobRunning: false, state: .idle, reported: nil, first: .agrees, later: .agrees),
    HeldJobRow(held: .succeeded, jobRunning: true, state: .idle, reported: nil, first: .agrees, later: .agrees),
]

@Suite(.timeLimit(.minutes(1))) struct HeldJobTests {
    @Test(arguments: heldJobRows)
    func table(_ row: HeldJobRow) {
        var held = HeldJob(jobId: "J", status: row.held)
        if row.runSent { held.runWasSent() }
        #expect(held.heartbeat(jobState: row.state, jobId: row.reported, jobRunning: row.jobRunning, now: 100, interval: 10) == row.first)
        // Half an interval on, still waiting.
        if row.first == .disagrees {
            #expect(held.heartbeat(jobState: row.state, jobId: row.reported, jobRunning: row.jobRunning, now: 105, interval: 10) == .disagrees)
        }
        #expect(held.heartbeat(jobState: row.state, jobId: row.reported, jobRunning: row.jobRunning, now: 110, interval: 10) == row.later)
    }

    @Test func anAgreeingHeartbeatStartsTheWaitAgain() {
        var held = HeldJob(jobId: "J", status: .running)
        #expect(held.heartbeat(jobState: .idle, jobId: nil, jobRunning: true, now: 100, interval: 10) == .disagrees)
        #expect(held.heartbeat(jobState: .running, jobId: "J", jobRunning: true, now: 105, interval: 10) == .agrees)
        #expect(held.disagreeingSince == nil)
        // Disagreeing again: a full interval from here, not from the first time.
        #expect(held.heartbeat(jobState: .idle, jobId: nil, jobRunning: true, now: 108, interval: 10) == .disagrees)
        #expect(held.heartbeat(jobState: .idle, jobId: nil, jobRunning: true, now: 115, interval: 10) == .disagrees)
        #expect(held.heartbeat(jobState: .idle, jobId: nil, jobRunning: true, now: 118, interval: 10) == lostIdle)
    }

    @Test func runIsSentAgainAtMostOncePerInterval() {
        var held = HeldJob(jobId: "J", status: .ready)
        held.runWasSent()
        #expect(held.heartbeat(jobState: .committed, jobId: "J", jobRunning: true, now: 100, interval: 10) == .disagrees)
        #expect(held.heartbeat(jobState: .committed, jobId: "J", jobRunning: true, now: 110, interval: 10) == .resendRun)
        #expect(held.heartbeat(jobState: .committed, jobId: "J", jobRunning: true, now: 115, interval: 10) == .disagrees)
        #expect(held.heartbeat(jobState: .committed, jobId: "J", jobRunning: true, now: 120, interval: 10) == .resendRun)
    }

    /// Found by the churn soak: a `committed` heartbeat that came while the run was held, then
    /// one that crossed the run on its way, made the server resend a `run` that was not lost.
    @Test func theWaitForAnAnswerToRunStartsWhenRunIsSent() {
        var held = HeldJob(jobId: "J", status: .ready)
        #expect(held.heartbeat(jobState: .committed, jobId: "J", jobRunning: true, now: 100, interval: 10) == .agrees)
        held.runWasSent()
        // Sent before the run arrived: starts the wait from here…
        #expect(held.heartbeat(jobState: .committed, jobId: "J", jobRunning: true, now: 109, interval: 10) == .disagrees)
        // …and the next one says running.
        #expect(held.heartbeat(jobState: .running, jobId: "J", jobRunning: true, now: 119, interval: 10) == .agrees)
    }
}
