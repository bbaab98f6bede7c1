import FoundationEssentials
import CZMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The server's ZeroMQ side: a bound ROUTER (command channel) and a bound PUB (heartbeat
/// broadcast), both owned by one dedicated I/O thread that polls them, the optional ZAP
/// handler, the optional connection monitors (`Options.connectionBudget`) and a wake signal.
///
/// Any thread or task may call `send`, `sendBatch` and `publish`: they only queue the work
/// and wake the thread, never block. Received messages arrive on `inbound` in batches (one
/// per poll cycle; iterate it once) and the consumer reports each handled batch with
/// `consumed(_:)`: while more than `Options.inboundLimit` messages are unhandled the thread
/// stops reading, so libzmq's per-peer queues and then TCP push back on the agents instead of
/// memory growing. Sends that fail (vanished peer, full queue) are dropped and counted in `counters`.
public final class ZMQServerTransport: Sendable {
    enum Outbound: Sendable {
        case route(identity: [UInt8], frames: [[UInt8]])
        case publish([[UInt8]])
    }

    /// Messages from agents, in arrival order, a batch per poll cycle. Finishes after `shutdown()`.
    public let inbound: AsyncStream<[RouterMessage]>
    /// The ROUTER's resolved endpoint, e.g. `tcp://127.0.0.1:43121`.
    public let routerEndpoint: String
    /// The PUB's resolved endpoint.
    public let pubEndpoint: String
    public var routerPort: Int { Endpoint.port(of: routerEndpoint) }
    public var pubPort: Int { Endpoint.port(of: pubEndpoint) }

    private let queue: OutboundQueue<Outbound>
    private let liveCounters = AtomicCounters()
    private let thread: IOThread

    /// Binds the sockets and starts the I/O thread. Throws (e.g. `EADDRINUSE`) if a port is taken.
    public init(context: ZMQContext, options: Options) throws(ZMQError) {
        if let key = options.curveSecretKey, !CurveKeyPair.isValidKey(key) {
            throw .invalid("curveSecretKey is not a 40-character Z85 key")
        }
        if options.zapAuthorizer != nil && options.curveSecretKey == nil {
            throw .invalid("zapAuthorizer needs curveSecretKey: ZAP only screens CURVE clients")
        }
        let budget = options.connectionBudget
        // The ZAP handler must exist before the ROUTER accepts its first handshake.
        let zap = options.zapAuthorizer == nil && budget == nil
            ? nil : try ZAPHandler(context: context, authorize: options.zapAuthorizer, budget: budget)

        let router = try ZMQSocket(context: context, type: ZMQ_ROUTER)
        try router.set(ZMQ_LINGER, 0, "ZMQ_LINGER")
        try router.set(ZMQ_BACKLOG, options.backlog, "ZMQ_BACKLOG")
        try router.set(ZMQ_SNDHWM, options.routerSendHighWaterMark, "ZMQ_SNDHWM")
        try router.set(ZMQ_RCVHWM, options.routerReceiveHighWaterMark, "ZMQ_RCVHWM")
        try router.set(ZMQ_MAXMSGSIZE, int64: options.maxFrameSize, "ZMQ_MAXMSGSIZE")
        // Report unroutable sends (EHOSTUNREACH) instead of dropping them unseen.
        try router.set(ZMQ_ROUTER_MANDATORY, 1, "ZMQ_ROUTER_MANDATORY")
        // With a ZAP domain libzmq asks ZAP about NULL (plaintext) handshakes too (measured).
        if budget != nil { try router.set(ZMQ_ZAP_DOMAIN, string: ZAPHandler.domain, "ZMQ_ZAP_DOMAIN") }
        if let key = options.curveSecretKey {
            try router.set(ZMQ_CURVE_SERVER, 1, "ZMQ_CURVE_SERVER")
            try router.set(ZMQ_CURVE_SECRETKEY, string: key, "ZMQ_CURVE_SECRETKEY")
        }
        try router.bind(Endpoint.bindable(options.routerEndpoint), role: "ROUTER")

        let pub = try ZMQSocket(context: context, type: ZMQ_PUB)
        try pub.set(ZMQ_LINGER, 0, "ZMQ_LINGER")
        try pub.set(ZMQ_BACKLOG, options.backlog, "ZMQ_BACKLOG")
        try pub.set(ZMQ_SNDHWM, options.pubSendHighWaterMark, "ZMQ_SNDHWM")
        try pub.set(ZMQ_MAXMSGSIZE, int64: options.maxFrameSize, "ZMQ_MAXMSGSIZE")
        if budget != nil && options.screenSubscribers {
            try pub.set(ZMQ_ZAP_DOMAIN, string: ZAPHandler.domain, "ZMQ_ZAP_DOMAIN")
        }
        var monitors: [ConnectionMonitor] = []
        if let budget {
            monitors.append(try ConnectionMonitor(context: context, watching: router, budget: budget))
            monitors.append(try ConnectionMonitor(context: context, watching: pub, budget: budget))
        }
        try pub.bind(Endpoint.bindable(options.pubEndpoint), role: "PUB")

        routerEndpoint = try router.lastEndpoint()
        pubEndpoint = try pub.lastEndpoint()

        queue = OutboundQueue(wake: try WakeSignal())
        let (stream, continuation) = AsyncStream.makeStream(
            of: [RouterMessage].self, bufferingPolicy: .unbounded)
        inbound = stream
        let loop = ServerLoop(
            router: router, pub: pub, zap: zap, monitors: monitors, queue: queue, counters: liveCounters,
            continuation: continuation, options: options)
        thread = try IOThread { loop.run() }
    }

