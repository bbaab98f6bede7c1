import Foundation
import PushyProtocol
import Testing

@testable import PushyCore

/// The agent keeps every job message until a socket has taken it (issue 11): what a closed
/// connection did not hand over is sent again, in order, on the next one.
@Suite(.timeLimit(.minutes(1))) struct AgentOutboxTests {
    static func message(_ type: AgentMessageType, _ job: String? = "J") -> AgentMessage {
        AgentMessage(node: "n", client: "n", org: "o", type: type, sequence: 0, timestamp: Date(timeIntervalSince1970: 0),
                     incarnationId: "i", jobId: job, jobState: type == .heartbeat ? .idle : nil)
    }

    static func types(_ messages: [AgentMessage]) -> [String] { messages.map(\.type) }

    @Test func messagesTheSocketDidNotTakeAreSentAgainInOrder() {
        var box = AgentOutbox()
        // The end of a job: output, output, succeeded — the socket took only the first.
        box.sending(Self.message(.output), handedOver: 0)
        box.sending(Self.message(.heartbeat, nil), handedOver: 0)
        box.sending(Self.message(.output), handedOver: 0)
        box.sending(Self.message(.succeeded), handedOver: 0)
        #expect(box.inFlight.map(\.number) == [1, 2, 3], "heartbeats are not kept")
        #expect(box.connectionClosed(handedOver: 1) == 2)
        #expect(Self.types(box.takeCarryOver()) == ["output", "succeeded"])
        #expect(box.takeCarryOver().isEmpty)
    }

    @Test func whatTheSocketTookIsForgotten() {
        var box = AgentOutbox()
        box.sending(Self.message(.ackCommit), handedOver: 0)
        box.sending(Self.message(.ackRun), handedOver: 1)
        #expect(box.inFlight.map(\.number) == [2])
        box.sending(Self.message(.succeeded), handedOver: 2)
        #expect(box.inFlight.map(\.number) == [3])
        #expect(box.connectionClosed(handedOver: 3) == 0)
        #expect(box.takeCarryOver().isEmpty)
    }

    @Test func messagesWithoutAConnectionWaitBehindTheUnsentOnes() {
        var box = AgentOutbox()
        box.sending(Self.message(.ackRun), handedOver: 0)
        #expect(box.connectionClosed(handedOver: 0) == 1)
        // Reconnecting: the process exits meanwhile.
        box.hold(Self.message(.output))
        box.hold(Self.message(.succeeded))
        box.hold(Self.message(.heartbeat, nil))
        #expect(Self.types(box.takeCarryOver()) == ["ack_run", "output", "succeeded"])
    }

    @Test func numbersStartAgainOnEachConnection() {
        var box = AgentOutbox()
        box.sending(Self.message(.ackCommit), handedOver: 0)
        box.sending(Self.message(.ackRun), handedOver: 0)
        box.connectionClosed(handedOver: 2)
        // The new transport counts from zero: its first message is number 1.
        box.sending(Self.message(.succeeded), handedOver: 0)
        #expect(box.inFlight.map(\.number) == [1])
        #expect(box.connectionClosed(handedOver: 0) == 1)
        #expect(Self.types(box.takeCarryOver()) == ["succeeded"])
    }
}
