import FoundationEssentials
import Synchronization

/// A snapshot of a transport's message counters, for metrics and for noticing silent loss.
public struct TransportCounters: Sendable, Equatable {
    /// Messages handed to libzmq successfully.
    public var sent = 0
    /// Messages that could not be sent: unknown/vanished ROUTER peer (`EHOSTUNREACH`),
    /// high-water mark reached (`EAGAIN`) or any other send error.
    public var sendFailures = 0
    /// Guaranteed agent messages libzmq refused at first (high-water mark) and that were kept to
    /// be sent when the socket takes them again; each counted once. Not a loss.
    public var deferred = 0
    /// Messages received from the network.
    public var received = 0
    /// Received messages dropped because the inbound stream's buffer was full.
    public var inboundDropped = 0
    /// Times a server stopped reading because its consumer was `inboundLimit` messages behind.
    public var backPressurePauses = 0
    /// Messages a server transport holds back right now (`Options.mayHold`), not yet delivered.
    public var inboundHeld = 0
}

/// Live counters, updated by the I/O thread and read from anywhere.
final class AtomicCounters: Sendable {
    let sent = Atomic(0)
    let sendFailures = Atomic(0)
    let deferred = Atomic(0)
    let received = Atomic(0)
    let inboundDropped = Atomic(0)
    let backPressurePauses = Atomic(0)
    let held = Atomic(0)
    /// Messages delivered but not yet reported handled (server transport back-pressure).
    let unhandled = Atomic(0)
    /// Wall-clock milliseconds when the server transport last had nothing left to read and
    /// nothing delivered unhandled (see `ZMQServerTransport.caughtUpAt`).
    let caughtUp = Atomic(Int(Date().timeIntervalSince1970 * 1000))

    var snapshot: TransportCounters {
        TransportCounters(
            sent: sent.load(ordering: .relaxed),
            sendFailures: sendFailures.load(ordering: .relaxed),
            deferred: deferred.load(ordering: .relaxed),
            received: received.load(ordering: .relaxed),
            inboundDropped: inboundDropped.load(ordering: .relaxed),
            backPressurePauses: backPressurePauses.load(ordering: .relaxed),
            inboundHeld: held.load(ordering: .relaxed))
    }

    func countSent() { sent.wrappingAdd(1, ordering: .relaxed) }
    func countSendFailure() { sendFailures.wrappingAdd(1, ordering: .relaxed) }
    func countDeferral() { deferred.wrappingAdd(1, ordering: .relaxed) }
    func countPause() { backPressurePauses.wrappingAdd(1, ordering: .relaxed) }

    /// Yields to the stream and counts a drop when the buffer policy refused it.
    func deliver<T: Sendable>(_ value: T, count: Int = 1, to continuation: AsyncStream<T>.Continuation) {
        received.wrappingAdd(count, ordering: .relaxed)
        if case .dropped = continuation.yield(value) {
            inboundDropped.wrappingAdd(count, ordering: .relaxed)
        }
    }
}