    deinit {
        shutdown()
    }

    /// Queues a message to one agent (`[identity] + frames` on the ROUTER). Never blocks.
    public func send(to identity: [UInt8], frames: [[UInt8]]) {
        queue.enqueue(CollectionOfOne(.route(identity: identity, frames: frames)))
    }

    /// Queues many messages with a single wake-up of the I/O thread.
    public func sendBatch(_ messages: [(identity: [UInt8], frames: [[UInt8]])]) {
        queue.enqueue(messages.lazy.map { .route(identity: $0.identity, frames: $0.frames) })
    }

    /// Queues a broadcast to every subscriber on the PUB. Never blocks.
    public func publish(_ frames: [[UInt8]]) {
        queue.enqueue(CollectionOfOne(.publish(frames)))
    }

    /// Reports that `count` messages taken from `inbound` have been handled (back-pressure).
    public func consumed(_ count: Int) {
        liveCounters.unhandled.wrappingSubtract(count, ordering: .relaxed)
    }

    /// Message counts so far.
    public var counters: TransportCounters { liveCounters.snapshot }

    /// The last moment (seconds since 1970) at which every message agents had sent was in hand:
    /// the ROUTER had nothing more to read and every message delivered on `inbound` had been
    /// reported handled. On a server that keeps up it trails the clock by at most a poll; on one
    /// starved of CPU (its I/O thread or its consumer behind) it stops, and silence after it
    /// says nothing about the agents (the engine judges liveness no later than this).
    public var inboundCaughtUpAt: Double { Double(liveCounters.caughtUp.load(ordering: .relaxed)) / 1000 }

    /// Stops the I/O thread, closes the sockets (linger 0; unsent messages are discarded)
    /// and finishes `inbound`. Idempotent; returns once the sockets are closed (unless
    /// called from the I/O thread itself, e.g. inside `zapAuthorizer`).
    public func shutdown() {
        _ = queue.stop()
        thread.join()
    }
}

/// The I/O thread's side of a server transport. Owns the sockets exclusively once the
/// thread has started, hence `@unchecked Sendable`.
private final class ServerLoop: @unchecked Sendable {
    let router: ZMQSocket
    let pub: ZMQSocket
    let zap: ZAPHandler?
    let monitors: [ConnectionMonitor]
    let queue: OutboundQueue<ZMQServerTransport.Outbound>
    let counters: AtomicCounters
    let continuation: AsyncStream<[RouterMessage]>.Continuation
    let pollTimeout: Int
    let receiveBatchLimit: Int
    let inboundLimit: Int
    let mayHold: (@Sendable (RouterMessage) -> Bool)?
    let sink: (@Sendable ([RouterMessage]) -> Void)?
    let holdMilliseconds: Int
    /// Messages held back (`Options.mayHold`), in arrival order, and when the first arrived (ms).
    var held: [RouterMessage] = []
    var heldSince = 0
    /// The same moment on the monotonic clock: how long messages have been held is measured on it,
    /// so a wall clock stepped back (NTP, a resumed VM) cannot hold them indefinitely.
    private var heldSinceMonotonic = 0
    let quietReadMilliseconds: Int
    let promptMilliseconds: Int
    /// Until when (monotonic ms) every arrival is read at once: a while after the server last
    /// sent on the ROUTER (a job's messages, whose answers must not wait).
    private var promptUntil = 0
    /// When the ROUTER was last read (monotonic ms), and whether that read emptied it.
    private var lastRead = 0
    private var lastReadDrained = true
    /// The last time (wall ms) the ROUTER was known to hold nothing: a message read later
    /// arrived after it, so it is what a new hold's `heldSince` can claim.
    private var emptyAt = 0

