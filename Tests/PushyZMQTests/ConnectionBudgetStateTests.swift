import Testing
import PushyZMQ

/// The budget's pure logic: events in, gates and notices out.
@Suite(.timeLimit(.minutes(3))) struct ConnectionBudgetStateTests {
    typealias S = ConnectionBudgetState

    @Test(arguments: [
        (20_000, 19_600),  // reserve 2 % = 400
        (1024, 768),       // reserve at least 256
        (100, 2),          // never below one agent
    ])
    func defaultBudgetKeepsAReserve(fileLimit: Int, expected: Int) {
        #expect(S.defaultBudget(fileLimit: fileLimit) == expected)
    }

    /// A crowd asking for configs at once must not all see the same low `open` and overshoot
    /// into the file limit: each config promises two connections until they arrive or expire.
    @Test func configsPromiseConnectionsUntilTheyArriveOrExpire() {
        var s = S(budget: 6)
        let first = s.grantAgent(now: 0), second = s.grantAgent(now: 0), third = s.grantAgent(now: 1)
        #expect(first && second && third)
        #expect(s.promised == 6 && s.open == 0)
        let crowd = s.grantAgent(now: 1)
        #expect(!crowd)                          // nothing open yet, but all of it is promised
        for _ in 0..<4 { _ = s.handle(.accepted, now: 2) }
        #expect(s.open == 4 && s.promised == 2)  // arrivals fulfil the oldest promises
        let early = s.grantAgent(now: 3)
        #expect(!early)
        // The third agent never connects: its promise lapses and the room is free again.
        let later = s.grantAgent(now: 1 + S.grantLifetime)
        #expect(later)
        #expect(s.promised == 2 && s.open == 4)
        // Connections without a promise (an agent reconnecting by itself) just count as open.
        _ = s.handle(.accepted, now: 20)
        _ = s.handle(.accepted, now: 20)
        _ = s.handle(.accepted, now: 20)
        #expect(s.open == 7 && s.promised == 0)
    }

    @Test func gatesAndHysteresisAtBudgetFour() {
        var s = S(budget: 4)
        #expect(s.resumeBelow == 3)
        // Table: event, expected notice, open after, refusing after, admits agent, admits connection.
        let steps: [(S.Event, S.Notice?, Int, Bool, Bool, Bool)] = [
            (.accepted, nil, 1, false, true, true),
            (.accepted, nil, 2, false, true, true),
            (.accepted, nil, 3, false, false, true),
            (.accepted, .budgetReached(open: 4, budget: 4, resumeBelow: 3), 4, true, false, true),
            (.accepted, nil, 5, true, false, false),     // over budget: ZAP refuses it
            (.disconnected, nil, 4, true, false, true),  // ...and it goes away
            (.disconnected, nil, 3, true, false, true),  // hysteresis: still "refusing"
            (.disconnected, .resumed(open: 2, budget: 4), 2, false, true, true),
            (.accepted, nil, 3, false, false, true),
            (.accepted, .budgetReached(open: 4, budget: 4, resumeBelow: 3), 4, true, false, true),
        ]
        for (i, (event, notice, open, refusing, agent, connection)) in steps.enumerated() {
            #expect(s.handle(event, now: Double(i)) == notice, "step \(i)")
            #expect(s.open == open && s.refusing == refusing, "step \(i)")
            #expect(s.admitsAgent == agent && s.admitsConnection == connection, "step \(i)")
        }
    }

    @Test func largeBudgetResumesBelowNinetyEightPercent() {
        var s = S(budget: 19_600)
        #expect(s.resumeBelow == 19_208)
        for _ in 0..<19_600 { _ = s.handle(.accepted, now: 0) }
        #expect(s.refusing)
        var resumedAt: Int?
        while resumedAt == nil, s.open > 0 {
            if case .resumed = s.handle(.disconnected, now: 0) { resumedAt = s.open }
        }
        #expect(resumedAt == 19_207)
    }

    @Test func refusalsAreCountedEachButReportedAtMostEveryInterval() {
        var s = S(budget: 2)
        for _ in 0..<3 { _ = s.handle(.accepted, now: 0) }
        #expect(s.handle(.refused, now: 100) == .refusals(count: 1, open: 3, budget: 2))
        #expect(s.handle(.refused, now: 101) == nil)
        #expect(s.handle(.refused, now: 105) == nil)
        #expect(s.handle(.refused, now: 110) == .refusals(count: 3, open: 3, budget: 2))
        #expect(s.refusedTotal == 4)
    }

    @Test func acceptFailuresAreCountedAndRateLimited() {
        var s = S(budget: 10)
        #expect(s.handle(.acceptFailed(errno: 24), now: 0) == .acceptFailures(count: 1, errno: 24))
        for t in 1...5 { #expect(s.handle(.acceptFailed(errno: 24), now: Double(t)) == nil) }
        #expect(s.handle(.acceptFailed(errno: 23), now: 10) == .acceptFailures(count: 6, errno: 23))
        #expect(s.acceptFailures == 7)
        #expect(s.open == 0)
    }

    @Test func strayDisconnectNeverGoesNegativeAndBudgetIsAtLeastOneAgent() {
        var s = S(budget: 0)
        #expect(s.budget == 2)
        #expect(s.handle(.disconnected, now: 0) == nil)
        #expect(s.open == 0)
    }
}
