import PushyProtocol
import Testing

@testable import PushyCore

/// Rate control (issue 13) in the pure job machine: nodes wait `queued` until the launcher lets
/// them go, concurrency is never exceeded, errors stop launches, batches wait on an injected
/// clock, canaries go first, and every job still ends.
@Suite(.timeLimit(.minutes(1)))
struct JobMachineRateControlTests {
    static let start = JobFeedEvent("start")

    static func names(_ n: Int) -> [String] { (1...n).map { "n\($0)" } }

    /// A recorded job over `n` nodes that all acked the commit: it is running.
    static func running(_ n: Int, _ limits: LaunchLimits, runTimeout: Int = 60, quorum: Int? = nil)
        -> (JobMachine, [JobMachine.Action])
    {
        var (job, actions) = JobMachine.start(
            id: "j1", nodes: names(n), quorum: quorum ?? n, runTimeout: runTimeout, now: 100, votingTimeout: 60,
            limits: limits, startEvent: start) { _ in (true, "") }
        actions += job.markRecorded(now: 100)
        for name in names(n) { actions += job.handle(node: name, input: .ackCommit, now: 101) }
        return (job, actions)
    }

    static func runs(_ actions: [JobMachine.Action]) -> [String] {
        actions.flatMap { a -> [String] in if case .sendRun(let n) = a { n } else { [] } }
    }

    static func inFlight(_ job: JobMachine) -> Int { job.count(.ready) + job.count(.running) }

    @Test func nodesQueueAndTheFirstOnesLaunch() {
        let (job, actions) = Self.running(5, LaunchLimits(maxConcurrency: 2))
        #expect(job.status == .running)
        #expect(Self.runs(actions) == ["n1", "n2"])
        #expect(job.count(.queued) == 3)
        #expect(job.reasons["n5"] == "waiting for a free slot (max_concurrency 2)")
        // Launched: the waiting reason is cleared (an empty reason overwrites the stored one).
        #expect(job.reasons["n1"] == "")
        #expect(actions.contains(.nodeChanged(node: "n1", status: .ready, reason: "")))
        #expect(job.runDeadline == nil, "no job-wide deadline: each node's counts from its launch")
        let events = actions.compactMap { if case .event(let e) = $0 { e.name } else { nil } }
        #expect(events.contains("queued"))
        #expect(events.contains("launch"))
    }

    /// The job's rows are not durable yet: nothing is launched (the queue waits).
    @Test func nothingLaunchesBeforeTheJobIsRecorded() {
        var (job, _) = JobMachine.start(
            id: "j1", nodes: ["a", "b"], quorum: 2, runTimeout: 60, now: 100, votingTimeout: 60,
            limits: LaunchLimits(maxConcurrency: 1), startEvent: Self.start) { _ in (true, "") }
        _ = job.handle(node: "a", input: .ackCommit, now: 101)
        let quorum = job.handle(node: "b", input: .ackCommit, now: 101)
        #expect(Self.runs(quorum).isEmpty)
        #expect(job.count(.queued) == 2)
        #expect(Self.runs(job.markRecorded(now: 102)) == ["a"])
    }

    /// Concurrency is never exceeded at any point, whatever the order results come in.
    @Test func concurrencyIsNeverExceeded() {
        var (job, actions) = Self.running(20, LaunchLimits(maxConcurrency: 3))
        var launched = Self.runs(actions)
        var now = 102.0
        var step = 0
        while job.status == .running {
            #expect(Self.inFlight(job) <= 3)
            step += 1
            #expect(step < 200)
            if step >= 200 { break }
            // Ack the runs just sent, then end one node in a scrambled order.
            for n in launched { _ = job.handle(node: n, input: .ackRun, now: now) }
            launched = []
            let running = job.nodeNames.filter { job.nodes[$0] == .running }
            guard !running.isEmpty else { break }
            let n = running[(step * 5) % running.count]
            now += 1
            launched += Self.runs(job.handle(node: n, input: step % 4 == 0 ? .failed(reason: nil) : .succeeded, now: now))
            #expect(Self.inFlight(job) <= 3)
        }
        #expect(job.status == .complete)
        #expect(job.count(.succeeded) + job.count(.failed) == 20)
        #expect(job.statusReason == nil)
    }

    @Test func maxErrorsStopsLaunchingAndSkipsTheRest() {
        var (job, _) = Self.running(10, LaunchLimits(maxConcurrency: 2, maxErrors: 2))
        for n in ["n1", "n2"] { _ = job.handle(node: n, input: .ackRun, now: 102) }
        let first = job.handle(node: "n1", input: .failed(reason: "exit 1"), now: 103)
        #expect(Self.runs(first) == ["n3"])
        let second = job.handle(node: "n2", input: .failed(reason: "exit 1"), now: 104)
        #expect(Self.runs(second).isEmpty)
        #expect(job.count(.skipped) == 7)
        #expect(job.reasons["n10"] == "not launched: 2 launched node(s) did not succeed (max_errors 2)")
        // Skipped nodes are committed: they are released (abort) without a rehab event.
        let released = second.compactMap { if case .rehab(let n) = $0 { n } else { nil } }
        #expect(released.count == 7)
        #expect(job.status == .running, "n3 still runs")
        _ = job.handle(node: "n3", input: .ackRun, now: 105)
        _ = job.handle(node: "n3", input: .succeeded, now: 106)
        #expect(job.status == .complete)
        #expect(job.statusReason == "stopped launching: 2 launched node(s) did not succeed (max_errors 2)")
    }

