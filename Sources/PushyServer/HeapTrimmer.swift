import CPushySys
import Dispatch
import Logging

/// Hands the memory a burst freed back to the system, once the burst is over.
///
/// glibc keeps what bursts free — a job over thousands of nodes, a reconnect storm — in its
/// arenas, resident: measured at 9,500 agents, six all-node jobs left ≈ 44 MB (≈ 4.6 KB per
/// agent) that `malloc_trim` returned at once. Trimming on a timer instead costs idle CPU: pages
/// the heartbeat path frees and reuses every cycle would be handed back and faulted in again. So
/// the trimmer watches a count of events (nodes connecting, jobs ending) and trims when it has
/// changed since the last trim but not during the last period: after each burst, once. Under
/// steady churn (jobs ending every few seconds, as in the churn soak) there is never such a
/// quiet period, and the freed memory stayed resident, growing with each busier stretch; so it
/// also trims once the count has kept moving for `longestBusyPolls` periods (a minute).
struct HeapTrimmer: Sendable {
    var period: Duration = .seconds(10)
    var longestBusyPolls = 6
    /// A count that grows with every event after which memory may be freed.
    let events: @Sendable () async -> Int
    let logger: Logger
    /// The trim itself: 1 when memory was released (tests count calls instead).
    var trim: @Sendable () -> Int32 = { pushy_trim_heap() }
    /// The wait between polls (tests step it by hand).
    var pause: @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }

    /// When to trim, from the event count polled once a period: pure, table-tested.
    struct BurstWatch: Equatable {
        var trimmedAt: Int
        var previous: Int
        /// Polls since the count moved away from where it was at the last trim.
        var busyPolls = 0
        let longestBusyPolls: Int

        init(start: Int, longestBusyPolls: Int = 6) {
            trimmedAt = start
            previous = start
            self.longestBusyPolls = longestBusyPolls
        }

        /// Takes one poll; true when a burst has just ended (the count moved since the last trim
        /// and stood still since the last poll), or has gone on for `longestBusyPolls` polls.
        mutating func poll(_ now: Int) -> Bool {
            defer { previous = now }
            guard now != trimmedAt else { return false }
            busyPolls += 1
            guard now == previous || busyPolls >= longestBusyPolls else { return false }
            trimmedAt = now
            busyPolls = 0
            return true
        }
    }

    /// The heap now: allocated and freed-but-held bytes (`/pushy/_status`).
    static func heapStats() -> (inUse: Int, free: Int)? {
        var inUse = 0, free = 0
        guard pushy_heap_stats(&inUse, &free) == 0 else { return nil }
        return (inUse, free)
    }

    /// Runs until the task is cancelled.
    func trimAfterBursts() async {
        let queue = DispatchQueue(label: "pushy.heap-trim", qos: .utility)
        var watch = BurstWatch(start: await events(), longestBusyPolls: longestBusyPolls)
        while !Task.isCancelled {
            try? await pause(period)
            if Task.isCancelled { break }
            guard watch.poll(await events()) else { continue }
            let logger = self.logger, trim = self.trim
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                queue.async {
                    let start = ContinuousClock.now
                    let released = trim()
                    logger.debug("heap trimmed after a burst", metadata: [
                        "pushy.released": "\(released == 1)", "pushy.took": "\(ContinuousClock.now - start)",
                    ])
                    done.resume()
                }
            }
        }
    }
}
