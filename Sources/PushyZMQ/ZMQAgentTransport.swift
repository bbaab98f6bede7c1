import CZMQ
import Synchronization

/// The agent's ZeroMQ side: a SUB connected to the server's PUB (subscribed to everything)
/// and a DEALER connected to the server's ROUTER, both owned by one dedicated I/O thread.
///
/// `send` may be called from any thread or task; it queues the message and wakes the thread.
/// A `.guaranteed` message (job acks, results, output) is never dropped: when libzmq refuses
/// it (`EAGAIN` at the DEALER's high-water mark of 3, which three back-to-back sends can reach
/// even on an idle connection) it stays at the head of the queue and is sent when the socket
/// takes it again (`ZMQ_POLLOUT`), in order. `handedOver` counts the guaranteed messages libzmq
/// has taken, so a caller can tell which were not before `close()` and send them again on its
/// next connection. A `.bestEffort` message (heartbeats) is dropped when refused, counted in
/// `counters.sendFailures` and reported to `Options.onSendFailure`.
public final class ZMQAgentTransport: Sendable {
    /// Broadcasts and commands from the server, in arrival order. Finishes after `close()`.
    public let inbound: AsyncStream<AgentInbound>

    private let queue: OutboundQueue<AgentOutbound>
    private let liveCounters = AtomicCounters()
    private let progress = DeliveryProgress()
    private let thread: IOThread

    /// Creates and connects the sockets (connection itself happens in the background and
    /// is retried by libzmq) and starts the I/O thread.
    public init(context: ZMQContext, options: Options) throws(ZMQError) {
        let sub = try ZMQSocket(context: context, type: ZMQ_SUB)
        try sub.set(ZMQ_LINGER, 0, "ZMQ_LINGER")
        try sub.set(ZMQ_RCVHWM, options.subReceiveHighWaterMark, "ZMQ_RCVHWM")
        try sub.set(ZMQ_SUBSCRIBE, bytes: [], "ZMQ_SUBSCRIBE")
        try sub.connect(options.subEndpoint, role: "SUB")

        let dealer = try ZMQSocket(context: context, type: ZMQ_DEALER)
        try dealer.set(ZMQ_LINGER, 0, "ZMQ_LINGER")
        try dealer.set(ZMQ_RCVHWM, 0, "ZMQ_RCVHWM")
        try dealer.set(ZMQ_SNDHWM, options.sendHighWaterMark, "ZMQ_SNDHWM")
        if let serverKey = options.curveServerKey {
            guard CurveKeyPair.isValidKey(serverKey) else {
                throw .invalid("curveServerKey is not a 40-character Z85 key")
            }
            guard let pair = options.curveKeyPair else {
                throw .invalid("curveServerKey needs curveKeyPair (the agent's own keys)")
            }
            try dealer.set(ZMQ_CURVE_SERVERKEY, string: serverKey, "ZMQ_CURVE_SERVERKEY")
            try dealer.set(ZMQ_CURVE_PUBLICKEY, string: pair.publicKey, "ZMQ_CURVE_PUBLICKEY")
            try dealer.set(ZMQ_CURVE_SECRETKEY, string: pair.secretKey, "ZMQ_CURVE_SECRETKEY")
        }
        try dealer.connect(options.dealerEndpoint, role: "DEALER")

        queue = OutboundQueue(wake: try WakeSignal())
        let (stream, continuation) = AsyncStream.makeStream(
            of: AgentInbound.self, bufferingPolicy: options.inboundBuffering.policy(for: AgentInbound.self))
        inbound = stream
        let loop = AgentLoop(
            sub: sub, dealer: dealer, queue: queue, counters: liveCounters, progress: progress,
            continuation: continuation, options: options)
        thread = try IOThread { loop.run() }
    }

    deinit {
        close()
    }

    /// Queues `frames` (normally `[header, body]`) for the DEALER. Never blocks.
    /// Returns false only when the transport is closed (then nothing was queued). A
    /// `.guaranteed` message waits in the queue until libzmq takes it; a `.bestEffort` one
    /// refused by libzmq is dropped, counted and reported to `Options.onSendFailure`.
    @discardableResult
    public func send(_ frames: [[UInt8]], delivery: Delivery = .guaranteed) -> Bool {
        queue.enqueue(CollectionOfOne(AgentOutbound(frames: frames, delivery: delivery)))
    }

    /// How a queued message is treated when libzmq cannot take it.
    public enum Delivery: Sendable {
        /// Kept, in order, until the socket takes it (job messages).
        case guaranteed
        /// Dropped (and counted) when the socket refuses it (heartbeats: the next one follows).
        case bestEffort
    }

    /// Guaranteed messages libzmq has taken so far, in the order they were sent: the first
    /// `handedOver` guaranteed sends are on their way; after `close()` the rest never left.
    public var handedOver: Int { progress.handedOver.load(ordering: .acquiring) }

    /// Messages queued or waiting for the socket (what a sender may want to pace against).
    public var backlog: Int { progress.backlog.load(ordering: .relaxed) }