    @Test func batchesWaitOnTheClock() {
        var (job, actions) = Self.running(5, LaunchLimits(batchSize: 2, batchWait: 30))
        #expect(Self.runs(actions) == ["n1", "n2"])
        for n in ["n1", "n2"] {
            _ = job.handle(node: n, input: .ackRun, now: 102)
            _ = job.handle(node: n, input: .succeeded, now: 110)
        }
        #expect(job.reasons["n3"] != nil)
        #expect(Self.runs(job.tick(now: 139)).isEmpty)
        #expect(Self.runs(job.tick(now: 140)) == ["n3", "n4"])
        for n in ["n3", "n4"] {
            _ = job.handle(node: n, input: .ackRun, now: 141)
            _ = job.handle(node: n, input: .succeeded, now: 150)
        }
        #expect(Self.runs(job.tick(now: 180)) == ["n5"])
        _ = job.handle(node: "n5", input: .succeeded, now: 181)
        #expect(job.status == .complete)
    }

    @Test func aFailedCanaryStopsTheJob() {
        var (job, actions) = Self.running(4, LaunchLimits(canary: 1))
        #expect(Self.runs(actions) == ["n1"])
        _ = job.handle(node: "n1", input: .ackRun, now: 102)
        _ = job.handle(node: "n1", input: .failed(reason: nil), now: 103)
        #expect(job.status == .complete)
        #expect(job.count(.skipped) == 3)
        #expect(job.statusReason == "stopped launching: canary node n1 did not succeed")
    }

    /// A failure when nothing waits any more stops nothing: the job just completes.
    @Test func theLastFailureIsNotAStop() {
        var (job, _) = Self.running(2, LaunchLimits(maxErrors: 1))
        _ = job.handle(node: "n1", input: .succeeded, now: 102)
        let end = job.handle(node: "n2", input: .failed(reason: nil), now: 103)
        #expect(job.status == .complete)
        #expect(job.statusReason == nil)
        #expect(!end.contains { if case .event(let e) = $0 { e.name == "launch_stopped" } else { false } })
    }

    /// A node timed out mid-job says so in the feed (the job goes on).
    @Test func aTimedOutNodeEndsInTheFeed() {
        var (job, _) = Self.running(2, LaunchLimits(maxConcurrency: 1), runTimeout: 10)
        let late = job.tick(now: 111)
        #expect(late.contains(.event(.runComplete("n1", "timed_out"))))
        #expect(job.status == .running)
    }

    @Test func aSucceededCanaryLetsTheRestGo() {
        var (job, _) = Self.running(4, LaunchLimits(canary: 1))
        _ = job.handle(node: "n1", input: .ackRun, now: 102)
        #expect(Self.runs(job.handle(node: "n1", input: .succeeded, now: 103)) == ["n2", "n3", "n4"])
    }

    /// Each node's run timeout counts from its own launch, and a timeout is an error.
    @Test func runTimeoutCountsFromEachLaunch() {
        var (job, _) = Self.running(3, LaunchLimits(maxConcurrency: 1, maxErrors: 2), runTimeout: 10)
        _ = job.handle(node: "n1", input: .ackRun, now: 102)
        _ = job.handle(node: "n1", input: .succeeded, now: 108)   // n2 launched at 108
        #expect(job.tick(now: 117).isEmpty)
        let late = job.tick(now: 118)
        #expect(job.nodes["n2"] == .timedOut)
        #expect(job.reasons["n2"] == "still running at the run timeout (10 s after its launch)")
        #expect(Self.runs(late) == ["n3"])
        _ = job.tick(now: 128)
        #expect(job.nodes["n3"] == .timedOut)
        #expect(job.status == .complete)
    }

    @Test func queuedNodesThatLeaveAreNotLaunched() {
        var (job, _) = Self.running(3, LaunchLimits(maxConcurrency: 1))
        let down = job.handle(node: "n2", input: .down(reason: "offline"), now: 102)
        #expect(job.nodes["n2"] == .unavailable)
        #expect(down.contains(.rehab("n2")))
        _ = job.handle(node: "n3", input: .disowned(reason: "idle"), now: 102)
        #expect(job.nodes["n3"] == .unavailable)
        _ = job.handle(node: "n1", input: .ackRun, now: 103)
        let end = job.handle(node: "n1", input: .succeeded, now: 104)
        #expect(Self.runs(end).isEmpty)
        #expect(job.status == .complete)
    }

    @Test func aRepeatedCommitAnswerKeepsTheNodeQueued() {
        var (job, _) = Self.running(2, LaunchLimits(maxConcurrency: 1))
        #expect(job.handle(node: "n2", input: .ackCommit, now: 102).isEmpty)
        #expect(job.nodes["n2"] == .queued)
    }

    @Test func abortEndsQueuedNodesToo() {
        var (job, _) = Self.running(3, LaunchLimits(maxConcurrency: 1))
        let actions = job.abort(now: 110, by: "alice")
        #expect(job.count(.aborted) == 3)
        #expect(actions.filter { if case .rehab = $0 { true } else { false } }.count == 3)
        #expect(job.status == .aborted)
    }

    /// Without rate control nothing changes: everything runs at once, one job-wide deadline.
    @Test func withoutLimitsTheJobRunsAsBefore() {
        var (job, actions) = JobMachine.start(
            id: "j1", nodes: ["a", "b"], quorum: 2, runTimeout: 60, now: 100, votingTimeout: 60,
            startEvent: Self.start) { _ in (true, "") }
        actions += job.markRecorded()
        _ = job.handle(node: "a", input: .ackCommit, now: 101)
        let quorum = job.handle(node: "b", input: .ackCommit, now: 101)
        #expect(Self.runs(quorum) == ["a", "b"])
        #expect(job.runDeadline == 161)
        #expect(job.count(.queued) == 0)
    }
}
