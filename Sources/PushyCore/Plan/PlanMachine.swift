import PushyProtocol

/// One run of an orchestration plan (issue 14) as a pure state machine: the caller starts the
/// jobs, waits and reports how each ended; the machine says what comes next. A step succeeds
/// when its job is `complete` with every node succeeded; a failed step stops the plan unless
/// it says `on_failure: continue`; a step may target the nodes that succeeded in an earlier
/// step; abort stops the running step's job and runs nothing after it.
public struct PlanMachine: Sendable, Equatable {
    public struct StepPlan: Sendable, Equatable {
        public var name: String
        /// Index of the earlier step whose succeeded nodes are this step's target.
        public var fromStep: Int?
        public var continueOnFailure: Bool
        public var wait: Double?

        public init(name: String, fromStep: Int? = nil, continueOnFailure: Bool = false, wait: Double? = nil) {
            self.name = name
            self.fromStep = fromStep
            self.continueOnFailure = continueOnFailure
            self.wait = wait
        }
    }

    public enum Status: String, Sendable, Equatable { case running, succeeded, failed, aborted }

    public enum StepStatus: String, Sendable, Equatable {
        case pending, waiting, starting, running, succeeded, failed, skipped, aborted
    }

    public struct StepState: Sendable, Equatable {
        public var status: StepStatus = .pending
        public var jobId: String?
        public var succeeded: [String] = []
        /// Nodes of the job that did not succeed.
        public var failed: [String] = []
        public var reason: String?
    }

    public enum Action: Sendable, Equatable {
        /// Wait `seconds`, then report `.waitOver(step)`.
        case wait(step: Int, seconds: Double)
        /// Start the step's job: on `nodes` when given (from an earlier step), else on its own target.
        case start(step: Int, nodes: [String]?)
        /// Abort the step's running job.
        case abortJob(step: Int, jobId: String)
        /// The plan ended.
        case finished(Status)
    }

    public enum Event: Sendable, Equatable {
        case waitOver(step: Int)
        case started(step: Int, jobId: String)
        case startFailed(step: Int, reason: String)
        /// The step's job ended with `status`; `succeeded` and `others` partition its nodes.
        case jobEnded(step: Int, status: JobStatus, succeeded: [String], others: [String])
        case abort(by: String)
    }

    public let steps: [StepPlan]
    public private(set) var status: Status = .running
    public private(set) var states: [StepState]
    /// The step in progress (or the last one run).
    public private(set) var current = 0
    public private(set) var reason: String?

    public init(steps: [StepPlan]) {
        self.steps = steps
        states = Array(repeating: StepState(), count: steps.count)
    }

    /// The first step's actions.
    public mutating func start() -> [Action] { begin(0) }

    public mutating func handle(_ event: Event) -> [Action] {
        guard status == .running else { return [] }
        switch event {
        case .waitOver(let i):
            guard i == current, states[i].status == .waiting else { return [] }
            return launch(i)
        case .started(let i, let id):
            guard i == current, states[i].status == .starting else { return [] }
            states[i].status = .running
            states[i].jobId = id
            return []
        case .startFailed(let i, let why):
            guard i == current, states[i].status == .starting else { return [] }
            return fail(i, "not started: \(why)")
        case .jobEnded(let i, let jobStatus, let ok, let others):
            guard i == current, states[i].status == .running else { return [] }
            states[i].succeeded = ok
            states[i].failed = others
            if jobStatus == .complete && others.isEmpty {
                states[i].status = .succeeded
                return next(after: i)
            }
            let why = jobStatus == .complete
                ? "\(others.count) of \(ok.count + others.count) node(s) did not succeed"
                : "its job ended \(jobStatus.rawValue)"
            return fail(i, why)
        case .abort(let who):
            status = .aborted
            reason = "aborted by \(who) during step '\(steps[current].name)'"
            var actions: [Action] = []
            if states[current].status == .running, let id = states[current].jobId {
                actions.append(.abortJob(step: current, jobId: id))
            }
            if [.pending, .waiting, .starting, .running].contains(states[current].status) { states[current].status = .aborted }
            for j in (current + 1)..<max(steps.count, current + 1) { states[j].status = .skipped }
            actions.append(.finished(.aborted))
            return actions
        }
    }

    mutating func begin(_ i: Int) -> [Action] {
        current = i
        if let w = steps[i].wait, w > 0 {
            states[i].status = .waiting
            return [.wait(step: i, seconds: w)]
        }
        return launch(i)
    }

    mutating func launch(_ i: Int) -> [Action] {
        var nodes: [String]?
        if let from = steps[i].fromStep {
            nodes = states[from].succeeded
            if nodes!.isEmpty {
                return fail(i, "no node succeeded in step '\(steps[from].name)'")
            }
        }
        states[i].status = .starting
        return [.start(step: i, nodes: nodes)]
    }

    mutating func fail(_ i: Int, _ why: String) -> [Action] {
        states[i].status = .failed
        states[i].reason = why
        if steps[i].continueOnFailure { return next(after: i) }
        status = .failed
        reason = "step '\(steps[i].name)' failed: \(why)"
        for j in (i + 1)..<max(steps.count, i + 1) { states[j].status = .skipped }
        return [.finished(.failed)]
    }

    mutating func next(after i: Int) -> [Action] {
        if i + 1 < steps.count { return begin(i + 1) }
        let failed = states.filter { $0.status == .failed }.count
        status = failed == 0 ? .succeeded : .failed
        if failed > 0 { reason = "\(failed) step(s) failed (on_failure: continue)" }
        return [.finished(status)]
    }
}