    /// Message counts so far.
    public var counters: TransportCounters { liveCounters.snapshot }

    /// Stops the I/O thread, closes both sockets (linger 0) and finishes `inbound`.
    /// Idempotent; returns once the sockets are closed.
    public func close() {
        _ = queue.stop()
        thread.join()
    }
}

/// The I/O thread's side of an agent transport; owns the sockets once the thread started.
private final class AgentLoop: @unchecked Sendable {
    let sub: ZMQSocket
    let dealer: ZMQSocket
    let queue: OutboundQueue<AgentOutbound>
    let counters: AtomicCounters
    let progress: DeliveryProgress
    let continuation: AsyncStream<AgentInbound>.Continuation
    let onSendFailure: (@Sendable (ZMQError) -> Void)?
    let pollTimeout: Int
    /// Most messages read per socket before serving the outbox again.
    let receiveBatchLimit = 256

    init(
        sub: ZMQSocket, dealer: ZMQSocket, queue: OutboundQueue<AgentOutbound>, counters: AtomicCounters,
        progress: DeliveryProgress, continuation: AsyncStream<AgentInbound>.Continuation, options: ZMQAgentTransport.Options
    ) {
        self.sub = sub
        self.dealer = dealer
        self.queue = queue
        self.counters = counters
        self.progress = progress
        self.continuation = continuation
        onSendFailure = options.onSendFailure
        pollTimeout = max(1, options.pollTimeoutMilliseconds)
    }

    /// Messages taken from the queue that libzmq has not accepted yet, oldest first.
    private var pending: [AgentOutbound] = []
    private var pendingHead = 0

    func run() {
        var items = [queue.wake.pollItem, dealer.pollItem, sub.pollItem]
        while true {
            // While something waits for the DEALER, also wake when it can take more.
            items[1].events = pendingHead < pending.count ? pollIn | pollOut : pollIn
            let ready = items.withUnsafeMutableBufferPointer {
                zmq_poll($0.baseAddress, Int32($0.count), pollTimeout)
            }
            if ready < 0 {
                if zmq_errno() == EINTR { continue }
                break
            }
            if items[0].revents & pollIn != 0 { queue.wake.drain() }
            let (outbound, stopping) = queue.takeAll()
            if stopping { break }
            for item in outbound { append(item) }
            flush()
            if items[1].revents & pollIn != 0 { receive(from: dealer, as: AgentInbound.command) }
            if items[2].revents & pollIn != 0 { receive(from: sub, as: AgentInbound.broadcast) }
        }
        sub.close()
        dealer.close()
        continuation.finish()
    }

    /// Queues one message behind the waiting ones. A heartbeat replaces one still waiting behind
    /// a refused job message (only the newest says anything; a burst of stale ones would not).
    private func append(_ item: AgentOutbound) {
        if item.delivery == .bestEffort, pendingHead < pending.count, pending[pendingHead].refusedBefore,
           let old = pending[pendingHead...].lastIndex(where: { $0.delivery == .bestEffort }) {
            pending.remove(at: old)
            counters.countSendFailure()
        }
        pending.append(item)
    }

    /// Hands waiting messages to libzmq in order until it refuses one. A refused guaranteed
    /// message stays at the head (everything behind it waits, so order holds); a refused
    /// best-effort one is dropped and reported.
    private func flush() {
        while pendingHead < pending.count {
            let next = pending[pendingHead]
            do {
                try dealer.send(next.frames)
                counters.countSent()
                if next.delivery == .guaranteed { progress.handedOver.add(1, ordering: .releasing) }
            } catch {
                if next.delivery == .guaranteed {
                    if !next.refusedBefore {
                        // Counted once per message, not once per retry.
                        pending[pendingHead].refusedBefore = true
                        counters.countDeferral()
                    }
                    break
                }
                counters.countSendFailure()
                onSendFailure?(error)
            }
            pendingHead += 1
        }
        if pendingHead == pending.count {
            pending.removeAll(keepingCapacity: false)
            pendingHead = 0
        } else if pendingHead > 64, pendingHead * 2 > pending.count {
            pending.removeFirst(pendingHead)
            pendingHead = 0
        }
        progress.backlog.store(pending.count - pendingHead + queue.count, ordering: .relaxed)
    }

    private func receive(from socket: ZMQSocket, as wrap: ([[UInt8]]) -> AgentInbound) {
        for _ in 0..<receiveBatchLimit {
            guard let frames = try? socket.receive() else { return }
            counters.deliver(wrap(frames), to: continuation)
        }
    }
}

/// One message waiting for the DEALER.
struct AgentOutbound: Sendable {
    var frames: [[UInt8]]
    var delivery: ZMQAgentTransport.Delivery
    /// Whether libzmq has refused it once already (counted as deferred once).
    var refusedBefore = false
}

/// What the I/O thread has done with the guaranteed messages, readable from any thread.
final class DeliveryProgress: Sendable {
    /// Guaranteed messages libzmq has taken.
    let handedOver = Atomic(0)
    /// Messages queued or pending at the last flush.
    let backlog = Atomic(0)
}
