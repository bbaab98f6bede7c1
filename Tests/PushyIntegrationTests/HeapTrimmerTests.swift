import Logging
import Synchronization
import Testing
@testable import PushyServer

/// `HeapTrimmer` trims once after each burst of events, never while idle or mid-burst.
@Suite(.timeLimit(.minutes(5))) struct HeapTrimmerTests {
    /// What the trimmer sees: an event count (which grows on every poll while `bursting`), how
    /// often it polled, and how often it trimmed.
    final class Probe: Sendable {
        struct State { var events = 0, polls = 0, trims = 0, bursting = false }
        let state = Mutex(State())
        func poll() -> Int {
            state.withLock { s in
                s.polls += 1
                if s.bursting { s.events += 1 }
                return s.events
            }
        }
        var snapshot: State { state.withLock { $0 } }

        /// Waits (bounded) until `done` holds, checking each millisecond.
        func wait(_ done: (State) -> Bool) async throws {
            let deadline = ContinuousClock.now + .seconds(20)
            while !done(snapshot) {
                guard ContinuousClock.now < deadline else { Issue.record("timed out: \(snapshot)"); return }
                try await Task.sleep(for: .milliseconds(1))
            }
        }
    }

    @Test func trimsOnceAfterEachBurstNeverWhileIdleOrMidBurst() async throws {
        let probe = Probe()
        let trimmer = HeapTrimmer(period: .milliseconds(5), events: { probe.poll() },
                                  logger: Logger(label: "test"),
                                  trim: { probe.state.withLock { $0.trims += 1 }; return 1 })
        let task = Task { await trimmer.trimAfterBursts() }
        defer { task.cancel() }

        // Idle: many polls, no trim.
        try await probe.wait { $0.polls >= 10 }
        #expect(probe.snapshot.trims == 0)

        // A burst: the count changes on every poll, so no trim while it lasts...
        probe.state.withLock { $0.bursting = true }
        let start = probe.snapshot.polls
        try await probe.wait { $0.polls >= start + 10 }
        #expect(probe.snapshot.trims == 0)
        // ...and exactly one once it is over, however long the quiet lasts.
        probe.state.withLock { $0.bursting = false }
        try await probe.wait { $0.trims == 1 }
        let after = probe.snapshot.polls
        try await probe.wait { $0.polls >= after + 10 }
        #expect(probe.snapshot.trims == 1)

        // A single event is a burst too.
        probe.state.withLock { $0.events += 1 }
        try await probe.wait { $0.trims == 2 }
    }
}
