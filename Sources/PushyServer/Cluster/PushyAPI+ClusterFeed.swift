import Foundation
import PushyProtocol

extension PushyAPI {
    /// The job's view once it has ended (an abort relayed to its owner), or as it is after 5 s.
    func awaitRelayedAbort(org: String, id: String) async throws(APIError) -> JobView {
        let deadline = ContinuousClock.now + .seconds(5)
        while true {
            let view = try await jobView(org: org, id: id)
            if view.status.isTerminal || ContinuousClock.now >= deadline { return view }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// `?wait=` for a job another server of the cluster runs: its rows, looked at every half
    /// second until it has ended or `deadline` (the engine's own wait knows only its own jobs).
    func awaitStoredEnd(org: String, id: String, until deadline: ContinuousClock.Instant) async throws(APIError) {
        guard await engine.isClustered, await engine.activeJobSnapshot(org: org, id: id) == nil else { return }
        while ContinuousClock.now < deadline, await !engine.feedsClosed {
            if try await jobView(org: org, id: id).status.isTerminal { return }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    /// The feed of a job another server of the cluster runs (issue 17): its stored state as a
    /// `summary` event now and again at each change (read every half second) until it ends.
    /// The owner's own feed has the finer events (votes, output); this one has every state.
    func polledJobFeed(org: String, id: String, first: JobView) -> (replay: [FeedEvent], live: LiveFeed?) {
        func event(_ view: JobView, _ n: Int) -> FeedEvent {
            var fields = view.json.objectValue ?? []
            fields.insert(("timestamp", .string(WireTime.feed(Date()))), at: 0)
            return FeedEvent(name: "summary", id: "job-\(n)", data: .object(fields))
        }
        let replay = [event(first, 1)]
        guard !first.status.isTerminal else { return (replay, nil) }
        let live = LiveFeed(), continuation = live.continuation
        let task = Task {
            var last = first.json, n = 1
            // Ends with the job, at the server's stop (the HTTP drain waits for open feeds) and
            // when the job is gone.
            while !Task.isCancelled, await !engine.feedsClosed {
                try? await Task.sleep(for: .milliseconds(500))
                let view: JobView
                do { view = try await jobView(org: org, id: id) } catch {
                    if let e = error as? APIError, case .notFound = e { break }
                    continue
                }
                if view.json != last {
                    last = view.json
                    n += 1
                    continuation.yield(event(view, n))
                }
                if view.status.isTerminal { break }
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return (replay, live)
    }
}