    init(
        router: ZMQSocket, pub: ZMQSocket, zap: ZAPHandler?, monitors: [ConnectionMonitor],
        queue: OutboundQueue<ZMQServerTransport.Outbound>, counters: AtomicCounters,
        continuation: AsyncStream<[RouterMessage]>.Continuation, options: ZMQServerTransport.Options
    ) {
        self.router = router
        self.pub = pub
        self.zap = zap
        self.monitors = monitors
        self.queue = queue
        self.counters = counters
        self.continuation = continuation
        pollTimeout = max(1, options.pollTimeoutMilliseconds)
        receiveBatchLimit = max(1, options.receiveBatchLimit)
        inboundLimit = max(1, options.inboundLimit)
        mayHold = options.mayHold
        sink = options.inboundSink
        holdMilliseconds = max(1, options.inboundHoldMilliseconds)
        quietReadMilliseconds = max(0, options.quietReadMilliseconds)
        promptMilliseconds = max(0, options.promptAfterSendMilliseconds)
    }

    static func nowMilliseconds() -> Int { Int(Date().timeIntervalSince1970 * 1000) }

    /// Milliseconds on a clock that never steps (CLOCK_MONOTONIC).
    static func monotonicMilliseconds() -> Int {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return t.tv_sec * 1000 + t.tv_nsec / 1_000_000
    }

    func run() {
        // The ZAP handler and the monitors by their notification fds: each wake-up (one per
        // heartbeat when idle) then asks only the ROUTER for its events, not four sockets. Both
        // drain their socket (receive until it is empty) whenever they run, which re-arms the fd.
        let poller = ServerPoller(wake: queue.wake, router: router, zap: zap?.socket.notificationFD,
                                  monitors: monitors.map(\.socket.notificationFD))
        // A socket's fd only signals a message that arrives after a read found it empty: a
        // monitor's inproc pipe is attached without any command, so until its first read its
        // first event would never signal. Draining both once here makes every later arrival do.
        for monitor in monitors { monitor.handlePending() }
        zap?.handlePending()
        var paused = false
        emptyAt = Self.nowMilliseconds()
        while true {
            // Back-pressure: while the consumer is behind, leave the ROUTER unread (its events
            // are not asked for) and look again shortly.
            let behind = counters.unhandled.load(ordering: .relaxed) >= inboundLimit
            if behind && !paused { counters.countPause() }
            paused = behind
            var timeout = behind ? 5 : pollTimeout
            let now = Self.monotonicMilliseconds()
            if !held.isEmpty { timeout = max(0, min(timeout, heldSinceMonotonic + holdMilliseconds - now)) }
            // Quiet: while heartbeats are held and the server has not sent on the ROUTER for a
            // while, arrivals are read together every `quietReadMilliseconds`, not one wake-up each.
            // Never past the hold: the read when it ends takes in what arrived since the last one.
            let quiet = !held.isEmpty && lastReadDrained && now >= promptUntil && now - lastRead < quietReadMilliseconds
                && now < heldSinceMonotonic + holdMilliseconds
            if quiet { timeout = max(0, min(timeout, lastRead + quietReadMilliseconds - now)) }
            let asked = !behind && !quiet
            guard let fired = poller.wait(router: asked, timeout: timeout) else {
                break  // ETERM or a broken socket: nothing more can be done
            }
            if fired.contains(.wake) { queue.wake.drain() }
            let (outbound, stopping) = queue.takeAll()
            if stopping { break }
            for message in outbound { send(message) }
            // Connection counts first, so that ZAP decides on fresh numbers. Before a ZAP
            // decision every monitor is drained whether or not it polled ready: libzmq queues a
            // connection's ACCEPTED event before its ZAP request, but the two arrive on different
            // sockets, and a request judged before its own ACCEPTED would be admitted over budget.
            let zapReady = fired.contains(.zap)
            for (i, monitor) in monitors.enumerated() where zapReady || fired.contains(.monitor(i)) {
                monitor.handlePending()
            }
            if let zap, zapReady { zap.handlePending() }
            var drained = false
            if asked {
                if fired.contains(.router) {
                    lastRead = Self.monotonicMilliseconds()
                    drained = receive()
                    lastReadDrained = drained
                } else {
                    drained = true
                }
                if drained { emptyAt = Self.nowMilliseconds() }
            }
            if !held.isEmpty, !quiet, Self.monotonicMilliseconds() - heldSinceMonotonic >= holdMilliseconds { deliverHeld() }
            // Only when the ROUTER was asked and found empty (not while quiet or behind, when
            // messages may wait in it unread).
            if asked, drained, counters.unhandled.load(ordering: .relaxed) == 0 {
                // Held messages are not in hand yet: caught up only to the first of them.
                counters.caughtUp.store(held.isEmpty ? Self.nowMilliseconds() : heldSince, ordering: .relaxed)
            }
        }
        deliverHeld()
        for monitor in monitors { monitor.close() }
        router.close()
        pub.close()
        zap?.socket.close()
        continuation.finish()
    }

