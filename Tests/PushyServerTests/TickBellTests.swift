import Foundation
@testable import PushyServer
import Synchronization
import Testing

/// `EngineTicker`'s idle pace (issue 16): an idle engine is ticked once a second, and the bell
/// ends that wait when work for the timers starts.
@Suite(.timeLimit(.minutes(1))) struct TickBellTests {
    /// A ring ends a wait under way: a wait of ten minutes returns (the suite's limit is one).
    @Test func aRingEndsTheWaitUnderWay() async throws {
        let bell = TickBell()
        let waiter = Waiter(bell)
        // Rung until the wait has ended (a ring before it began is kept for it, which the
        // next test checks).
        while !waiter.ended {
            bell.ring()
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// A ring while no wait is under way makes the next wait return at once, once.
    @Test func aRingBeforeTheWaitIsKeptForIt() async throws {
        let bell = TickBell()
        bell.ring()
        await bell.wait(.seconds(600))
        let second = Waiter(bell)
        // Not a timing check: the wait is ten minutes, so it cannot end unrung however slow the machine.
        try await Task.sleep(for: .milliseconds(200))
        #expect(!second.ended, "the ring was used up by the first wait")
        while !second.ended {
            bell.ring()
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Cancelling the waiting task ends its wait.
    @Test func cancellingTheWaiterEndsTheWait() async throws {
        let bell = TickBell()
        let waiter = Waiter(bell)
        waiter.task.cancel()
        await waiter.task.value
    }

    /// The engine asks for prompt ticks only while its timers have something to watch.
    @Test func theEngineWantsPromptTicksOnlyWhileAJobRuns() async throws {
        try await EngineRig.with { rig in
            // The first three broadcasts (1, 2 and 3 s after start) want prompt ticks.
            for _ in 0..<3 {
                rig.clock.advance(1)
                await rig.engine.tick()
            }
            #expect(await rig.engine.tick() == CommandEngine.idleTickLimit, "an idle engine with an available node")
            let id = try await rig.runningJob()
            #expect(await rig.engine.tick() == nil, "a job runs")
            await rig.say(.succeeded, job: id)
            #expect(await rig.job(id)?.status == .complete)
            await rig.engine.drainWrites()
            #expect(await rig.engine.tick() != nil, "the job ended and its rows are written")
        }
    }

    /// Idle, the engine still ticks in time for every broadcast and several times an interval,
    /// however short the interval (agents count missed broadcasts per interval).
    @Test func anIdleEngineTicksInTimeForItsBroadcasts() async throws {
        try await EngineRig.with(configure: { $0.heartbeatInterval = 0.5 }) { rig in
            for _ in 0..<3 {
                rig.clock.advance(1)
                await rig.engine.tick()
            }
            let wait = try #require(await rig.engine.tick())
            #expect(wait <= 0.1, "a fifth of the 0.5 s interval at most, was \(wait)")
            rig.clock.advance(0.45)
            #expect(await rig.engine.idleWait(now: rig.clock.now()) <= 0.05 + 1e-6, "the next broadcast is due in 0.05 s")
        }
    }

    /// Starting a job rings the bell: an idle wait under way ends at once.
    @Test func aJobStartEndsTheIdleWait() async throws {
        try await EngineRig.with { rig in
            let waiter = Waiter(rig.engine.tickBell)
            _ = try await rig.runningJob()
            await waiter.task.value
        }
    }

    /// A node sent to rehab rings the bell too (its `abort` is resent on the engine's ticks).
    @Test func aNodeEnteringRehabEndsTheIdleWait() async throws {
        try await EngineRig.with { rig in
            let waiter = Waiter(rig.engine.tickBell)
            // A node that says it runs a job the server never heard of is reset (rehab).
            await rig.say(.heartbeat, job: "0123456789abcdef0123456789abcdef", state: .running)
            await waiter.task.value
            #expect(rig.transport.types.last == "abort")
        }
    }

    /// A task waiting ten minutes on `bell`, and whether that wait has ended.
    struct Waiter {
        final class Flag: Sendable { let done = Atomic(false) }
        let task: Task<Void, Never>
        private let flag = Flag()

        init(_ bell: TickBell) {
            let flag = self.flag
            task = Task {
                await bell.wait(.seconds(600))
                flag.done.store(true, ordering: .releasing)
            }
        }

        var ended: Bool { flag.done.load(ordering: .acquiring) }
    }
}
