import Foundation
import PushyCore
import PushyProtocol

/// Live job feeds (spec 2.3): per-job history with `job-N` ids, the org feed with `org-N` ids
/// and 60 s retention, and their subscribers.
extension CommandEngine {
    /// Records a job event, fans it out to the job's subscribers and, for `start` and
    /// `job_complete`, to the org feed.
    func record(_ e: JobFeedEvent, job: ActiveJob, at date: Date) {
        let event = job.append(e, at: date)
        for (token, s) in job.subscribers where s.keep(event) {
            if !s.continuation.deliver(event) { job.subscribers[token] = nil }
        }
        if e.name == "job_complete" {
            for (_, s) in job.subscribers { s.continuation.finish() }
            job.subscribers = [:]
        }
        if e.name == "start" || e.name == "job_complete" {
            orgSequence += 1
            var fields = event.data.objectValue ?? []
            fields.append(("job", .string(job.record.id)))
            let orgEvent = FeedEvent(name: e.name, id: "org-\(orgSequence)", data: .object(fields))
            orgEvents.append((at: date.timeIntervalSince1970, org: job.org, event: orgEvent))
            // Expired here, not only when someone subscribes: with no reader of the org feed the
            // events of every job ever run stayed in memory (≈ 1.5 KB a job; the churn soak's
            // RSS growth).
            expireOrgEvents()
            for (token, s) in orgSubscribers where s.org == job.org {
                if !s.continuation.deliver(orgEvent) { orgSubscribers[token] = nil }
            }
            relayOrgEvent(org: job.org, name: e.name, data: .object(fields))
        }
    }

    /// Subscribes to one job's feed. `lastEventId` (`job-N`) skips events up to N; an unknown
    /// id replays everything. Live events `keep` refuses are not sent (the replay is the caller's).
    public func subscribeJob(org: String, id: String, lastEventId: String?,
                             keep: @escaping @Sendable (FeedEvent) -> Bool = { _ in true }) -> JobFeedSubscription {
        guard let job = jobs[id], job.org == org else { return .notActive }
        var replay = job.events
        if let last = lastEventId, last.hasPrefix("job-"), let n = Int(last.dropFirst(4)), n >= 1, n <= replay.count {
            replay = Array(replay.dropFirst(n))
        }
        if job.events.last?.name == "job_complete" || feedsClosed { return .active(replay: replay, live: nil) }
        let live = LiveFeed(limit: 10_000)
        let token = UUID()
        job.subscribers[token] = (live.continuation, keep)
        live.continuation.onTermination = { [weak self] _ in
            Task { await self?.unsubscribeJob(id, token) }
        }
        return .active(replay: replay, live: live)
    }

    func unsubscribeJob(_ id: String, _ token: UUID) { jobs[id]?.subscribers[token] = nil }

    /// Subscribes to the org feed (spec 2.3): no id → live only; a retained `org-N` → events
    /// after it; an unknown or expired id → `start_of_history` then everything retained.
    public func subscribeOrg(org: String, lastEventId: String?) -> (replay: [FeedEvent], live: LiveFeed) {
        expireOrgEvents()
        let mine = orgEvents.filter { $0.org == org }.map(\.event)
        var replay: [FeedEvent] = []
        if let last = lastEventId {
            if let i = mine.firstIndex(where: { $0.id == last }) {
                replay = Array(mine[(i + 1)...])
            } else {
                let start = Date(timeIntervalSince1970: clock() - config.orgFeedExpiration)
                replay = [FeedEvent(name: "start_of_history", id: "start_id",
                                    data: ["timestamp": .string(WireTime.feed(start))])] + mine
            }
        }
        let live = LiveFeed(limit: 10_000)
        if feedsClosed {
            live.continuation.finish()
            return (replay, live)
        }
        let token = UUID()
        orgSubscribers[token] = (org, live.continuation)
        live.continuation.onTermination = { [weak self] _ in
            Task { await self?.unsubscribeOrg(token) }
        }
        return (replay, live)
    }

    func unsubscribeOrg(_ token: UUID) { orgSubscribers[token] = nil }

    /// Org feed events held for replay (all orgs; `/pushy/_status`).
    public var orgFeedRetained: Int { orgEvents.count }

    /// Ends every open feed (server shutdown): an org feed never ends on its own, and the HTTP
    /// server's graceful shutdown waits for open responses. Feeds asked for afterwards end after
    /// their replay.
    public func closeFeeds() {
        feedsClosed = true
        for (_, s) in orgSubscribers { s.continuation.finish() }
        orgSubscribers = [:]
        for job in jobs.values {
            for (_, s) in job.subscribers { s.continuation.finish() }
            job.subscribers = [:]
            // `?wait=` readers are answered now too (the HTTP drain waits for them).
            wake(job.record.id)
        }
    }

    /// Drops org feed events older than `org_feed_expiration` (by the engine's clock, the clock
    /// events are stamped with).
    func expireOrgEvents() {
        let cutoff = clock() - config.orgFeedExpiration
        guard let oldest = orgEvents.first, oldest.at < cutoff else { return }
        if let i = orgEvents.firstIndex(where: { $0.at >= cutoff }) {
            if i > 0 { orgEvents.removeFirst(i) }
        } else {
            orgEvents.removeAll()
        }
    }
}
