import PushyStore
import Synchronization
import Testing

/// `awaitAtMost`: how a server's stop bounds the database client's close and its last words.
@Suite(.timeLimit(.minutes(1))) struct AwaitAtMostTests {
    @Test func workThatEndsInTimeIsWaitedFor() async {
        let done = Mutex(false)
        let finished = await awaitAtMost(.seconds(20)) {
            try? await Task.sleep(for: .milliseconds(20))
            done.withLock { $0 = true }
        }
        #expect(finished)
        #expect(done.withLock { $0 })
    }

    /// Work that ignores cancellation (as a pool waiting on a connection attempt may) does not
    /// hold the caller past the limit; it is cancelled and left to end by itself.
    @Test func workThatHangsIsGivenUpAfterTheLimit() async {
        let (release, releaser) = AsyncStream.makeStream(of: Void.self)
        let cancelled = Mutex(false)
        let finished = await awaitAtMost(.milliseconds(100)) {
            // Deaf to cancellation: only `releaser` ends it.
            await withTaskCancellationHandler {
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    Task {
                        for await _ in release { break }
                        c.resume()
                    }
                }
            } onCancel: {
                cancelled.withLock { $0 = true }
            }
        }
        // No timing assertion: on a loaded machine the timer itself may run seconds late.
        #expect(!finished)
        #expect(cancelled.withLock { $0 })
        releaser.yield()
        releaser.finish()
    }

    /// A stop is often run from a cancelled task (tests cancel the server's run): the wait must
    /// not end early then.
    @Test func aCancelledCallerStillWaits() async {
        let done = Mutex(false)
        let workCancelled = Mutex(true)
        let caller = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await awaitAtMost(.seconds(20)) {
                // The work does not inherit the caller's cancellation (its queries would fail).
                workCancelled.withLock { $0 = Task.isCancelled }
                try? await Task.sleep(for: .milliseconds(20))
                done.withLock { $0 = !Task.isCancelled }
            }
        }
        #expect(await caller.value)
        #expect(!workCancelled.withLock { $0 })
        #expect(done.withLock { $0 })
    }
}
