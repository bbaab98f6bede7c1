@testable import PushyServer
import Testing

/// Refused requests are logged once per (principal, reason, peer) a window, at most
/// `perWindow` lines a window, and the next line logged says how many were left out.
@Suite(.timeLimit(.minutes(1))) struct RefusalLogTests {
    typealias R = RefusalLog.Refusal
    static let wendy = R(principal: "wendy", reason: "bad_signature", remote: "10.0.0.5")

    @Test func theFirstRefusalIsLoggedAndRepeatsAreNot() {
        var log = RefusalLog(window: 60, perWindow: 20)
        #expect(log.record(Self.wendy, now: 0) == .log(suppressed: 0))
        #expect(log.record(Self.wendy, now: 1) == .skip)
        #expect(log.record(Self.wendy, now: 59.9) == .skip)
        // Another reason, principal or peer is another refusal.
        #expect(log.record(R(principal: "wendy", reason: "clock_skew", remote: "10.0.0.5"), now: 2) == .log(suppressed: 2))
        #expect(log.record(R(principal: "bob", reason: "bad_signature", remote: "10.0.0.5"), now: 3) == .log(suppressed: 0))
        #expect(log.record(R(principal: "wendy", reason: "bad_signature", remote: "10.0.0.6"), now: 4) == .log(suppressed: 0))
        // A window later the same refusal is logged again.
        #expect(log.record(Self.wendy, now: 60) == .log(suppressed: 0))
    }

    @Test func aFloodIsCappedPerWindowAndTheLeftOutAreCounted() {
        var log = RefusalLog(window: 60, perWindow: 3)
        var logged = 0
        for i in 0..<100 {
            if case .log = log.record(R(principal: "scanner\(i)", reason: "unknown_principal", remote: "192.0.2.1"), now: Double(i) / 10) {
                logged += 1
            }
        }
        #expect(logged == 3)
        #expect(log.suppressed == 97)
        // After the window the next line carries the count of the left out.
        #expect(log.record(R(principal: "late", reason: "bad_signature", remote: "192.0.2.1"), now: 70) == .log(suppressed: 97))
        #expect(log.suppressed == 0)
        // The memory of what was logged stays bounded.
        #expect(log.lastLogged.count <= 4 * 3 + 1)
    }
}

/// A refused signed request reaches the refusal log from the router, with the principal and
/// the reason, and a repeat is counted but not logged again.
@Suite(.timeLimit(.minutes(2))) struct RefusalWiringTests {
    @Test func aBadSignatureIsLoggedOnceAndCountedEachTime() async throws {
        try await RouterRig.run { rig in
            let impostor = Caller(rig: rig, signer: Signer(userId: "admin", key: TestKeys.spare), org: RouterRig.org)
            for _ in 0..<2 {
                let r = try await impostor.send("GET", "pushy/node_states")
                #expect(r.status == 401)
            }
            let unknown = Caller(rig: rig, signer: Signer(userId: "nobody", key: TestKeys.spare), org: RouterRig.org)
            #expect(try await unknown.send("GET", "pushy/jobs").status == 401)
            let counts = rig.engine.refusals.snapshot
            #expect(counts.byReason == ["bad_signature": 2, "unknown_principal": 1])
            #expect(counts.logged == 2)
            #expect(counts.lastLogged?.principal == "nobody" && counts.lastLogged?.reason == "unknown_principal")
            // A good request is no refusal.
            try await rig.admin.ok("GET", "pushy/node_states")
            #expect(rig.engine.refusals.snapshot.byReason.values.reduce(0, +) == 3)
        }
    }
}
