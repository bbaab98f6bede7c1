import Testing

@testable import PushyCore

@Suite(.timeLimit(.minutes(2))) struct LivenessTests {
    func expectAlive(_ node: inout NodeLiveness, evaluateAt t: Double, sourceLocation: SourceLocation = #_sourceLocation) {
        let alive = node.evaluate(at: t)
        #expect(alive, sourceLocation: sourceLocation)
    }

    func expectDead(_ node: inout NodeLiveness, evaluateAt t: Double, sourceLocation: SourceLocation = #_sourceLocation) {
        let alive = node.evaluate(at: t)
        #expect(!alive, sourceLocation: sourceLocation)
    }

    func expectAlive(_ node: inout NodeLiveness, heartbeatAt t: Double, sourceLocation: SourceLocation = #_sourceLocation) {
        let alive = node.heartbeat(at: t)
        #expect(alive, sourceLocation: sourceLocation)
    }

    /// One beat in the middle of each of `intervals` intervals starting at `start`; returns the next interval start.
    func beatSteadily(_ node: inout NodeLiveness, from start: Double, intervals: Int) -> Double {
        for i in 0..<intervals { expectAlive(&node, heartbeatAt: start + Double(i) * 10 + 5) }
        return start + Double(intervals) * 10
    }

    @Test func startsAtTwiceTheThreshold() {
        let node = NodeLiveness(now: 100, parameters: LivenessParameters())
        #expect(node.average == 1.2)
        #expect(node.parameters == LivenessParameters(interval: 10, decayWindow: 4, threshold: 0.6))
    }

    @Test func steadyBeatsStayAliveNearOne() {
        var node = NodeLiveness(now: 0)
        let end = beatSteadily(&node, from: 0, intervals: 200)
        expectAlive(&node, evaluateAt: end)
        #expect(abs(node.average - 1.0) < 1e-9)
    }

    @Test func deadTwoToThreeIntervalsAfterTheLastBeat() {
        var node = NodeLiveness(now: 0)
        let end = beatSteadily(&node, from: 0, intervals: 200)  // last beat at end - 5
        expectAlive(&node, evaluateAt: end)  // the last beat's interval folded in: ~1.0
        #expect(abs(node.average - 1.0) < 1e-9)
        expectAlive(&node, evaluateAt: end + 10)  // one empty interval
        #expect(abs(node.average - 0.75) < 1e-9)
        expectDead(&node, evaluateAt: end + 20)  // second empty interval
        #expect(abs(node.average - 0.5625) < 1e-9)
    }

    @Test func evaluationPartWayThroughAnIntervalChangesNothing() {
        var node = NodeLiveness(now: 0)
        node.heartbeat(at: 5)
        expectAlive(&node, evaluateAt: 9.999)
        #expect(node.average == 1.2)
        #expect(node.count == 1)
        expectAlive(&node, evaluateAt: 10)
        #expect(node.average == 1.2 * 0.75 + 0.25)
        #expect(node.count == 0)
        #expect(node.intervalStart == 10)
    }

    /// Whatever the phase of a node's beats, it is judged dead 25 s (2.5 intervals) after its
    /// last beat: the first beat of each interval centres the interval on itself.
    @Test(arguments: [0.1, 1, 3, 5, 7, 9, 9.9])
    func deadTwentyFiveSecondsAfterTheLastBeatAtAnyPhase(phase: Double) {
        var node = NodeLiveness(now: 0)
        var last = 0.0
        for i in 0..<30 {
            last = Double(i) * 10 + phase
            expectAlive(&node, heartbeatAt: last)
        }
        #expect(node.intervalStart == last - 5)
        expectAlive(&node, evaluateAt: last + 24.9)
        expectDead(&node, evaluateAt: last + 25)
    }

    @Test func beatsUpToHalfAnIntervalOffScheduleLeaveNoIntervalEmpty() {
        var node = NodeLiveness(now: 0)
        var t = 5.0
        for i in 0..<40 {
            t += 10 + (i % 2 == 0 ? 4.5 : -4.5)  // alternately late and early by 4.5 s
            expectAlive(&node, heartbeatAt: t)
        }
        #expect(node.average > 0.99)
    }

    @Test func oneMissedBeatDoesNotKill() {
        var node = NodeLiveness(now: 0)
        var t = beatSteadily(&node, from: 0, intervals: 50)
        t += 10  // interval with no beat
        for i in 0..<20 {
            expectAlive(&node, heartbeatAt: t + Double(i) * 10 + 5)
        }
        expectAlive(&node, evaluateAt: t + 200)
    }

    @Test func doubledBeatsBankNoCredit() {
        var node = NodeLiveness(now: 0)
        let end = beatSteadily(&node, from: 5, intervals: 8)
        // Two beats in one interval (jitter) still leave the average at 1.0 …
        node.heartbeat(at: end + 1)
        node.heartbeat(at: end + 2)
        expectAlive(&node, evaluateAt: end + 5 + 10)
        #expect(node.average <= 1.0)
        // … so the node dies 3 intervals after its last beat's interval began, as any other.
        expectDead(&node, evaluateAt: end + 30)
    }

    @Test func jumpOverManyIntervalsAtOnce() {
        var node = NodeLiveness(now: 0)
        node.heartbeat(at: 5)
        // 1.2·0.75 + 0.25 = 1.15, then two empty intervals: 0.647, still alive.
        expectAlive(&node, evaluateAt: 35)
        #expect(abs(node.average - 1.15 * 0.5625) < 1e-12)
        #expect(node.intervalStart == 30)
        expectDead(&node, evaluateAt: 40)
        #expect(abs(node.average - 1.15 * 0.421875) < 1e-12)
        // A node silent for a year decays to (almost) nothing without looping per interval.
        expectDead(&node, evaluateAt: 86_400 * 365)
        #expect(node.average >= 0 && node.average < 1e-100)
    }

    @Test func newNodeWithoutBeatsDiesAfterThreeIntervals() {
        var node = NodeLiveness(now: 0)
        expectAlive(&node, evaluateAt: 10)  // 0.9
        expectAlive(&node, evaluateAt: 20)  // 0.675
        expectDead(&node, evaluateAt: 30)  // 0.50625
    }

    @Test func burstOfHeartbeatsStaysFinite() {
        var node = NodeLiveness(now: 0)
        for _ in 0..<100_000 { node.heartbeat(at: 5) }
        #expect(node.count == 100_000)
        expectAlive(&node, evaluateAt: 10)
        // A burst counts as one beat: no credit is banked (Pushy caps the average at one per interval).
        #expect(node.average == 1.2 * 0.75 + 1.0 / 4)
        #expect(node.average.isFinite)
        // So it dies as a new node with one beat would: 1.15 → 0.8625 → 0.647 → 0.485.
        expectAlive(&node, evaluateAt: 30)
        expectDead(&node, evaluateAt: 40)
    }

    @Test func clockGoingBackwardsIsIgnored() {
        var node = NodeLiveness(now: 100)
        node.heartbeat(at: 50)
        expectAlive(&node, evaluateAt: 0)
        #expect(node.average == 1.2)
        #expect(node.intervalStart == 100)
        expectAlive(&node, evaluateAt: .nan)
        expectAlive(&node, evaluateAt: .infinity)
        #expect(node.intervalStart == 100)
    }

    @Test func customParameters() {
        var node = NodeLiveness(now: 0, parameters: LivenessParameters(interval: 1, decayWindow: 2, threshold: 0.5))
        #expect(node.average == 1.0)
        node.heartbeat(at: 0.5)
        expectAlive(&node, evaluateAt: 1)
        #expect(node.average == 1.0)  // 1·0.5 + 1·0.5
        expectDead(&node, evaluateAt: 3)  // 1·0.5 → 0.5, then ·0.5 → 0.25
        #expect(node.average == 0.25)
    }
}
