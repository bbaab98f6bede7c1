import Foundation
import PushyProtocol
@testable import PushyServer
import PushyTestSupport
import Testing

/// The SSE job feeds (spec 2.3): documented event sequences, Last-Event-ID resume, the org
/// feed. At router level: agents are stand-ins running the agent's job runner, and timeouts come
/// from moving the engine's clock, not from waiting.
///
/// Two minutes: each test takes a few seconds alone, ≈ 30 s beside every other suite in a full
/// `swift test` on a loaded two-core machine.
@Suite(.timeLimit(.minutes(2))) struct FeedAPITests {
    @Test func successSequenceAndResume() async throws {
        try await RouterRig.run { rig in
            try await rig.startAgent("s1")
            let id = try await rig.admin.startJob(JobRequest(command: "ok", nodes: ["s1"]))
            let live = try await rig.readFeed(rig.admin, "pushy/job_status_feed/\(id)")
            #expect(live.status == 200)
            #expect(FeedRecord.summary(live.events) == [
                "start", "quorum_vote(success)", "quorum_succeeded", "run_start", "run_complete(success)",
                "job_complete(complete)",
            ])
            #expect(live.events.map(\.id) == (1...6).map { "job-\($0)" })
            #expect(live.events.allSatisfy { $0.data["timestamp"]?.stringValue?.hasSuffix("Z") == true })
            #expect(live.events[0].data["user"]?.stringValue == "admin")
            #expect(live.events[0].data["capture"]?.boolValue == false)

            let resumed = try await rig.readFeed(rig.admin, "pushy/job_status_feed/\(id)", lastEventId: "job-3")
            #expect(resumed.events.map(\.id) == ["job-4", "job-5", "job-6"])
            let unknown = try await rig.readFeed(rig.admin, "pushy/job_status_feed/\(id)", lastEventId: "bogus")
            #expect(unknown.events.count == 6)

            let notAcceptable = try await rig.readFeed(rig.admin, "pushy/job_status_feed/\(id)", accept: "application/json")
            #expect(notAcceptable.status == 406)
            let missing = try await rig.readFeed(rig.admin, "pushy/job_status_feed/0123456789abcdef0123456789abcdef")
            #expect(missing.status == 404)
        }
    }

    @Test func offlineNodeSequence() async throws {
        try await RouterRig.run { rig in
            try await rig.createNode("ghost")
            let id = try await rig.admin.startJob(JobRequest(command: "ok", nodes: ["ghost"]))
            let feed = try await rig.readFeed(rig.admin, "pushy/job_status_feed/\(id)")
            #expect(FeedRecord.summary(feed.events) == ["start", "quorum_vote(down)", "rehab", "job_complete(quorum_failed)"])
        }
    }

    @Test func votingTimeoutSequence() async throws {
        try await RouterRig.run(configure: { $0.votingTimeout = 1 }) { rig in
            // Connects, heartbeats and answers abort, but never votes.
            try await rig.startAgent("mute", mute: true)
            let id = try await rig.admin.startJob(JobRequest(command: "ok", nodes: ["mute"]))
            try await rig.settle()
            #expect(try await rig.admin.job(id).status == .voting)
            try await rig.advance(1.5)
            let feed = try await rig.readFeed(rig.admin, "pushy/job_status_feed/\(id)")
            #expect(FeedRecord.summary(feed.events) == ["start", "quorum_vote(voting_timeout)", "job_complete(quorum_failed)"])
        }
    }

    @Test func runTimeoutAndAbortSequences() async throws {
        try await RouterRig.run { rig in
            try await rig.startAgent("t1")
            let timed = try await rig.admin.startJob(JobRequest(command: "sleep", nodes: ["t1"], runTimeout: 1))
            try await rig.settle()
            #expect(try await rig.admin.job(timed).status == .running)
            try await rig.advance(1.5)
            let feed = try await rig.readFeed(rig.admin, "pushy/job_status_feed/\(timed)")
            #expect(FeedRecord.summary(feed.events) == [
                "start", "quorum_vote(success)", "quorum_succeeded", "run_start", "job_complete(timed_out)",
            ])
            // The timed-out node was reset (abort → aborted) and is available again.
            #expect(try await rig.admin.nodeState("t1").availability == .available)

            let aborted = try await rig.admin.startJob(JobRequest(command: "sleep", nodes: ["t1"]))
            try await rig.settle()
            #expect(try await rig.admin.job(aborted).status == .running)
            async let reader = rig.readFeed(rig.admin, "pushy/job_status_feed/\(aborted)")
            _ = try await rig.admin.abortJob(aborted)
            let (_, events) = try await reader
            #expect(FeedRecord.summary(events) == [
                "start", "quorum_vote(success)", "quorum_succeeded", "run_start", "aborted", "job_complete(aborted)",
            ])
            #expect(events.first { $0.name == "aborted" }?.data["user"]?.stringValue == "admin")
            let job = try await rig.admin.job(aborted)
            #expect(job.status == .aborted)
            #expect(job.count(.aborted) == 1)
        }
    }

    @Test func orgFeedCarriesStartAndCompleteOfEveryJob() async throws {
        try await RouterRig.run { rig in
            try await rig.startAgent("o1")
            async let reader = rig.readFeed(rig.admin, "pushy/job_status_feed")
            // The feed is live only: start the jobs once the reader is subscribed.
            try await eventually("the org feed's reader subscribed") { await rig.engine.orgSubscribers.count == 1 }
            let a = try await rig.admin.startJob(JobRequest(command: "ok", nodes: ["o1"]))
            _ = try await rig.admin.waitFinished(a)
            let b = try await rig.admin.startJob(JobRequest(command: "ok", nodes: ["o1"]))
            _ = try await rig.admin.waitFinished(b)
            // The org feed never ends by itself: end it as a shutdown does (what was sent is read).
            await rig.engine.closeFeeds()
            let (_, events) = try await reader
            #expect(events.map(\.name) == ["start", "job_complete", "start", "job_complete"])
            #expect(events.map { $0.data["job"]?.stringValue } == [a, a, b, b])
            #expect(events.map(\.id) == ["org-1", "org-2", "org-3", "org-4"])

            // Closed feeds still replay: what follows a retained id, or a gap marker then all.
            let resumed = try await rig.readFeed(rig.admin, "pushy/job_status_feed", lastEventId: "org-2")
            #expect(resumed.events.map(\.id) == ["org-3", "org-4"])
            let gap = try await rig.readFeed(rig.admin, "pushy/job_status_feed", lastEventId: "org-999")
            #expect(gap.events.first?.name == "start_of_history")
            #expect(gap.events.count == 5)
        }
    }
}
