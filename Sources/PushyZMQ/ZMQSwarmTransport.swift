#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZMQ

/// Receives a `ZMQSwarmTransport`'s events. Every method is called on the transport's one
/// I/O thread, one at a time, so an implementation may keep its state unsynchronised as long
/// as only these callbacks (and work passed to `perform`) touch it. Must not block.
public protocol ZMQSwarmHandler: AnyObject, Sendable {
    /// A whole message arrived for `slot` on its SUB (`.broadcast`) or DEALER (`.command`).
    func received(slot: Int, channel: ZMQSwarmTransport.Channel, frames: [[UInt8]])
    /// Called about every `Options.tickMilliseconds` (timers, batched heartbeats).
    func tick()
    /// `open(slot:...)` failed (e.g. `EMFILE`); the slot stays closed.
    func openFailed(slot: Int, error: ZMQError)
    /// libzmq refused a message for `slot` (`EAGAIN` at the high-water mark, ...).
    func sendFailed(slot: Int, error: ZMQError)
}

/// Many agents' connections on ONE I/O thread: each slot is a SUB (subscribed to everything)
/// plus a DEALER, set up as `ZMQAgentTransport` sets up its pair. A thread per agent is far
/// too many threads for a swarm of thousands of simulated agents, so a swarm shards its agents
/// over a few of these. On Linux readiness comes from epoll (O(ready sockets) per wake-up);
/// elsewhere from `zmq_poll`, which is O(slots) per wake-up — keep such shards small.
///
/// `open`, `close`, `send` and `perform` may be called from any thread; they are queued and
/// applied on the I/O thread in order.
public final class ZMQSwarmTransport: Sendable {
    public enum Channel: Sendable { case broadcast, command }

    public struct Options: Sendable {
        /// DEALER `ZMQ_SNDHWM` (the agent's 3).
        public var sendHighWaterMark: Int32 = 3
        /// Period of `ZMQSwarmHandler.tick()`, and the longest poll sleep. Every wake-up polls
        /// all of the thread's sockets (about 1 µs each), so a short tick costs CPU per socket.
        public var tickMilliseconds: Int = 100
        /// `ZMQ_RECONNECT_IVL` / `ZMQ_RECONNECT_IVL_MAX` for both sockets. A swarm with libzmq's
        /// 100 ms would hammer a stopped server with tens of thousands of connects per second.
        public var reconnectMilliseconds: Int32 = 1000
        public var reconnectMaxMilliseconds: Int32 = 0
        /// Most messages read from one socket per wake-up, so one busy slot cannot starve the rest.
        public var receiveBatchLimit = 64

        public init() {}
    }

    /// CURVE settings for a slot's DEALER (the SUB is never encrypted, spec 4.5).
    public struct Curve: Sendable {
        /// The server's Z85 public key (config `curve_public_key`).
        public var serverKey: String
        /// The agent's own key pair (its public key went to the server as `ccpk`).
        public var keyPair: CurveKeyPair

        public init(serverKey: String, keyPair: CurveKeyPair) {
            self.serverKey = serverKey
            self.keyPair = keyPair
        }
    }

    enum Operation: Sendable {
        case open(slot: Int, sub: String, dealer: String, curve: Curve?)
        case close(slot: Int)
        case send(slot: Int, frames: [[UInt8]])
        case call(@Sendable () -> Void)
    }

    private let queue: OutboundQueue<Operation>
    private let liveCounters = AtomicCounters()
    private let thread: IOThread

    /// Starts the I/O thread; no slot is open yet.
    public init(context: ZMQContext, options: Options = Options(), handler: any ZMQSwarmHandler) throws(ZMQError) {
        queue = OutboundQueue(wake: try WakeSignal())
        let loop = SwarmLoop(context: context, options: options, queue: queue, counters: liveCounters, handler: handler)
        thread = try IOThread { loop.run() }
    }

    deinit { shutdown() }

    /// Opens `slot`'s SUB and DEALER and connects them (libzmq connects in the background and
    /// retries). Reopening an open slot closes the old pair first. Failures go to `openFailed`.
    /// With `curve`, the DEALER is a CURVE client.
    public func open(slot: Int, subEndpoint: String, dealerEndpoint: String, curve: Curve? = nil) {
        queue.enqueue(CollectionOfOne(.open(slot: slot, sub: subEndpoint, dealer: dealerEndpoint, curve: curve)))
    }

    /// Closes `slot`'s sockets (linger 0); unknown slots are ignored.
    public func close(slot: Int) {
        queue.enqueue(CollectionOfOne(.close(slot: slot)))
    }

    /// Queues `frames` for `slot`'s DEALER; dropped (and counted as a failure) if the slot is closed.
    public func send(slot: Int, frames: [[UInt8]]) {
        queue.enqueue(CollectionOfOne(.send(slot: slot, frames: frames)))
    }

    /// Runs `work` on the I/O thread, in order with the other operations.
    public func perform(_ work: @escaping @Sendable () -> Void) {
        queue.enqueue(CollectionOfOne(.call(work)))
    }

