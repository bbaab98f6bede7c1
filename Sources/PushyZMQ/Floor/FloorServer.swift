#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZMQ
import Synchronization

/// What one floor job found.
public struct FloorJobResult: Sendable {
    public var job: UInt32
    public var nodes: Int
    /// Seconds from the first commit sent to the last result received.
    public var seconds: Double
    /// Nil when every node answered ack_commit, ack_run and result exactly once, in order;
    /// else what was missing or wrong (the job then counts for nothing).
    public var failure: String?
}

/// The server side of the floor (see `FloorFrames`): a CURVE ROUTER and a PUB bound as Pushy's
/// server binds them, with the same options, on one thread that does nothing but move messages:
/// a job sends commit to its nodes, run to all once all have acked, and ends when every result
/// is in; agents' heartbeats are counted per node; a broadcast goes out every interval.
public final class FloorServer: Sendable {
    public struct Options: Sendable {
        /// Nodes are the agents' global indexes `0..<agents`.
        public var agents: Int
        public var frames: FloorFrames
        /// Seconds between heartbeat broadcasts.
        public var interval: Double
        public var routerEndpoint = "tcp://*:0"
        public var pubEndpoint = "tcp://*:0"
        /// CURVE on the ROUTER (as Pushy's command channel).
        public var curve = true

        public init(agents: Int, frames: FloorFrames, interval: Double) {
            self.agents = agents
            self.frames = frames
            self.interval = interval
        }
    }

    enum Command: Sendable {
        case job(first: Int, count: Int, timeout: Double, runAtCommit: Bool, reply: @Sendable (FloorJobResult) -> Void)
        case counts(@Sendable (FloorCounts) -> Void)
    }

    public let routerPort: Int
    public let pubPort: Int
    /// The ROUTER's Z85 CURVE public key (nil without CURVE).
    public let publicKey: String?
    private let queue: OutboundQueue<Command>
    private let thread: IOThread
    private let ended = FloorStopReason()

    /// Why the server's thread stopped before `shutdown` (a failed `zmq_poll`), else nil: once
    /// set, `counts()` answers all zeros, and this says why.
    public var stopReason: String? { ended.value }

    /// Binds both sockets and starts the thread.
    public init(context: ZMQContext, options: Options) throws(ZMQError) {
        guard options.agents > 0, options.interval > 0 else { throw .invalid("floor server: agents and interval must be positive") }
        let router = try ZMQSocket(context: context, type: ZMQ_ROUTER)
        // The options of ZMQServerTransport (Pushy's server), minus its ZAP and monitors.
        try router.set(ZMQ_LINGER, 0, "ZMQ_LINGER")
        try router.set(ZMQ_BACKLOG, 4096, "ZMQ_BACKLOG")
        try router.set(ZMQ_SNDHWM, 1000, "ZMQ_SNDHWM")
        try router.set(ZMQ_RCVHWM, 1000, "ZMQ_RCVHWM")
        try router.set(ZMQ_ROUTER_MANDATORY, 1, "ZMQ_ROUTER_MANDATORY")
        var key: String?
        if options.curve {
            let pair = try CurveKeyPair.generate()
            try router.set(ZMQ_CURVE_SERVER, 1, "ZMQ_CURVE_SERVER")
            try router.set(ZMQ_CURVE_SECRETKEY, string: pair.secretKey, "ZMQ_CURVE_SECRETKEY")
            key = pair.publicKey
        }
        try router.bind(Endpoint.bindable(options.routerEndpoint), role: "ROUTER")
        let pub = try ZMQSocket(context: context, type: ZMQ_PUB)
        try pub.set(ZMQ_LINGER, 0, "ZMQ_LINGER")
        try pub.set(ZMQ_BACKLOG, 4096, "ZMQ_BACKLOG")
        try pub.set(ZMQ_SNDHWM, 100_000, "ZMQ_SNDHWM")
        try pub.bind(Endpoint.bindable(options.pubEndpoint), role: "PUB")
        routerPort = Endpoint.port(of: try router.lastEndpoint())
        pubPort = Endpoint.port(of: try pub.lastEndpoint())
        publicKey = key
        queue = OutboundQueue(wake: try WakeSignal())
        let loop = FloorServerLoop(router: router, pub: pub, queue: queue, options: options, ended: ended)
        thread = try IOThread { loop.run() }
    }

    deinit { shutdown() }

    /// Runs a job over nodes `nodes` (global indexes); fails when any answer is missing after
    /// `timeout` seconds, or anything arrives twice, out of order or for another job.
    /// `runAtCommit`: Pushy's `commit_run` exchange (commit_run → ack_run → result), as Pushy runs a
    /// job whose quorum needs no vote on agents that asked for it.
    public func job(nodes: Range<Int>, timeout: Double, runAtCommit: Bool = false) async -> FloorJobResult {
        await withCheckedContinuation { (c: CheckedContinuation<FloorJobResult, Never>) in
            let accepted = queue.enqueue(CollectionOfOne(Command.job(
                first: nodes.lowerBound, count: nodes.count, timeout: timeout, runAtCommit: runAtCommit,
                reply: { c.resume(returning: $0) })))
            if !accepted { c.resume(returning: FloorJobResult(job: 0, nodes: nodes.count, seconds: 0, failure: "the floor server is stopping")) }
        }
    }

