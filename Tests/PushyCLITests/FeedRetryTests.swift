@testable import PushyCLI
import Testing

/// When a job's broken live feed is read again and when the CLI falls back to polling.
@Suite(.timeLimit(.minutes(1))) struct FeedRetryTests {
    typealias Step = (progressed: Bool, final: Bool, expected: FeedRetry.Decision)

    @Test(arguments: [
        // A connection that brought events is always resumed.
        [(true, false, .resume), (true, false, .resume), (true, false, .resume), (true, false, .resume)],
        // Unproductive connections: tried again twice, then polling.
        [(false, false, .retry), (false, false, .retry), (false, false, .giveUp)],
        // Events in between reset the count.
        [(false, false, .retry), (false, false, .retry), (true, false, .resume), (false, false, .retry),
         (false, false, .retry), (false, false, .giveUp)],
        // An HTTP answer is final, with or without events before it.
        [(false, true, .giveUp)],
        [(true, false, .resume), (true, true, .giveUp)],
    ] as [[Step]])
    func decisions(_ steps: [Step]) {
        var retry = FeedRetry()
        for (i, step) in steps.enumerated() {
            #expect(retry.next(progressed: step.progressed, final: step.final) == step.expected, "step \(i)")
        }
    }
}
