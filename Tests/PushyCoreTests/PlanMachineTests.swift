import PushyProtocol
import Testing

@testable import PushyCore

/// The plan state machine: steps in order, waits, targets from an earlier step's successes,
/// stop and continue on failure, abort.
@Suite(.timeLimit(.minutes(1)))
struct PlanMachineTests {
    typealias Step = PlanMachine.StepPlan

    static let rollout = [Step(name: "provision"), Step(name: "install", fromStep: 0, wait: 5), Step(name: "haproxy")]

    @Test func stepsRunInOrderAndTheSecondTargetsTheFirstsSuccesses() {
        var m = PlanMachine(steps: Self.rollout)
        #expect(m.start() == [.start(step: 0, nodes: nil)])
        #expect(m.handle(.started(step: 0, jobId: "j1")) == [])
        #expect(m.handle(.jobEnded(step: 0, status: .complete, succeeded: ["new1", "new2"], others: [])) == [.wait(step: 1, seconds: 5)])
        #expect(m.states[1].status == .waiting)
        #expect(m.handle(.waitOver(step: 1)) == [.start(step: 1, nodes: ["new1", "new2"])])
        #expect(m.handle(.started(step: 1, jobId: "j2")) == [])
        #expect(m.handle(.jobEnded(step: 1, status: .complete, succeeded: ["new1", "new2"], others: [])) == [.start(step: 2, nodes: nil)])
        _ = m.handle(.started(step: 2, jobId: "j3"))
        #expect(m.handle(.jobEnded(step: 2, status: .complete, succeeded: ["lb1"], others: [])) == [.finished(.succeeded)])
        #expect(m.status == .succeeded && m.states.map(\.status) == [.succeeded, .succeeded, .succeeded])
        #expect(m.states.map(\.jobId) == ["j1", "j2", "j3"])
        // Finished: later events change nothing.
        #expect(m.handle(.abort(by: "admin")) == [])
    }

    @Test func aFailedStepStopsThePlan() {
        var m = PlanMachine(steps: Self.rollout.map { var s = $0; s.wait = nil; return s })
        _ = m.start()
        _ = m.handle(.started(step: 0, jobId: "j1"))
        _ = m.handle(.jobEnded(step: 0, status: .complete, succeeded: ["new1", "new2"], others: []))
        _ = m.handle(.started(step: 1, jobId: "j2"))
        #expect(m.handle(.jobEnded(step: 1, status: .complete, succeeded: ["new1"], others: ["new2"])) == [.finished(.failed)])
        #expect(m.status == .failed)
        #expect(m.reason == "step 'install' failed: 1 of 2 node(s) did not succeed")
        #expect(m.states.map(\.status) == [.succeeded, .failed, .skipped])
        #expect(m.states[1].succeeded == ["new1"] && m.states[1].failed == ["new2"])
    }

    @Test func continueRunsTheNextStepAndThePlanStillFails() {
        var m = PlanMachine(steps: [Step(name: "a", continueOnFailure: true), Step(name: "b")])
        _ = m.start()
        _ = m.handle(.started(step: 0, jobId: "j1"))
        #expect(m.handle(.jobEnded(step: 0, status: .quorumFailed, succeeded: [], others: ["x"])) == [.start(step: 1, nodes: nil)])
        #expect(m.states[0].reason == "its job ended quorum_failed")
        _ = m.handle(.started(step: 1, jobId: "j2"))
        #expect(m.handle(.jobEnded(step: 1, status: .complete, succeeded: ["x"], others: [])) == [.finished(.failed)])
        #expect(m.reason == "1 step(s) failed (on_failure: continue)")
    }

    @Test func aStepFromAStepWithNoSuccessesFails() {
        var m = PlanMachine(steps: [Step(name: "a", continueOnFailure: true), Step(name: "b", fromStep: 0)])
        _ = m.start()
        _ = m.handle(.started(step: 0, jobId: "j1"))
        #expect(m.handle(.jobEnded(step: 0, status: .complete, succeeded: [], others: ["x", "y"])) == [.finished(.failed)])
        #expect(m.states[1].reason == "no node succeeded in step 'a'")
        #expect(m.reason == "step 'b' failed: no node succeeded in step 'a'")
    }

    @Test func aStepThatCannotStartFails() {
        var m = PlanMachine(steps: [Step(name: "a"), Step(name: "b")])
        _ = m.start()
        #expect(m.handle(.startFailed(step: 0, reason: "unknown node(s): ghost")) == [.finished(.failed)])
        #expect(m.reason == "step 'a' failed: not started: unknown node(s): ghost")
        #expect(m.states.map(\.status) == [.failed, .skipped])
    }

    @Test func abortStopsTheRunningJobAndRunsNothingAfter() {
        var m = PlanMachine(steps: Self.rollout)
        _ = m.start()
        _ = m.handle(.started(step: 0, jobId: "j1"))
        #expect(m.handle(.abort(by: "admin")) == [.abortJob(step: 0, jobId: "j1"), .finished(.aborted)])
        #expect(m.status == .aborted && m.reason == "aborted by admin during step 'provision'")
        #expect(m.states.map(\.status) == [.aborted, .skipped, .skipped])
        // The aborted job's end, reported later, changes nothing.
        #expect(m.handle(.jobEnded(step: 0, status: .aborted, succeeded: [], others: ["new1"])) == [])
    }

    @Test func abortDuringAWaitStartsNothing() {
        var m = PlanMachine(steps: Self.rollout)
        _ = m.start()
        _ = m.handle(.started(step: 0, jobId: "j1"))
        _ = m.handle(.jobEnded(step: 0, status: .complete, succeeded: ["n"], others: []))
        #expect(m.handle(.abort(by: "rob")) == [.finished(.aborted)])
        #expect(m.handle(.waitOver(step: 1)) == [])
        #expect(m.states.map(\.status) == [.succeeded, .aborted, .skipped])
    }

    /// Stale events (another step, a wrong state) are ignored.
    @Test func staleEventsAreIgnored() {
        var m = PlanMachine(steps: Self.rollout)
        _ = m.start()
        #expect(m.handle(.jobEnded(step: 0, status: .complete, succeeded: [], others: [])) == [])
        #expect(m.handle(.waitOver(step: 1)) == [])
        #expect(m.handle(.started(step: 2, jobId: "x")) == [])
        #expect(m.states[0].status == .starting)
    }
}