    /// Everything counted so far (`nodes`: nodes heard from).
    public func counts() async -> FloorCounts {
        await withCheckedContinuation { (c: CheckedContinuation<FloorCounts, Never>) in
            if !queue.enqueue(CollectionOfOne(Command.counts({ c.resume(returning: $0) }))) { c.resume(returning: FloorCounts()) }
        }
    }

    /// Stops the thread and closes the sockets; a job still running fails. Idempotent.
    public func shutdown() {
        _ = queue.stop()
        thread.join()
    }
}

/// Monotonic seconds.
func floorClock() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// The floor server's thread: owns both sockets once started.
private final class FloorServerLoop: @unchecked Sendable {
    /// One job's progress: per node, bit 1 ack_commit, 2 ack_run, 4 result.
    final class Job {
        let number: UInt32
        /// commit_run: no ack_commit expected, ack_run first.
        var runAtCommit = false
        let first: Int
        var flags: [UInt8]
        var votes = 0
        var results = 0
        var running = false
        var unexpected = 0
        let started: Double
        let deadline: Double
        let reply: @Sendable (FloorJobResult) -> Void

        init(number: UInt32, first: Int, count: Int, started: Double, deadline: Double, reply: @escaping @Sendable (FloorJobResult) -> Void) {
            self.number = number
            self.first = first
            flags = Array(repeating: 0, count: count)
            self.started = started
            self.deadline = deadline
            self.reply = reply
        }
    }

    let router: ZMQSocket
    let pub: ZMQSocket
    let queue: OutboundQueue<FloorServer.Command>
    let ended: FloorStopReason
    let wire: FloorWire
    let agents: Int
    let interval: Double
    var identities: [[UInt8]?]
    var counts = FloorCounts()
    var job: Job?
    var jobNumber: UInt32 = 0
    var broadcastNumber: UInt32 = 0
    var nextBroadcast: Double
    var identity: [UInt8] = []

    init(router: ZMQSocket, pub: ZMQSocket, queue: OutboundQueue<FloorServer.Command>, options: FloorServer.Options,
         ended: FloorStopReason) {
        self.ended = ended
        self.router = router
        self.pub = pub
        self.queue = queue
        wire = FloorWire(frames: options.frames)
        agents = options.agents
        interval = options.interval
        identities = Array(repeating: nil, count: options.agents)
        nextBroadcast = floorClock() + options.interval
        identity.reserveCapacity(64)
    }

    func run() {
        var items = [queue.wake.pollItem, router.pollItem]
        while true {
            var wait = nextBroadcast - floorClock()
            if let job { wait = min(wait, job.deadline - floorClock()) }
            let timeout = Int((max(0, min(wait, 0.25)) * 1000).rounded(.up))
            let ready = items.withUnsafeMutableBufferPointer { zmq_poll($0.baseAddress, Int32($0.count), timeout) }
            if ready < 0 {
                let e = zmq_errno()
                if e == EINTR { continue }
                ended.set("zmq_poll failed: \(String(cString: zmq_strerror(e))) (errno \(e))")
                break
            }
            if items[0].revents & pollIn != 0 { queue.wake.drain() }
            let (commands, stopping) = queue.takeAll()
            if stopping {
                commands.forEach(abandon)
                break
            }
            for command in commands { apply(command) }
            if items[1].revents & pollIn != 0 {
                for _ in 0..<4096 {
                    guard let r = wire.receive(router.handle, routed: true, identity: &identity) else { break }
                    handle(r)
                }
            }
            let now = floorClock()
            if now >= nextBroadcast {
                if wire.send(pub.handle, .broadcast, index: 0, job: broadcastNumber) { counts.broadcasts += 1 } else { counts.sendFailures += 1 }
                broadcastNumber &+= 1
                nextBroadcast = max(nextBroadcast + interval, now)
            }
            if let job, now >= job.deadline { finish(job, failure: "not done after its deadline: " + missing(job)) }
        }
        if let job { finish(job, failure: "the floor server stopped") }
        // Nothing waits for an answer that will not come.
        _ = queue.stop()
        queue.takeAll().items.forEach(abandon)
        router.close()
        pub.close()
    }

    /// Answers a command the stopping thread will not carry out.
    func abandon(_ command: FloorServer.Command) {
        switch command {
        case .counts(let reply): reply(counts)
        case .job(_, let count, _, _, let reply): reply(FloorJobResult(job: 0, nodes: count, seconds: 0, failure: "the floor server stopped"))
        }
    }

