import Foundation
import PushyAPIClient
import PushyProtocol
import PushySwarm

/// One job of the soak: its nodes, its plan (carried by the command), its run timeout and
/// quorum, whether it is aborted over REST; run, waited for within its deadline, then checked
/// node by node against what the agents say they did.
struct SoakJob: Sendable {
    struct Settings: Sendable {
        var votingTimeout: Double
        var maxNodes: Int
        var names: [String]
    }

    /// Every node of the job, and those it took from the free pool (the rest are shared).
    let indexes: [Int]
    let owned: [Int]
    let request: JobRequest
    /// Seconds after the job is seen running at which it is aborted; nil = not aborted.
    let abortAfter: Double?
    let settings: Settings

    /// A random job over free nodes (a few jobs also take nodes busy in another job, which then
    /// nack as busy); nil when no node is free.
    static func make(state: SoakState, settings: Settings) async -> SoakJob? {
        var g = SystemRandomNumberGenerator()
        let roll = Double.random(in: 0..<1, using: &g)
        let size: Int
        if roll < 0.5 {
            size = Int.random(in: 1...10, using: &g)
        } else if roll < 0.85 {
            size = Int.random(in: 10...100, using: &g)
        } else {
            size = Int.random(in: 100...max(100, settings.maxNodes), using: &g)
        }
        let overlap = Double.random(in: 0..<1, using: &g) < 0.05 ? Int.random(in: 1...3, using: &g) : 0
        guard let taken = await state.take(min(size, settings.maxNodes), overlapping: overlap) else { return nil }
        let owned = taken.owned, indexes = taken.owned + taken.shared
        let plan: JobPlan
        let runTimeout: Int
        if Double.random(in: 0..<1, using: &g) < 0.15 {
            // Slow agents run past a short run timeout: the job ends timed_out.
            runTimeout = 3
            plan = JobPlan(failPercent: 10, nackPercent: 5, slowPercent: Int.random(in: 20...50, using: &g),
                           durationMs: 300, slowMs: 6000)
        } else {
            // Slow agents here give the disruptions agents that are mid-job.
            runTimeout = 20
            plan = JobPlan(failPercent: Int.random(in: 0...30, using: &g), nackPercent: Int.random(in: 0...15, using: &g),
                           slowPercent: Int.random(in: 0...25, using: &g), durationMs: Int.random(in: 0...400, using: &g),
                           slowMs: Int.random(in: 1500...4000, using: &g))
        }
        let q = Double.random(in: 0..<1, using: &g)
        let quorum: Quorum? = q < 0.4 ? .count(1) : q < 0.7 ? .percent(60) : nil
        let abortAfter = Double.random(in: 0..<1, using: &g) < 0.12 ? Double.random(in: 0...1.5, using: &g) : nil
        let request = JobRequest(command: plan.command, nodes: indexes.map { settings.names[$0] }, quorum: quorum,
                                 runTimeout: runTimeout)
        return SoakJob(indexes: indexes, owned: owned, request: request, abortAfter: abortAfter, settings: settings)
    }

    /// Voting timeout + run timeout + a margin for the last messages and the store.
    var deadlineSeconds: Double { settings.votingTimeout + Double(request.runTimeout ?? 0) + 15 }