    /// Message counts over all slots.
    public var counters: TransportCounters { liveCounters.snapshot }

    /// Stops the thread and closes every socket. Idempotent; returns once closed.
    /// Must not be called from a handler callback (it would wait for itself) — there it only detaches.
    public func shutdown() {
        _ = queue.stop()
        thread.join()
    }
}

/// The I/O thread's side: owns every socket once started.
private final class SwarmLoop: @unchecked Sendable {
    struct Pair {
        let sub: ZMQSocket
        let dealer: ZMQSocket
    }

    let context: ZMQContext
    let options: ZMQSwarmTransport.Options
    let queue: OutboundQueue<ZMQSwarmTransport.Operation>
    let counters: AtomicCounters
    let handler: any ZMQSwarmHandler
    var pairs: [Int: Pair] = [:]
    /// Poll set: the wake fd, then (sub, dealer) per slot in `order`.
    var items: [zmq_pollitem_t] = []
    var order: [Int] = []
    var dirty = true
    #if os(Linux)
    /// Sockets to look at: their `ZMQ_FD` fired, they were just opened or sent on, or they
    /// still held messages after a receive batch. Keyed by `token(slot, channel)`.
    var pending = Set<UInt64>()
    var poller: EdgePoller?
    static let wakeToken = UInt64.max
    static func token(_ slot: Int, _ channel: ZMQSwarmTransport.Channel) -> UInt64 {
        UInt64(slot) << 1 | (channel == .command ? 1 : 0)
    }
    #endif

    init(context: ZMQContext, options: ZMQSwarmTransport.Options, queue: OutboundQueue<ZMQSwarmTransport.Operation>,
         counters: AtomicCounters, handler: any ZMQSwarmHandler) {
        self.context = context
        self.options = options
        self.queue = queue
        self.counters = counters
        self.handler = handler
    }

    static func nowMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    func run() {
        #if os(Linux)
        if let poller = try? EdgePoller() {
            self.poller = poller
            poller.add(fd: queue.wake.readFD, token: Self.wakeToken, edge: false)
            runEdgeTriggered(poller)
            return
        }
        #endif
        let tick = Int64(max(1, options.tickMilliseconds))
        var nextTick = Self.nowMilliseconds() + tick
        while true {
            if dirty { rebuild() }
            let timeout = max(0, Int(nextTick - Self.nowMilliseconds()))
            let ready = items.withUnsafeMutableBufferPointer {
                zmq_poll($0.baseAddress, Int32($0.count), timeout)
            }
            if ready < 0 {
                if zmq_errno() == EINTR { continue }
                break
            }
            if items[0].revents & pollIn != 0 { queue.wake.drain() }
            if ready > 0 {
                // Receive first: `items` still matches the open sockets here.
                for (n, slot) in order.enumerated() {
                    if items[1 + 2 * n].revents & pollIn != 0 { receive(slot: slot, channel: .broadcast) }
                    if items[2 + 2 * n].revents & pollIn != 0 { receive(slot: slot, channel: .command) }
                }
            }
            guard tickAndApply(tick: tick, nextTick: &nextTick) else { break }
        }
        closeAll()
    }

    /// Runs the handler's tick when due and applies queued operations; false once stopping.
    func tickAndApply(tick: Int64, nextTick: inout Int64) -> Bool {
        let now = Self.nowMilliseconds()
        if now >= nextTick {
            handler.tick()
            nextTick = max(nextTick + tick, now)
        }
        let (operations, stopping) = queue.takeAll()
        if stopping { return false }
        for operation in operations { apply(operation) }
        return true
    }

    func closeAll() {
        for slot in Array(pairs.keys) { closeSlot(slot) }
    }

    #if os(Linux)
    /// The epoll loop: wait for fired fds (or not at all while sockets still hold messages),
    /// drain what is ready, tick, apply queued operations.
    func runEdgeTriggered(_ poller: EdgePoller) {
        let tick = Int64(max(1, options.tickMilliseconds))
        var nextTick = Self.nowMilliseconds() + tick
        while true {
            let timeout = pending.isEmpty ? Int32(max(0, nextTick - Self.nowMilliseconds())) : 0
            for token in poller.wait(timeout: timeout) {
                if token == Self.wakeToken { queue.wake.drain() } else { pending.insert(token) }
            }
            guard tickAndApply(tick: tick, nextTick: &nextTick) else { break }
            let due = pending
            pending.removeAll(keepingCapacity: true)
            for token in due {
                let slot = Int(token >> 1)
                guard let pair = pairs[slot] else { continue }
                let channel: ZMQSwarmTransport.Channel = token & 1 == 1 ? .command : .broadcast
                let socket = channel == .command ? pair.dealer : pair.sub
                receive(slot: slot, channel: channel)
                // Still holding messages (batch limit) or re-armed by the check: look again.
                if socket.hasInput { pending.insert(token) }
            }
        }
        closeAll()
    }
    #endif