    func apply(_ command: FloorServer.Command) {
        switch command {
        case .counts(let reply):
            reply(counts)
        case .job(let first, let count, let timeout, let runAtCommit, let reply):
            func refuse(_ why: String) { reply(FloorJobResult(job: 0, nodes: count, seconds: 0, failure: why)) }
            guard job == nil else { return refuse("a job is already running") }
            guard first >= 0, count > 0, first + count <= agents else { return refuse("nodes \(first)..<\(first + count) are not all within 0..<\(agents)") }
            let silent = (first..<(first + count)).filter { identities[$0] == nil }
            guard silent.isEmpty else { return refuse("\(silent.count) node(s) never sent a heartbeat: \(Self.list(silent))") }
            jobNumber &+= 1
            let now = floorClock()
            let j = Job(number: jobNumber, first: first, count: count, started: now, deadline: now + timeout, reply: reply)
            j.runAtCommit = runAtCommit
            j.running = runAtCommit
            job = j
            var failed: [Int] = []
            for i in first..<(first + count) {
                if wire.send(router.handle, runAtCommit ? .commitRun : .commit, index: i, job: j.number, identity: identities[i]) {
                    counts.commits += 1
                } else {
                    counts.sendFailures += 1
                    failed.append(i)
                }
            }
            if !failed.isEmpty { finish(j, failure: "commit could not be sent to \(failed.count) node(s): \(Self.list(failed))") }
        }
    }

    func handle(_ r: FloorWire.Received) {
        guard r.wellFormed, let kind = r.kind, r.index >= 0, r.index < agents else {
            counts.unexpected += 1
            job?.unexpected += 1
            return
        }
        switch kind {
        case .heartbeat:
            counts.heartbeats += 1
            if let known = identities[r.index] {
                if known != identity { identities[r.index] = identity }
            } else {
                identities[r.index] = identity
                counts.nodes += 1
            }
        case .ackCommit:
            counts.ackCommits += 1
            answer(r, bit: 1, after: 0)
        case .ackRun:
            counts.ackRuns += 1
            answer(r, bit: 2, after: job?.runAtCommit == true ? 0 : 1)
        case .result:
            counts.results += 1
            answer(r, bit: 4, after: job?.runAtCommit == true ? 2 : 3)
        case .broadcast, .commit, .run, .commitRun:
            counts.unexpected += 1
            job?.unexpected += 1
        }
    }

    /// Records a node's answer `bit` in the running job; it must come after exactly the answers `after`.
    func answer(_ r: FloorWire.Received, bit: UInt8, after: UInt8) {
        guard let j = job, r.job == j.number, r.index >= j.first, r.index < j.first + j.flags.count,
              j.flags[r.index - j.first] == after, bit != 2 || j.running
        else {
            counts.unexpected += 1
            job?.unexpected += 1
            return
        }
        j.flags[r.index - j.first] |= bit
        if bit == 1 {
            j.votes += 1
            if j.votes == j.flags.count {
                // Everyone voted: run goes to every node at once, as Pushy's job does.
                j.running = true
                for i in j.first..<(j.first + j.flags.count) {
                    if wire.send(router.handle, .run, index: i, job: j.number, identity: identities[i]) { counts.runs += 1 } else { counts.sendFailures += 1 }
                }
            }
        } else if bit == 4 {
            j.results += 1
            if j.results == j.flags.count {
                finish(j, failure: j.unexpected > 0 ? "\(j.unexpected) unexpected message(s) during the job" : nil)
            }
        }
    }

    func finish(_ j: Job, failure: String?) {
        job = nil
        j.reply(FloorJobResult(job: j.number, nodes: j.flags.count, seconds: floorClock() - j.started, failure: failure))
    }

    /// Which nodes lack which answer.
    func missing(_ j: Job) -> String {
        var parts: [String] = []
        for (bit, name) in [(UInt8(1), "ack_commit"), (2, "ack_run"), (4, "result")] where bit != 1 || !j.runAtCommit {
            let lacking = j.flags.indices.filter { j.flags[$0] & bit == 0 }.map { $0 + j.first }
            if !lacking.isEmpty { parts.append("no \(name) from \(lacking.count) of \(j.flags.count) node(s): \(Self.list(lacking))") }
        }
        if j.unexpected > 0 { parts.append("\(j.unexpected) unexpected message(s)") }
        return parts.joined(separator: "; ")
    }

    static func list(_ indexes: [Int]) -> String {
        indexes.prefix(10).map(String.init).joined(separator: ", ") + (indexes.count > 10 ? ", …" : "")
    }
}

/// Why a floor thread stopped by itself.
final class FloorStopReason: Sendable {
    private let reason = Mutex<String?>(nil)
    var value: String? { reason.withLock { $0 } }
    func set(_ why: String) { reason.withLock { $0 = $0 ?? why } }
}
