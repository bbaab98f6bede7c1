import PushyProtocol
@testable import PushyServer
import Testing

/// A feed's live stream (`LiveFeed`): a reader too far behind has its feed ended, never a gap in
/// what it gets (it resumes after the last event with `Last-Event-ID`); keep-alives share the
/// stream and are simply not sent when it is full.
@Suite(.timeLimit(.minutes(1))) struct LiveFeedTests {
    static func event(_ n: Int) -> FeedEvent { FeedEvent(name: "output", id: "job-\(n)", data: ["n": .number(Double(n))]) }

    @Test func aReaderTooFarBehindGetsEveryEventUpToItsLimitThenTheEnd() async {
        let live = LiveFeed(limit: 3)
        #expect(live.continuation.deliver(Self.event(1)))
        #expect(live.continuation.deliver(Self.event(2)))
        if case .enqueued = live.continuation.yield(.keepAlive) {} else { Issue.record("the keep-alive was not queued") }
        // Full: the next event ends the feed instead of pushing out an earlier one.
        #expect(live.continuation.deliver(Self.event(3)) == false)
        #expect(live.continuation.deliver(Self.event(4)) == false)
        var got: [String] = []
        for await e in live.events { got.append(e.isKeepAlive ? "keepalive" : e.id) }
        #expect(got == ["job-1", "job-2", "keepalive"])
    }

    @Test func aKeepAliveIsNotSentIntoAFullBuffer() async {
        let live = LiveFeed(limit: 2)
        #expect(live.continuation.deliver(Self.event(1)))
        #expect(live.continuation.deliver(Self.event(2)))
        if case .dropped(let e) = live.continuation.yield(.keepAlive) { #expect(e.isKeepAlive) } else { Issue.record("not dropped") }
        live.continuation.finish()
        var got: [String] = []
        for await e in live.events { got.append(e.id) }
        #expect(got == ["job-1", "job-2"])
    }

    @Test func aKeepAliveIsACommentAndNoEventIsOne() {
        #expect(FeedEvent.keepAlive.text == ":keepalive\n\n")
        let unnamed = FeedEvent(name: "", id: "org-1", data: [:])
        #expect(!unnamed.isKeepAlive)
        #expect(unnamed.text.hasPrefix("event: \nid: org-1\n"))
    }
}