    func rebuild() {
        order = pairs.keys.sorted()
        items = [queue.wake.pollItem]
        items.reserveCapacity(1 + 2 * order.count)
        for slot in order {
            let pair = pairs[slot]!
            items.append(pair.sub.pollItem)
            items.append(pair.dealer.pollItem)
        }
        dirty = false
    }

    func receive(slot: Int, channel: ZMQSwarmTransport.Channel) {
        guard let pair = pairs[slot] else { return }
        let socket = channel == .broadcast ? pair.sub : pair.dealer
        for _ in 0..<options.receiveBatchLimit {
            guard let frames = try? socket.receive() else { return }
            counters.received.wrappingAdd(1, ordering: .relaxed)
            handler.received(slot: slot, channel: channel, frames: frames)
            // The handler may have closed this slot (through `perform` only, so not yet); keep going.
        }
    }

    func apply(_ operation: ZMQSwarmTransport.Operation) {
        switch operation {
        case .open(let slot, let sub, let dealer, let curve):
            closeSlot(slot)
            do {
                let pair = try makePair(sub: sub, dealer: dealer, curve: curve)
                pairs[slot] = pair
                dirty = true
                #if os(Linux)
                poller?.add(fd: pair.sub.notificationFD, token: Self.token(slot, .broadcast), edge: true)
                poller?.add(fd: pair.dealer.notificationFD, token: Self.token(slot, .command), edge: true)
                pending.insert(Self.token(slot, .broadcast))
                pending.insert(Self.token(slot, .command))
                #endif
            } catch {
                handler.openFailed(slot: slot, error: error)
            }
        case .close(let slot):
            closeSlot(slot)
        case .send(let slot, let frames):
            guard let pair = pairs[slot] else {
                counters.countSendFailure()
                handler.sendFailed(slot: slot, error: ZMQError(code: ENOTCONN, message: "slot \(slot) is closed"))
                return
            }
            do {
                try pair.dealer.send(frames)
                counters.countSent()
                #if os(Linux)
                // A send can swallow the DEALER's edge notification: look at it again.
                pending.insert(Self.token(slot, .command))
                #endif
            } catch {
                counters.countSendFailure()
                handler.sendFailed(slot: slot, error: error)
            }
        case .call(let work):
            work()
        }
    }

    func closeSlot(_ slot: Int) {
        guard let pair = pairs.removeValue(forKey: slot) else { return }
        #if os(Linux)
        poller?.remove(fd: pair.sub.notificationFD)
        poller?.remove(fd: pair.dealer.notificationFD)
        #endif
        pair.sub.close()
        pair.dealer.close()
        dirty = true
    }

    func makePair(sub subEndpoint: String, dealer dealerEndpoint: String,
                  curve: ZMQSwarmTransport.Curve?) throws(ZMQError) -> Pair {
        let sub = try ZMQSocket(context: context, type: ZMQ_SUB)
        try sub.set(ZMQ_LINGER, 0, "ZMQ_LINGER")
        try sub.set(ZMQ_RCVHWM, 0, "ZMQ_RCVHWM")
        try sub.set(ZMQ_RECONNECT_IVL, options.reconnectMilliseconds, "ZMQ_RECONNECT_IVL")
        try sub.set(ZMQ_RECONNECT_IVL_MAX, options.reconnectMaxMilliseconds, "ZMQ_RECONNECT_IVL_MAX")
        try sub.set(ZMQ_SUBSCRIBE, bytes: [], "ZMQ_SUBSCRIBE")
        try sub.connect(subEndpoint, role: "SUB")
        let dealer = try ZMQSocket(context: context, type: ZMQ_DEALER)
        try dealer.set(ZMQ_LINGER, 0, "ZMQ_LINGER")
        try dealer.set(ZMQ_RCVHWM, 0, "ZMQ_RCVHWM")
        try dealer.set(ZMQ_SNDHWM, options.sendHighWaterMark, "ZMQ_SNDHWM")
        try dealer.set(ZMQ_RECONNECT_IVL, options.reconnectMilliseconds, "ZMQ_RECONNECT_IVL")
        try dealer.set(ZMQ_RECONNECT_IVL_MAX, options.reconnectMaxMilliseconds, "ZMQ_RECONNECT_IVL_MAX")
        if let curve {
            guard CurveKeyPair.isValidKey(curve.serverKey) else {
                throw .invalid("curve server key is not a 40-character Z85 key")
            }
            try dealer.set(ZMQ_CURVE_SERVERKEY, string: curve.serverKey, "ZMQ_CURVE_SERVERKEY")
            try dealer.set(ZMQ_CURVE_PUBLICKEY, string: curve.keyPair.publicKey, "ZMQ_CURVE_PUBLICKEY")
            try dealer.set(ZMQ_CURVE_SECRETKEY, string: curve.keyPair.secretKey, "ZMQ_CURVE_SECRETKEY")
        }
        try dealer.connect(dealerEndpoint, role: "DEALER")
        return Pair(sub: sub, dealer: dealer)
    }
}
