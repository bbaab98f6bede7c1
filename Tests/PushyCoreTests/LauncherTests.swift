import PushyProtocol
import Testing

@testable import PushyCore

/// Rate control (issue 13) in the launcher alone: which nodes go when, driven by hand.
@Suite(.timeLimit(.minutes(1)))
struct LauncherTests {
    static func nodes(_ n: Int) -> [String] { (1...n).map { "n\($0)" } }

    static func launcher(_ limits: LaunchLimits, nodes: Int) -> Launcher {
        var l = Launcher(limits: limits)
        l.enqueue(Self.nodes(nodes))
        return l
    }

    @Test func noLimitsLaunchesEverythingAtOnce() {
        var l = Self.launcher(LaunchLimits(), nodes: 5)
        #expect(l.next(now: 0) == Self.nodes(5))
        #expect(l.next(now: 0) == [])
        #expect(!l.isDone)
        for n in Self.nodes(5) { #expect(l.finished(n, failed: false, now: 1) == nil) }
        #expect(l.isDone)
    }

    /// Concurrency is never exceeded, whatever order the runs end in, and everything runs.
    @Test(arguments: [1, 3, 7])
    func concurrencyIsNeverExceeded(limit: Int) {
        var l = Self.launcher(LaunchLimits(maxConcurrency: limit), nodes: 20)
        var running: [String] = []
        var ran = 0
        var step = 0
        running += l.next(now: 0)
        while !running.isEmpty {
            #expect(running.count <= limit)
            #expect(l.inFlight.count == running.count)
            // End them in a scrambled order.
            let i = (step * 7) % running.count
            step += 1
            let done = running.remove(at: i)
            ran += 1
            _ = l.finished(done, failed: false, now: Double(step))
            running += l.next(now: Double(step))
        }
        #expect(ran == 20)
        #expect(l.isDone)
        #expect(l.launched == 20)
    }

    @Test func maxErrorsStopsLaunchesAtTheThreshold() {
        var l = Self.launcher(LaunchLimits(maxConcurrency: 2, maxErrors: 2), nodes: 10)
        #expect(l.next(now: 0) == ["n1", "n2"])
        #expect(l.finished("n1", failed: true, now: 1) == nil)
        #expect(l.next(now: 1) == ["n3"])
        let stop = l.finished("n2", failed: true, now: 2)
        #expect(stop?.skipped == ["n4", "n5", "n6", "n7", "n8", "n9", "n10"])
        #expect(stop?.reason.contains("max_errors 2") == true)
        #expect(l.next(now: 3) == [])
        // The node still running finishes; nothing more starts.
        #expect(l.finished("n3", failed: false, now: 4) == nil)
        #expect(l.isDone)
        #expect(l.errors == 2)
    }

    @Test func successesDoNotCountAsErrors() {
        var l = Self.launcher(LaunchLimits(maxErrors: 1), nodes: 3)
        #expect(l.next(now: 0).count == 3)
        #expect(l.finished("n1", failed: false, now: 1) == nil)
        #expect(l.finished("n2", failed: false, now: 1) == nil)
        // The threshold is reached, but nothing waits: nothing to stop.
        #expect(l.finished("n3", failed: true, now: 1) == nil)
        #expect(l.stopReason == nil)
        #expect(l.errors == 1)
    }

    /// Batches start only when the previous one ended and the wait passed (injected clock).
    @Test func batchesWaitForThePreviousBatchAndThePause() {
        var l = Self.launcher(LaunchLimits(batchSize: 3, batchWait: 30), nodes: 7)
        #expect(l.next(now: 0) == ["n1", "n2", "n3"])
        #expect(l.batches == 1)
        _ = l.finished("n1", failed: false, now: 5)
        _ = l.finished("n2", failed: false, now: 6)
        #expect(l.next(now: 6) == [])
        _ = l.finished("n3", failed: false, now: 10)
        #expect(l.pauseFrom == 10)
        #expect(l.next(now: 39.9) == [])
        #expect(l.next(now: 40) == ["n4", "n5", "n6"])
        #expect(l.batches == 2)
        for n in ["n4", "n5", "n6"] { _ = l.finished(n, failed: false, now: 50) }
        #expect(l.next(now: 79) == [])
        #expect(l.next(now: 80) == ["n7"])
        _ = l.finished("n7", failed: false, now: 81)
        #expect(l.isDone)
        #expect(l.pauseFrom == nil)
    }

    @Test func batchesWithoutAWaitFollowAtOnce() {
        var l = Self.launcher(LaunchLimits(batchSize: 2), nodes: 4)
        #expect(l.next(now: 0) == ["n1", "n2"])
        _ = l.finished("n1", failed: false, now: 1)
        #expect(l.next(now: 1) == [])
        _ = l.finished("n2", failed: false, now: 1)
        #expect(l.next(now: 1) == ["n3", "n4"])
    }

    @Test func concurrencyAppliesWithinABatch() {
        var l = Self.launcher(LaunchLimits(maxConcurrency: 2, batchSize: 5), nodes: 6)
        #expect(l.next(now: 0) == ["n1", "n2"])
        _ = l.finished("n1", failed: false, now: 1)
        #expect(l.next(now: 1) == ["n3"])
        for n in ["n2", "n3"] { _ = l.finished(n, failed: false, now: 2) }
        #expect(l.next(now: 2) == ["n4", "n5"])
        for n in ["n4", "n5"] { _ = l.finished(n, failed: false, now: 3) }
        // n1..n5 were batch 1; n6 is batch 2.
        #expect(l.next(now: 3) == ["n6"])
        #expect(l.batches == 2)
    }

    @Test func canariesRunAloneThenTheRest() {
        var l = Self.launcher(LaunchLimits(maxConcurrency: 10, canary: 2), nodes: 6)
        #expect(l.next(now: 0) == ["n1", "n2"])
        _ = l.finished("n1", failed: false, now: 1)
        #expect(l.next(now: 1) == [])
        _ = l.finished("n2", failed: false, now: 2)
        #expect(l.next(now: 2) == ["n3", "n4", "n5", "n6"])
    }

    @Test func aFailedCanaryStopsTheJob() {
        var l = Self.launcher(LaunchLimits(canary: 2), nodes: 5)
        #expect(l.next(now: 0) == ["n1", "n2"])
        let stop = l.finished("n2", failed: true, now: 1)
        #expect(stop?.skipped == ["n3", "n4", "n5"])
        #expect(stop?.reason == "canary node n2 did not succeed")
        #expect(l.next(now: 2) == [])
        _ = l.finished("n1", failed: false, now: 3)
        #expect(l.isDone)
    }

    @Test func canariesThenAPauseThenBatches() {
        var l = Self.launcher(LaunchLimits(batchSize: 2, batchWait: 10, canary: 1), nodes: 4)
        #expect(l.next(now: 0) == ["n1"])
        _ = l.finished("n1", failed: false, now: 1)
        #expect(l.next(now: 5) == [])
        #expect(l.next(now: 11) == ["n2", "n3"])
    }

    @Test func moreCanariesThanNodes() {
        var l = Self.launcher(LaunchLimits(canary: 5), nodes: 2)
        #expect(l.next(now: 0) == ["n1", "n2"])
        _ = l.finished("n1", failed: false, now: 1)
        _ = l.finished("n2", failed: false, now: 1)
        #expect(l.isDone)
    }

    @Test func withdrawnNodesAreNotLaunched() {
        var l = Self.launcher(LaunchLimits(maxConcurrency: 1), nodes: 3)
        #expect(l.next(now: 0) == ["n1"])
        l.withdraw("n2")
        _ = l.finished("n1", failed: false, now: 1)
        #expect(l.next(now: 1) == ["n3"])
        _ = l.finished("n3", failed: false, now: 2)
        #expect(l.isDone)
    }

    @Test func stopReturnsTheWaitingNodesOnce() {
        var l = Self.launcher(LaunchLimits(maxConcurrency: 1), nodes: 3)
        _ = l.next(now: 0)
        #expect(l.stop("aborted")?.skipped == ["n2", "n3"])
        #expect(l.stop("again") == nil)
        #expect(l.finished("n1", failed: false, now: 1) == nil)
        #expect(l.isDone)
    }

    /// Whatever the limits and the outcomes, a launcher with nothing in flight either is done,
    /// is stopped, or launches something once its pause has passed: every job ends.
    @Test func everyJobEnds() {
        let limits = [
            LaunchLimits(maxConcurrency: 1), LaunchLimits(maxConcurrency: 3, maxErrors: 4),
            LaunchLimits(batchSize: 4, batchWait: 5), LaunchLimits(maxConcurrency: 2, batchSize: 3, batchWait: 1, canary: 2),
            LaunchLimits(maxErrors: 100, canary: 3), LaunchLimits(maxConcurrency: 5, batchSize: 1),
        ]
        for (i, limit) in limits.enumerated() {
            for seed in 0..<8 {
                var l = Self.launcher(limit, nodes: 23)
                var now = 0.0
                var running: [String] = []
                var steps = 0
                while !l.isDone {
                    steps += 1
                    #expect(steps < 1_000, "launcher \(i) seed \(seed) is stuck")
                    if steps >= 1_000 { break }
                    running += l.next(now: now)
                    if let m = limit.maxConcurrency { #expect(running.count <= m) }
                    if running.isEmpty {
                        // Nothing runs: only a pause may hold the rest back.
                        #expect(l.stopReason != nil || l.pauseFrom != nil || l.isDone, "launcher \(i) seed \(seed) idles")
                        now += 1
                        continue
                    }
                    let n = running.removeFirst()
                    let failed = seed % 2 == 0 && (Int(n.dropFirst())! * 7 + seed) % 5 == 0
                    _ = l.finished(n, failed: failed, now: now)
                    now += 0.5
                }
            }
        }
    }
}
