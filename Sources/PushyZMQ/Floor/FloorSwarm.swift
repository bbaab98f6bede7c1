#if os(Linux)
import Glibc
import CZMQ

/// The agents' side of the floor (see `FloorFrames`): per agent a SUB and a DEALER (a CURVE
/// client with its own key pair) set up as Pushy's swarm sets them up, all on one thread that
/// does nothing but answer: commit → ack_commit, run → ack_run then result, and a heartbeat
/// every interval, agents spread evenly over it.
public final class FloorSwarm: Sendable {
    public struct Options: Sendable {
        public var count: Int
        /// Global index of the first agent (several processes share a size).
        public var firstIndex = 0
        public var host = "127.0.0.1"
        public var routerPort: Int
        public var pubPort: Int
        /// Agent i connects to 127.0.0.(1 + i % addressSpread), as Pushy's swarm (1: `host`).
        public var addressSpread = 1
        /// The server's Z85 CURVE key; nil = plaintext DEALERs.
        public var serverKey: String?
        /// Seconds between an agent's heartbeats.
        public var interval: Double
        public var frames: FloorFrames
        /// This agent (global index) never sends its results: proves that the server's checks catch it.
        public var dropResultOf: Int?
        public var ioThreads = 1

        public init(count: Int, routerPort: Int, pubPort: Int, interval: Double, frames: FloorFrames) {
            self.count = count
            self.routerPort = routerPort
            self.pubPort = pubPort
            self.interval = interval
            self.frames = frames
        }
    }

    enum Command: Sendable {
        case counts(@Sendable (FloorCounts) -> Void)
        case quiet(@Sendable () -> Void)
    }

    private let queue: OutboundQueue<Command>
    private let thread: IOThread

    /// Opens and connects every agent's sockets (libzmq connects in the background), then starts
    /// the thread, which sends each agent's first heartbeat at once.
    public init(options: Options) throws(ZMQError) {
        guard options.count > 0, options.interval > 0, (1...254).contains(options.addressSpread) else {
            throw .invalid("floor swarm: count and interval must be positive, address spread within 1...254")
        }
        let context = try ZMQContext(ioThreads: options.ioThreads, maxSockets: 2 * options.count + 64)
        var subs: [ZMQSocket] = [], dealers: [ZMQSocket] = []
        subs.reserveCapacity(options.count)
        dealers.reserveCapacity(options.count)
        for slot in 0..<options.count {
            let index = options.firstIndex + slot
            let host = options.addressSpread > 1 ? "127.0.0.\(1 + index % options.addressSpread)" : options.host
            // The options of ZMQSwarmTransport with Pushy's swarm configuration.
            let sub = try ZMQSocket(context: context, type: ZMQ_SUB)
            try sub.set(ZMQ_LINGER, 0, "ZMQ_LINGER")
            try sub.set(ZMQ_RCVHWM, 0, "ZMQ_RCVHWM")
            try sub.set(ZMQ_RECONNECT_IVL, 1000, "ZMQ_RECONNECT_IVL")
            try sub.set(ZMQ_RECONNECT_IVL_MAX, 0, "ZMQ_RECONNECT_IVL_MAX")
            try sub.set(ZMQ_SUBSCRIBE, bytes: [], "ZMQ_SUBSCRIBE")
            try sub.connect("tcp://\(host):\(options.pubPort)", role: "SUB")
            let dealer = try ZMQSocket(context: context, type: ZMQ_DEALER)
            try dealer.set(ZMQ_LINGER, 0, "ZMQ_LINGER")
            try dealer.set(ZMQ_RCVHWM, 0, "ZMQ_RCVHWM")
            try dealer.set(ZMQ_SNDHWM, 1000, "ZMQ_SNDHWM")
            try dealer.set(ZMQ_RECONNECT_IVL, 1000, "ZMQ_RECONNECT_IVL")
            try dealer.set(ZMQ_RECONNECT_IVL_MAX, 0, "ZMQ_RECONNECT_IVL_MAX")
            if let serverKey = options.serverKey {
                let pair = try CurveKeyPair.generate()
                try dealer.set(ZMQ_CURVE_SERVERKEY, string: serverKey, "ZMQ_CURVE_SERVERKEY")
                try dealer.set(ZMQ_CURVE_PUBLICKEY, string: pair.publicKey, "ZMQ_CURVE_PUBLICKEY")
                try dealer.set(ZMQ_CURVE_SECRETKEY, string: pair.secretKey, "ZMQ_CURVE_SECRETKEY")
            }
            try dealer.connect("tcp://\(host):\(options.routerPort)", role: "DEALER")
            subs.append(sub)
            dealers.append(dealer)
        }
        queue = OutboundQueue(wake: try WakeSignal())
        let poller = try EdgePoller()
        let loop = FloorSwarmLoop(subs: subs, dealers: dealers, poller: poller, queue: queue, options: options)
        thread = try IOThread { loop.run() }
    }

