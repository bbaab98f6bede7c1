import PushyCore
import Testing

/// The agent's wait for its first command message: 4 s, doubling while sessions stay silent.
@Suite(.timeLimit(.minutes(1))) struct CommandSilenceTests {
    @Test func doublesUpToTheMaximumAndAMessageResetsIt() {
        var s = CommandSilence()
        var limits = [s.limit]
        for _ in 0..<6 {
            s.expired()
            limits.append(s.limit)
        }
        #expect(limits == [4, 8, 16, 32, 60, 60, 60])
        s.heard()
        #expect(s.limit == 4)
        s.expired()
        #expect(s.limit == 8)
    }

    @Test func aMaximumBelowTheFirstIsTheFirst() {
        var s = CommandSilence(first: 10, maximum: 5)
        s.expired()
        #expect(s.limit == 10)
    }
}
