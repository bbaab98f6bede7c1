import ArgumentParser
import Foundation
import PushyAPIClient
import PushyProtocol
import Synchronization

/// How long the CLI waits for a job, and when it calls a live feed stalled (issue 11: nothing
/// waits forever).
///
/// - The bound is the job's own run timeout plus `margin`, counted from when the CLI starts
///   waiting. The job may first vote for up to the server's `voting_timeout`, which the client
///   cannot see (default 60 s); the default margin of 120 s covers that and leaves a minute for
///   the nodes' last reports. `--wait-timeout` replaces the whole bound (for a server with a
///   longer voting timeout, or a script that wants to give up sooner).
/// - A live feed is stalled after `stallLimit` (45 s) without a single byte: the server sends a
///   `:keepalive` comment every `keep_alive_time` (15 s by default), so that is three missed
///   keep-alives. The feed is then resumed from its last event id, or the job is polled.
struct WaitOptions: ParsableArguments {
    static let defaultMargin = 120.0
    static let defaultStallLimit = 45.0

    @Option(name: .long, help: ArgumentHelp(
        "Stop waiting after this many seconds and exit 1, leaving the job as it is (default: the job's run "
            + "timeout + 120 s). Example: --wait-timeout 600",
        valueName: "seconds"))
    var waitTimeout: Double?

    /// Seconds added to the job's run timeout for the default bound (tests use a short one).
    @Option(name: .long, help: ArgumentHelp(
        "Seconds added to the job's run timeout when --wait-timeout is not given.", valueName: "seconds",
        visibility: .hidden))
    var waitMargin: Double = WaitOptions.defaultMargin

    /// Seconds without any byte (event or keep-alive) before a live feed counts as stalled.
    @Option(name: .long, help: ArgumentHelp(
        "Seconds without any byte on a live feed before it counts as stalled.", valueName: "seconds",
        visibility: .hidden))
    var stallLimit: Double = WaitOptions.defaultStallLimit

    func validate() throws {
        let values: [(String, Double?)] = [
            ("--wait-timeout", waitTimeout), ("--wait-margin", waitMargin), ("--stall-limit", stallLimit),
        ]
        for (name, value) in values {
            if let value, !(value > 0 && value.isFinite) {
                throw ValidationError("\(name) must be a positive number of seconds")
            }
        }
    }

    var stall: Duration { .milliseconds(Int64(stallLimit * 1000)) }
}

/// One wait for one job: what the CLI last knew about it, and the deadline (known once the
/// job's run timeout is). The waiting code reports what it sees; `bounded` gives up at the
/// deadline with a message naming the job, its last known status and how to look later.
final class JobWatch: Sendable {
    let jobID: String
    let explicit: Double?
    let margin: Double
    let started = ContinuousClock.now

    private struct State {
        var last: JobView?
        var lastEvent: String?
        var runTimeout: Int?
        /// Seconds the job may run once voted: its run timeout, or under rate control every
        /// wave's run timeout and pauses (`RateControl.longestRun`).
        var longest: Double?
    }

    private let state = Mutex(State())
    private let deadlines: AsyncStream<ContinuousClock.Instant>
    private let deadline: AsyncStream<ContinuousClock.Instant>.Continuation

    /// The job's rate control and node count when the CLI started it (nil: learnt from the job).
    private let rate: (RateControl, Int)?

    /// `runTimeout`: the job's run timeout when the CLI already knows it (it asked for one);
    /// `rateControl` over `nodeCount` nodes: the job runs in waves, each of which may take it.
    init(jobID: String, options: WaitOptions, runTimeout: Int? = nil, rateControl: RateControl? = nil, nodeCount: Int = 0) {
        rate = rateControl.map { ($0, nodeCount) }
        self.jobID = jobID
        explicit = options.waitTimeout
        margin = options.waitMargin
        let (stream, continuation) = AsyncStream.makeStream(of: ContinuousClock.Instant.self,
                                                            bufferingPolicy: .bufferingNewest(1))
        deadlines = stream
        deadline = continuation
        if let runTimeout { learn(runTimeout: runTimeout) }
    }

    /// Records the job as last read from the server.
    func saw(_ job: JobView) {
        state.withLock { $0.last = job }
        learn(runTimeout: job.runTimeout, rateControl: job.rateControl, nodeCount: job.nodeCount)
    }

    /// Records the last live event, for the give-up message.
    func saw(event: FeedEvent) {
        var text = event.name
        if let node = event.data["node"]?.stringValue { text += " from \(node)" }
        state.withLock { $0.lastEvent = text }
    }

    private func learn(runTimeout: Int, rateControl: RateControl? = nil, nodeCount: Int = 0) {
        // A rate-controlled job read without its nodes (nodes=false) cannot be sized yet.
        if rate == nil, rateControl != nil, nodeCount == 0 { return }
        let longest = (rate?.0 ?? rateControl).map {
            $0.longestRun(nodeCount: rate?.1 ?? nodeCount, runTimeout: runTimeout)
        } ?? Double(runTimeout)
        let first = state.withLock { s in
            defer {
                s.runTimeout = runTimeout
                s.longest = longest
            }
            return s.runTimeout == nil
        }
        guard explicit == nil, first else { return }
        deadline.yield(started + .milliseconds(Int64((longest + margin) * 1000)))
        deadline.finish()
    }

    /// Runs `body` (which waits for the job) until it returns or the bound passes; then cancels
    /// it and throws the give-up failure (exit 1).
    func bounded(_ body: @escaping @Sendable () async throws -> JobView) async throws -> JobView {
        try await withThrowingTaskGroup(of: JobView?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await self.expire()
                return nil
            }
            while let result = try await group.next() {
                if let job = result {
                    group.cancelAll()
                    return job
                }
            }
            throw CancellationError()
        }
    }

    /// Returns only when cancelled before the deadline is known; throws at the deadline.
    private func expire() async throws {
        let until: ContinuousClock.Instant
        if let explicit {
            until = started + .milliseconds(Int64(explicit * 1000))
        } else {
            var first: ContinuousClock.Instant?
            for await d in deadlines {
                first = d
                break
            }
            guard let first else { return }
            until = first
        }
        try await Task.sleep(until: until, clock: .continuous)
        throw CLIFailure.failure(gaveUpMessage())
    }

    func gaveUpMessage() -> String {
        let (last, event, runTimeout, longest) = state.withLock { ($0.last, $0.lastEvent, $0.runTimeout, $0.longest) }
        let waited = Int(started.duration(to: .now).components.seconds)
        let rule: String
        if let explicit {
            rule = "--wait-timeout \(Self.format(explicit))"
        } else if let runTimeout, let longest, longest != Double(runTimeout) {
            rule = "its waves of run timeout \(runTimeout) s: \(Self.format(longest)) s + \(Self.format(margin)) s; --wait-timeout sets another limit"
        } else if let runTimeout {
            rule = "its run timeout \(runTimeout) s + \(Self.format(margin)) s; --wait-timeout sets another limit"
        } else {
            rule = "its run timeout + \(Self.format(margin)) s; --wait-timeout sets another limit"
        }
        var status = last.map { "last known status \(JobReport.progress($0))" } ?? "its status never reached the CLI"
        if let event { status += ", last live event \(event)" }
        return "gave up waiting for job \(jobID) after \(waited) s (\(rule)); \(status). "
            + "It may still be running: check it later with 'pushy job status \(jobID)'"
    }

    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }
}

extension PushyClientError {
    /// Why a live feed broke, without the "is the server running" advice when it just went quiet.
    var feedReason: String {
        if case .unreachable(_, let reason) = self { return reason }
        return description
    }
}