    func run(admin: PushyRESTClient, swarm: SoakSwarm, state: SoakState) async {
        let deadline = ContinuousClock.now + .seconds(deadlineSeconds)
        let id: String
        do {
            id = try await admin.startJob(request)
        } catch {
            await state.postFailed("\(error)")
            await state.release(owned)
            return
        }
        if let abortAfter { await abortWhenRunning(id, after: abortAfter, admin: admin, state: state, deadline: deadline) }
        var ended = false
        while ContinuousClock.now < deadline {
            let remaining = Int(ContinuousClock.now.duration(to: deadline).components.seconds)
            if let v = try? await admin.job(id, nodes: false, wait: max(1, min(20, remaining))) {
                if v.status.isTerminal { ended = true; break }
            } else {
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
        let view = await Self.fullView(id, admin: admin)
        let records = await swarm.report(job: id, timeout: 30)
        guard ended, let view, view.status.isTerminal else {
            let nodes = view.map { v in (v.nodes ?? []).filter { !$0.0.isTerminal }.map { "\($0.0.rawValue): \($0.1.joined(separator: ","))" } } ?? []
            let agents = records.map { r in nodes.isEmpty ? "" : " agents: " + r.sorted { $0.key < $1.key }.prefix(20).map { "\($0.key):\($0.value)" }.joined(separator: " ") } ?? ""
            await state.stuck("job \(id) (\(request.command), \(indexes.count) nodes, run_timeout \(request.runTimeout ?? 0)) "
                              + "still \(view?.status.rawValue ?? "unreadable") after \(Int(deadlineSeconds)) s; "
                              + "nodes not done: \(nodes.joined(separator: "; "))" + agents)
            // Its nodes stay out of later jobs: the server may still hold them.
            return
        }
        guard let records else {
            await state.reportFailed(id)
            await state.release(owned)
            return
        }
        var problems: [String] = []
        var statuses: [NodeJobStatus: Int] = [:]
        let reasons = Dictionary((view.nodeReasons ?? []).map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
        var seen = 0, falseOffline = 0
        for (status, names) in view.nodes ?? [] {
            for name in names {
                seen += 1
                statuses[status, default: 0] += 1
                let index = Int(name.split(separator: "-").last ?? "") ?? -1
                if let why = SoakCheck.mismatch(events: records[index], node: status, reason: reasons[name], job: view.status) {
                    if reasons[name]?.contains("liveness lost") == true { falseOffline += 1 }
                    problems.append("job \(id) (\(view.status.rawValue), \(request.command)) node \(name): \(why)"
                                    + (reasons[name].map { "; server reason: \($0)" } ?? ""))
                }
            }
        }
        if seen != indexes.count { problems.append("job \(id): \(seen) nodes in the job view, \(indexes.count) asked for") }
        await state.finished(id: id, status: view.status, nodes: statuses, problems: problems, falseOffline: falseOffline)
        await state.release(owned)
    }

    /// Polls until the job runs, waits `after` seconds, then aborts it over REST.
    func abortWhenRunning(_ id: String, after: Double, admin: PushyRESTClient, state: SoakState,
                          deadline: ContinuousClock.Instant) async {
        while ContinuousClock.now < deadline {
            guard let v = try? await admin.job(id, nodes: false) else { break }
            if v.status.isTerminal { return }
            if v.status == .running {
                try? await Task.sleep(for: .seconds(after))
                if (try? await admin.abortJob(id)) != nil { await state.aborted() }
                return
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// The job with its nodes; a few tries (the store may be busy).
    static func fullView(_ id: String, admin: PushyRESTClient) async -> JobView? {
        for attempt in 0..<3 {
            if let v = try? await admin.job(id) { return v }
            try? await Task.sleep(for: .milliseconds(500 * (attempt + 1)))
        }
        return nil
    }
}

/// What the soak's workers share: which nodes are free, muted, and the tallies.
actor SoakState {
    var free: Set<Int>
    var busy = Set<Int>()
    var muted: [Int: ContinuousClock.Instant] = [:]
    var freeWaiters: [CheckedContinuation<Void, Never>] = []

    var jobs = 0
    var nodeRuns = 0
    var jobStatuses: [String: Int] = [:]
    var nodeStatuses: [String: Int] = [:]
    var stuckCount = 0
    var mismatches = 0
    var falseOfflineCount = 0
    var reportFailures = 0
    var postFailures = 0
    var mutes = 0
    var restartsAsked = 0
    var aborts = 0
    var rss: [Int] = []
    var printed = 0

    init(agents: Int) { free = Set(0..<agents) }

    /// `count` free nodes, now owned by the caller, plus `overlapping` nodes owned by other
    /// jobs (shared, not taken: they answer busy); nil when no node is free.
    func take(_ count: Int, overlapping: Int) -> (owned: [Int], shared: [Int])? {
        guard !free.isEmpty else { return nil }
        let owned = Array(free.shuffled().prefix(count))
        let shared = Array(busy.shuffled().prefix(overlapping))
        for i in owned {
            free.remove(i)
            busy.insert(i)
        }
        return (owned, shared)
    }

    /// Gives back the nodes a job owned.
    func release(_ owned: [Int]) {
        for i in owned {
            busy.remove(i)
            free.insert(i)
        }
        let w = freeWaiters
        freeWaiters = []
        for c in w { c.resume() }
    }

    /// Returns once a job has released nodes, or after a second at most, or at `end`.
    func waitForFreeNodes(until end: ContinuousClock.Instant) async {
        guard free.isEmpty, ContinuousClock.now < end else { return }
        await withCheckedContinuation { c in
            freeWaiters.append(c)
            Task {
                try? await Task.sleep(for: .seconds(1))
                self.wakeFreeWaiters()
            }
        }
    }

    func wakeFreeWaiters() {
        let w = freeWaiters
        freeWaiters = []
        for c in w { c.resume() }
    }

    /// A random agent in a job: muted until `seconds` from now (`toMute`), or to restart.
    func pickBusy(toMute: Bool, for seconds: Double) -> Int? {
        guard let i = busy.subtracting(muted.keys).randomElement() else { return nil }
        if toMute {
            muted[i] = ContinuousClock.now + .seconds(seconds)
            mutes += 1
        } else {
            restartsAsked += 1
        }
        return i
    }

    func unmuteDue() -> [Int] {
        let now = ContinuousClock.now
        let due = muted.filter { $0.value <= now }.map(\.key)
        for i in due { muted[i] = nil }
        return due
    }

    func latestUnmute() -> ContinuousClock.Instant? { muted.values.max() }

    func unmuteAll() -> [Int] {
        let all = Array(muted.keys)
        muted = [:]
        return all
    }

    func mutedNow() -> [Int] { Array(muted.keys) }

    func aborted() { aborts += 1 }

    func postFailed(_ error: String) {
        postFailures += 1
        if postFailures <= 5 { say("soak: POST job failed: \(error)") }
    }

    func reportFailed(_ id: String) {
        reportFailures += 1
        say("soak: the swarm did not report job \(id) within 30 s")
    }

    func stuck(_ line: String) {
        stuckCount += 1
        say("STUCK " + line)
    }

    func finished(id: String, status: JobStatus, nodes: [NodeJobStatus: Int], problems: [String], falseOffline: Int) {
        jobs += 1
        falseOfflineCount += falseOffline
        jobStatuses[status.rawValue, default: 0] += 1
        for (s, n) in nodes {
            nodeStatuses[s.rawValue, default: 0] += n
            nodeRuns += n
        }
        mismatches += problems.count
        for p in problems where printed < 60 {
            printed += 1
            say("MISMATCH " + p)
        }
    }

    func sampleRSS(_ bytes: Int) { rss.append(bytes) }

    func progress(since start: ContinuousClock.Instant) {
        say(String(format: "soak: %.0f s: %d jobs, %d stuck, %d mismatches, %d mutes, %d aborts",
                   PushyBenchCommand.elapsed(since: start), jobs, stuckCount, mismatches, mutes, aborts))
    }

    struct Result {
        var jobs, nodeRuns, stuck, mismatches, falseOffline, reportFailures, mutes, restartsAsked, aborts, rssSamples: Int
        var jobStatuses, nodeStatuses: String
        var rssFirst, rssLast, rssMax: Int?
    }

    func result() -> Result {
        func text(_ d: [String: Int]) -> String { d.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") }
        return Result(jobs: jobs, nodeRuns: nodeRuns, stuck: stuckCount, mismatches: mismatches, falseOffline: falseOfflineCount, reportFailures: reportFailures,
                      mutes: mutes, restartsAsked: restartsAsked, aborts: aborts, rssSamples: rss.count,
                      jobStatuses: text(jobStatuses), nodeStatuses: text(nodeStatuses),
                      rssFirst: rss.first, rssLast: rss.last, rssMax: rss.max())
    }
}
