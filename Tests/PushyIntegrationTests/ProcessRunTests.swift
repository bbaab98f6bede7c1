import Foundation
import PushyTestSupport
import Testing

/// The deadline helpers themselves: a process past its deadline is killed and reported with
/// its output so far; a wait in a cancelled task stops at once.
@Suite(.timeLimit(.minutes(1))) struct ProcessRunTests {
    @Test func aProcessPastItsDeadlineIsKilledAndReportedWithItsOutput() async throws {
        let run = try ProcessRun(Command("/bin/sh", ["-c", "echo before; exec sleep 60"]), name: "sleeper")
        await withKnownIssue {
            let r = await run.wait(within: .seconds(1))
            #expect(r.killed)
            #expect(r.stdoutText == "before\n")
        } matching: { issue in
            "\(issue)".contains("killed `sleeper`") && "\(issue)".contains("before")
        }
        #expect(!run.isRunning)
    }

    @Test func aLatchWaitEndsWhenItsTaskIsCancelled() async {
        let latch = Latch()
        let waiter = Task { await latch.wait(timeout: .seconds(600)) }
        waiter.cancel()
        #expect(await waiter.value == false)
        latch.open()
        #expect(await latch.wait(timeout: .seconds(600)))
    }
}
