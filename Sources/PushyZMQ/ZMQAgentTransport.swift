import CZMQ

/// The agent's ZeroMQ side: a SUB connected to the server's PUB (subscribed to everything)
/// and a DEALER connected to the server's ROUTER, both owned by one dedicated I/O thread.
///
/// `send` may be called from any thread or task; it queues the message and wakes the thread.
/// Whether libzmq accepted it is known only on the I/O thread, so failures are reported
/// through `Options.onSendFailure` and `counters.sendFailures` rather than by `send`'s result.
public final class ZMQAgentTransport: Sendable {
    /// Broadcasts and commands from the server, in arrival order. Finishes after `close()`.
    public let inbound: AsyncStream<AgentInbound>

    private let queue: OutboundQueue<[[UInt8]]>
    private let liveCounters = AtomicCounters()
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
            sub: sub, dealer: dealer, queue: queue, counters: liveCounters,
            continuation: continuation, options: options)
        thread = try IOThread { loop.run() }
    }

    deinit {
        close()
    }

    /// Queues `frames` (normally `[header, body]`) for the DEALER. Never blocks.
    /// Returns false only when the transport is closed; a later libzmq refusal (`EAGAIN`
    /// at the high-water mark) goes to `Options.onSendFailure`.
    @discardableResult
    public func send(_ frames: [[UInt8]]) -> Bool {
        queue.enqueue(CollectionOfOne(frames))
    }

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
    let queue: OutboundQueue<[[UInt8]]>
    let counters: AtomicCounters
    let continuation: AsyncStream<AgentInbound>.Continuation
    let onSendFailure: (@Sendable (ZMQError) -> Void)?
    let pollTimeout: Int
    /// Most messages read per socket before serving the outbox again.
    let receiveBatchLimit = 256

    init(
        sub: ZMQSocket, dealer: ZMQSocket, queue: OutboundQueue<[[UInt8]]>, counters: AtomicCounters,
        continuation: AsyncStream<AgentInbound>.Continuation, options: ZMQAgentTransport.Options
    ) {
        self.sub = sub
        self.dealer = dealer
        self.queue = queue
        self.counters = counters
        self.continuation = continuation
        onSendFailure = options.onSendFailure
        pollTimeout = max(1, options.pollTimeoutMilliseconds)
    }

    func run() {
        var items = [queue.wake.pollItem, dealer.pollItem, sub.pollItem]
        while true {
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
            for frames in outbound { send(frames) }
            if items[1].revents & pollIn != 0 { receive(from: dealer, as: AgentInbound.command) }
            if items[2].revents & pollIn != 0 { receive(from: sub, as: AgentInbound.broadcast) }
        }
        sub.close()
        dealer.close()
        continuation.finish()
    }

    private func send(_ frames: [[UInt8]]) {
        do {
            try dealer.send(frames)
            counters.countSent()
        } catch {
            counters.countSendFailure()
            onSendFailure?(error)
        }
    }

    private func receive(from socket: ZMQSocket, as wrap: ([[UInt8]]) -> AgentInbound) {
        for _ in 0..<receiveBatchLimit {
            guard let frames = try? socket.receive() else { return }
            counters.deliver(wrap(frames), to: continuation)
        }
    }
}
