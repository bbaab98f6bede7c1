import Logging
import Synchronization
import Testing
@testable import PushyServer

/// `HeapTrimmer` trims once after each burst of events, never while idle or mid-burst.
@Suite(.timeLimit(.minutes(1))) struct HeapTrimmerTests {
    /// The decision, poll by poll: (event count polled, trim now?).
    @Test func trimsOnceAfterEachBurstNeverWhileIdleOrMidBurst() {
        let polls: [(Int, Bool)] = [
            (0, false), (0, false), (0, false),   // idle
            (3, false), (7, false), (12, false),  // a burst: the count moves on every poll
            (12, true),                           // over: one trim
            (12, false), (12, false),             // however long the quiet lasts
            (13, false), (13, true),              // a single event is a burst too
            (20, false), (25, false), (25, true), // the next burst: once more
            (30, false), (31, false), (32, false), (33, false), (34, false),
            (35, true),                           // steady churn: a trim after 6 busy polls…
            (36, false), (37, false), (38, false), (39, false), (40, false),
            (41, true),                           // …and every 6 while it lasts
            (41, false),                          // then quiet: nothing new
        ]
        var watch = HeapTrimmer.BurstWatch(start: 0, longestBusyPolls: 6)
        for (i, (count, trims)) in polls.enumerated() {
            #expect(watch.poll(count) == trims, "poll \(i): count \(count)")
        }
    }

    /// The loop: polls once per pause and trims when the watch says so. The test steps the
    /// pauses itself (no timers), so a loaded machine cannot make it miss a poll.
    @Test func theLoopTrimsWhenABurstEnds() async throws {
        let events = Mutex(0), trims = Mutex(0)
        let stepper = Stepper()
        let trimmer = HeapTrimmer(period: .seconds(3600), events: { events.withLock { $0 } },
                                  logger: Logger(label: "test"),
                                  trim: { trims.withLock { $0 += 1 }; return 1 },
                                  pause: { _ in await stepper.pause() })
        let task = Task { await trimmer.trimAfterBursts() }
        await stepper.waitPaused(1)           // polled 0 at the start
        events.withLock { $0 = 5 }
        await stepper.release()
        await stepper.waitPaused(2)           // sees 5: mid-burst
        await stepper.release()
        await stepper.waitPaused(3)           // 5 again: the burst is over
        #expect(trims.withLock { $0 } == 1)
        await stepper.release()
        await stepper.waitPaused(4)
        #expect(trims.withLock { $0 } == 1, "no second trim while quiet")
        task.cancel()
        await stepper.release()
        await task.value
    }
}

/// Pauses a loop until the test releases it, and lets the test wait for the n-th pause.
actor Stepper {
    private var paused = 0
    private var held: CheckedContinuation<Void, Never>?
    private var waiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []

    func pause() async {
        paused += 1
        let ready = waiters.filter { $0.count <= paused }
        waiters.removeAll { $0.count <= paused }
        for w in ready { w.continuation.resume() }
        await withCheckedContinuation { held = $0 }
    }

    func release() {
        held?.resume()
        held = nil
    }

    func waitPaused(_ count: Int) async {
        if paused >= count { return }
        await withCheckedContinuation { waiters.append((count, $0)) }
    }
}
