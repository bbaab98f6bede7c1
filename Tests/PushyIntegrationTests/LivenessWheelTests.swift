@testable import PushyServer
import Testing

@Suite(.timeLimit(.minutes(2))) struct LivenessWheelTests {
    @Test func keysComeOutOnceWhenDueAndRescheduleMoves() {
        var w = LivenessWheel<String>()
        w.schedule("a", at: 10.2)
        w.schedule("b", at: 12)
        w.schedule("a", at: 10.7)          // same second: no duplicate
        #expect(w.due(at: 10.9).isEmpty)    // "a" is due at 11
        #expect(w.due(at: 11.0) == ["a"])
        #expect(w.due(at: 11.5).isEmpty)
        w.schedule("b", at: 20)            // moved: the old entry at 12 is stale
        #expect(w.due(at: 15).isEmpty)
        #expect(w.due(at: 20) == ["b"])
        #expect(w.count == 0)
        w.schedule("c", at: 5)             // in the drained past: comes out at the next drain
        #expect(w.due(at: 21) == ["c"])
    }
}