    private func send(_ message: ZMQServerTransport.Outbound) {
        do {
            switch message {
            case .route(let identity, let frames):
                promptUntil = Self.monotonicMilliseconds() + promptMilliseconds
                try router.send(frames, head: identity)
            case .publish(let frames): try pub.send(frames)
            }
            counters.countSent()
        } catch {
            // EHOSTUNREACH: the peer disconnected; EAGAIN: its queue is full. Either way the
            // message is dropped — agents recover through the protocol's own timeouts.
            counters.countSendFailure()
        }
    }

    /// Reads up to a batch from the ROUTER and delivers it; true when the ROUTER had no more.
    private func receive() -> Bool {
        var batch: [RouterMessage] = []
        var drained = false
        for _ in 0..<receiveBatchLimit {
            guard var frames = try? router.receive(), !frames.isEmpty else {
                drained = true
                break
            }
            // The identity out of the array in place (no second array for the rest).
            let identity = frames.removeFirst()
            batch.append(RouterMessage(identity: identity, frames: frames))
        }
        guard !batch.isEmpty else { return drained }
        if let mayHold {
            // Connections that sent something that may not wait: all their messages go now, in
            // arrival order, after what was held of theirs. Everything else (other nodes' idle
            // heartbeats) keeps waiting, so an urgent message is not checked and handled behind
            // up to a hold's worth of heartbeats. Order is kept per connection, which is what a
            // node's messages need (the engine drops a node's late messages on a connection it
            // has replaced).
            var urgent: Set<[UInt8]> = []
            for message in batch where !mayHold(message) { urgent.insert(message.identity) }
            if !urgent.isEmpty, !held.isEmpty {
                let before = held
                held = before.filter { !urgent.contains($0.identity) }
                batch = before.filter { urgent.contains($0.identity) } + batch
            }
            var now: [RouterMessage] = [], waiting: [RouterMessage] = []
            if urgent.isEmpty {
                waiting = batch
            } else {
                for message in batch {
                    if urgent.contains(message.identity) { now.append(message) } else { waiting.append(message) }
                }
            }
            hold(waiting)
            counters.held.store(held.count, ordering: .relaxed)
            if held.count >= receiveBatchLimit { deliverHeld() }
            guard !now.isEmpty else { return drained }
            batch = now
        }
        deliver(batch)
        return drained
    }

    private func deliver(_ batch: [RouterMessage]) {
        counters.unhandled.wrappingAdd(batch.count, ordering: .relaxed)
        if let sink {
            counters.received.wrappingAdd(batch.count, ordering: .relaxed)
            sink(batch)
        } else {
            counters.deliver(batch, count: batch.count, to: continuation)
        }
    }

    /// Adds messages that may wait to those held (`Options.mayHold`).
    private func hold(_ messages: [RouterMessage]) {
        guard !messages.isEmpty else { return }
        if held.isEmpty {
            // They arrived after the ROUTER was last known empty: no later than that is claimed
            // (a read after a quiet or behind stretch finds messages that waited in it).
            heldSince = min(emptyAt, Self.nowMilliseconds())
            heldSinceMonotonic = Self.monotonicMilliseconds()
        }
        held += messages
    }

    private func deliverHeld() {
        guard !held.isEmpty else { return }
        // Not held any more before the consumer can see them (it may read the counter at once).
        counters.held.store(0, ordering: .relaxed)
        deliver(held)
        held = []
    }
}
