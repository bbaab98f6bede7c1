import Foundation
@testable import PushyServer
import Testing

/// The org feed keeps `org_feed_expiration` seconds of `start`/`job_complete` events for replay.
@Suite(.timeLimit(.minutes(1))) struct OrgFeedRetentionTests {
    /// With nobody reading the org feed, old events still expire as new ones come. They used to
    /// expire only when someone subscribed, so a server whose org feed nobody read kept every
    /// job's events for its whole life (the churn soak's slow RSS growth).
    @Test func eventsExpireWithNoReader() async throws {
        // Two minutes of retention (however slowly a loaded machine runs the first jobs), then
        // the clock moves past it; the agent's messages stay within the skew allowed.
        try await EngineRig.with(configure: { $0.orgFeedExpiration = 120; $0.maxMessageSkew = 900 }) { rig in
            for _ in 0..<3 {
                let id = try await rig.runningJob()
                await rig.say(.succeeded, job: id)
                #expect(await rig.job(id)?.status == .complete)
            }
            #expect(await rig.engine.orgFeedRetained == 6)
            rig.clock.advance(121)
            let id = try await rig.runningJob()
            #expect(await rig.engine.orgFeedRetained == 1, "only the new job's start is left")
            await rig.say(.succeeded, job: id)
            #expect(await rig.engine.orgFeedRetained == 2)
        }
    }
}