    deinit { shutdown() }

    /// Everything counted so far (`nodes`: agents in this swarm).
    public func counts() async -> FloorCounts {
        await withCheckedContinuation { (c: CheckedContinuation<FloorCounts, Never>) in
            if !queue.enqueue(CollectionOfOne(Command.counts({ c.resume(returning: $0) }))) { c.resume(returning: FloorCounts()) }
        }
    }

    /// Stops the heartbeats (so that both sides' counts can settle and be compared).
    public func quiet() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            if !queue.enqueue(CollectionOfOne(Command.quiet({ c.resume() }))) { c.resume() }
        }
    }

    /// Stops the thread and closes every socket. Idempotent.
    public func shutdown() {
        _ = queue.stop()
        thread.join()
    }
}

/// The floor swarm's thread: owns every socket once started.
private final class FloorSwarmLoop: @unchecked Sendable {
    let subs: [ZMQSocket]
    let dealers: [ZMQSocket]
    let poller: EdgePoller
    let queue: OutboundQueue<FloorSwarm.Command>
    let wire: FloorWire
    let first: Int
    let interval: Double
    let dropResultOf: Int
    var counts = FloorCounts()
    var broadcasts: [Int]
    /// Sockets to look at (token = slot * 2 + 1 for the DEALER), without duplicates.
    var pending: [Int] = []
    var isPending: [Bool]
    var quiet = false
    /// The heartbeat round robin: agent `next` is due at start + interval × (round + next / count).
    var start = 0.0
    var round = 1
    var next = 0
    /// Heartbeats go out in batches, a tick apart (Pushy's swarm ticks every 100 ms): one wake-up
    /// per due heartbeat would cost the floor more than Pushy's swarm spends.
    let tick: Double
    var heartbeatWake = 0.0
    var scratch: [UInt8] = []
    static let wakeToken = UInt64.max

    init(subs: [ZMQSocket], dealers: [ZMQSocket], poller: EdgePoller, queue: OutboundQueue<FloorSwarm.Command>,
         options: FloorSwarm.Options) {
        self.subs = subs
        self.dealers = dealers
        self.poller = poller
        self.queue = queue
        wire = FloorWire(frames: options.frames)
        first = options.firstIndex
        interval = options.interval
        tick = min(0.1, options.interval / 10)
        dropResultOf = options.dropResultOf ?? -1
        broadcasts = Array(repeating: 0, count: subs.count)
        isPending = Array(repeating: false, count: 2 * subs.count)
        counts.nodes = subs.count
    }

    var due: Double { start + interval * (Double(round) + Double(next) / Double(subs.count)) }

    func mark(_ token: Int) {
        guard !isPending[token] else { return }
        isPending[token] = true
        pending.append(token)
    }

