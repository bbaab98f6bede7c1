import PushyProtocol
import Testing

/// The rate-control and re-run parts of a request (issue 13): what is accepted, how
/// percentages resolve, and the 400 messages for what is not.
@Suite(.timeLimit(.minutes(1)))
struct RateControlTests {
    @Test func fieldsParseAndRoundTrip() throws {
        let body = #"{"command":"ok","nodes":["a","b"],"max_concurrency":"10%","max_errors":2,"batch_size":5,"batch_wait":1.5,"canary":1}"#
        let r = try JobRequest.parse(Array(body.utf8))
        let expected = RateControl(maxConcurrency: .percent(10), maxErrors: .count(2), batchSize: .count(5), batchWait: 1.5, canary: 1)
        #expect(r.rateControl == expected)
        #expect(try JobRequest.parse(r.json.bytes) == r)
        #expect(try RateControl.parse(expected.json) == expected)
        #expect(try JobRequest.parse(Array(#"{"command":"ok","nodes":["a"]}"#.utf8)).rateControl == nil)
    }

    @Test(arguments: [
        (RateControl.Amount.percent(10), 20, 2), (.percent(10), 5, 1), (.percent(25), 10, 3), (.percent(100), 7, 7),
        (.count(3), 100, 3), (.percent(0.1), 10_000, 10),
    ])
    func percentagesRoundUpToAtLeastOne(amount: RateControl.Amount, nodes: Int, count: Int) {
        #expect(amount.resolve(nodeCount: nodes) == count)
    }

    @Test(arguments: [
        (#"{"command":"ok","nodes":["x"],"max_concurrency":0}"#, "invalid max_concurrency supplied"),
        (#"{"command":"ok","nodes":["x"],"max_concurrency":2.5}"#, "invalid max_concurrency supplied"),
        (#"{"command":"ok","nodes":["x"],"max_errors":"0%"}"#, "invalid max_errors supplied"),
        (#"{"command":"ok","nodes":["x"],"max_errors":"101%"}"#, "invalid max_errors supplied"),
        (#"{"command":"ok","nodes":["x"],"batch_size":"ten"}"#, "invalid batch_size supplied"),
        (#"{"command":"ok","nodes":["x"],"batch_size":true}"#, "invalid batch_size supplied"),
        (#"{"command":"ok","nodes":["x"],"batch_wait":-1,"batch_size":2}"#, "invalid batch_wait supplied"),
        (#"{"command":"ok","nodes":["x"],"batch_wait":"5","batch_size":2}"#, "invalid batch_wait supplied"),
        (#"{"command":"ok","nodes":["x"],"batch_wait":5}"#, "batch_wait needs batch_size"),
        (#"{"command":"ok","nodes":["x"],"canary":1.5}"#, "invalid canary supplied"),
        (#"{"command":"ok","nodes":["x"],"canary":0}"#, "invalid canary supplied"),
        (#"{"command":"ok","nodes":["x"],"max_concurency":2}"#, "invalid key supplied: 'max_concurency'"),
    ])
    func badRateControlIsRefusedWithItsName(body: String, message: String) {
        do {
            _ = try JobRequest.parse(Array(body.utf8))
            Issue.record("accepted \(body)")
        } catch {
            #expect(error.message.contains(message), "\(error.message)")
        }
    }

    @Test func longestRunCountsWavesAndPauses() {
        // Every wave counts its run timeout plus a second of slack for the engine's tick.
        #expect(RateControl().longestRun(nodeCount: 100, runTimeout: 60) == 61)
        #expect(RateControl(maxConcurrency: .count(3)).longestRun(nodeCount: 20, runTimeout: 10) == 7 * 11)
        #expect(RateControl(batchSize: .percent(10), batchWait: 30).longestRun(nodeCount: 100, runTimeout: 60) == 10 * 61 + 9 * 30)
        #expect(RateControl(batchSize: .count(5), batchWait: 2, canary: 1).longestRun(nodeCount: 11, runTimeout: 1) == 3 * 2 + 2 * 2)
        // Canaries under a smaller concurrency take several waves (3 canaries, 1 at a time, then 7).
        #expect(RateControl(maxConcurrency: .count(1), canary: 3).longestRun(nodeCount: 10, runTimeout: 600) == 10 * 601)
        // Batches of 4 at most 3 at once: 2 + 2 + 1 waves, not ceil(10 / 3) = 4.
        #expect(RateControl(maxConcurrency: .count(3), batchSize: .count(4)).longestRun(nodeCount: 10, runTimeout: 1) == 5 * 2)
    }

    @Test func rerunSelection() throws {
        #expect(try RerunSelection.parse([]) == .notSucceeded)
        #expect(try RerunSelection.parse(Array(#"{"nodes":"failed"}"#.utf8)) == .failed)
        #expect(try RerunSelection.parse(Array(#"{"nodes":"all"}"#.utf8)) == .all)
        #expect(throws: JobValidationError.self) { try RerunSelection.parse(Array(#"{"nodes":"some"}"#.utf8)) }
        #expect(throws: JobValidationError.self) { try RerunSelection.parse(Array(#"{"node":"all"}"#.utf8)) }
        #expect(throws: JobValidationError.self) { try RerunSelection.parse(Array("[".utf8)) }
        let view = JobView(id: "j", command: "c", status: .complete, runTimeout: 1, createdAt: .init(timeIntervalSince1970: 0),
                           updatedAt: .init(timeIntervalSince1970: 0),
                           nodes: [(.succeeded, ["a"]), (.failed, ["b"]), (.crashed, ["c"]), (.nacked, ["d"]), (.timedOut, ["e"]), (.skipped, ["f"])])
        #expect(RerunSelection.failed.nodes(of: view) == ["b", "c", "e"])
        #expect(RerunSelection.notSucceeded.nodes(of: view) == ["b", "c", "d", "e", "f"])
        #expect(RerunSelection.all.nodes(of: view).count == 6)
    }

    @Test(arguments: [(10, 10, 3, 3), (9, 10, 3, 3), (5, 10, 3, 2), (0, 10, 3, 0), (1, 1, 1, 1), (10, 10, 0, 0)])
    func rerunQuorumKeepsTheOriginalShare(original: Int, originalNodes: Int, rerun: Int, quorum: Int) {
        #expect(RerunSelection.quorum(original: original, originalNodes: originalNodes, rerunNodes: rerun) == quorum)
    }
}