    func run() {
        poller.add(fd: queue.wake.readFD, token: Self.wakeToken, edge: false)
        for slot in subs.indices {
            poller.add(fd: subs[slot].notificationFD, token: UInt64(2 * slot), edge: true)
            poller.add(fd: dealers[slot].notificationFD, token: UInt64(2 * slot + 1), edge: true)
            mark(2 * slot)
            mark(2 * slot + 1)
        }
        start = floorClock()
        for slot in subs.indices { heartbeat(slot) }
        loop: while true {
            let wait = pending.isEmpty ? max(0, min(quiet ? 0.1 : max(due, heartbeatWake) - floorClock(), 0.1)) : 0
            for token in poller.wait(timeout: Int32((wait * 1000).rounded(.up))) {
                if token == Self.wakeToken { queue.wake.drain() } else { mark(Int(token)) }
            }
            let (commands, stopping) = queue.takeAll()
            commands.forEach(apply)
            if stopping { break loop }
            let ready = pending
            pending.removeAll(keepingCapacity: true)
            for token in ready {
                isPending[token] = false
                receive(token)
            }
            let now = floorClock()
            guard !quiet, now >= heartbeatWake, now >= due else { continue }
            while now >= due {
                heartbeat(next)
                next += 1
                if next == subs.count {
                    next = 0
                    round += 1
                }
            }
            heartbeatWake = now + tick
        }
        // Nothing waits for an answer that will not come.
        _ = queue.stop()
        queue.takeAll().items.forEach(apply)
        for s in subs { s.close() }
        for d in dealers { d.close() }
    }

    func apply(_ command: FloorSwarm.Command) {
        switch command {
        case .counts(let reply):
            var c = counts
            c.fewestBroadcasts = broadcasts.min() ?? 0
            reply(c)
        case .quiet(let reply):
            quiet = true
            reply()
        }
    }

    func heartbeat(_ slot: Int) {
        if send(slot, .heartbeat, job: 0) { counts.heartbeats += 1 }
    }

    /// Sends one message on the agent's DEALER; false (and counted) when libzmq refused it.
    func send(_ slot: Int, _ kind: FloorKind, job: UInt32) -> Bool {
        let sent = wire.send(dealers[slot].handle, kind, index: first + slot, job: job)
        if !sent { counts.sendFailures += 1 }
        // A send can swallow the DEALER's edge notification: ask (ZMQ_EVENTS, which also re-arms it).
        if dealers[slot].hasInput { mark(2 * slot + 1) }
        return sent
    }

    /// Drains one socket, answering what it holds.
    func receive(_ token: Int) {
        let slot = token / 2
        let isDealer = token % 2 == 1
        let socket = isDealer ? dealers[slot] : subs[slot]
        while let r = wire.receive(socket.handle, routed: false, identity: &scratch) {
            guard r.wellFormed, let kind = r.kind else {
                counts.unexpected += 1
                continue
            }
            switch (kind, isDealer) {
            case (.broadcast, false):
                counts.broadcasts += 1
                broadcasts[slot] += 1
            case (.commit, true) where r.index == first + slot:
                counts.commits += 1
                if send(slot, .ackCommit, job: r.job) { counts.ackCommits += 1 }
            case (.commitRun, true) where r.index == first + slot:
                // Pushy's commit_run: counted as a commit, answered as a run.
                counts.commits += 1
                if send(slot, .ackRun, job: r.job) { counts.ackRuns += 1 }
                if first + slot != dropResultOf, send(slot, .result, job: r.job) { counts.results += 1 }
            case (.run, true) where r.index == first + slot:
                counts.runs += 1
                if send(slot, .ackRun, job: r.job) { counts.ackRuns += 1 }
                if first + slot != dropResultOf, send(slot, .result, job: r.job) { counts.results += 1 }
            default:
                counts.unexpected += 1
            }
        }
        // Drained; reading ZMQ_EVENTS also re-arms the edge-triggered ZMQ_FD.
        if socket.hasInput { mark(token) }
    }
}
#endif
