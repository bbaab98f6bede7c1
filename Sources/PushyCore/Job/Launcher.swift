import PushyProtocol

/// A job's rate control in node counts: `RateControl` resolved against the job's node count.
public struct LaunchLimits: Sendable, Equatable {
    /// Most nodes told to run and not yet ended, at any moment (nil: no limit).
    public var maxConcurrency: Int?
    /// Failures (failed, crashed, timed out) after which nothing more is launched (nil: no limit).
    public var maxErrors: Int?
    /// Nodes per batch (nil: no batches).
    public var batchSize: Int?
    /// Seconds between the end of a batch (or of the canaries) and the start of the next.
    public var batchWait: Double
    /// Nodes run first, alone; any failure among them stops the job.
    public var canary: Int

    public init(maxConcurrency: Int? = nil, maxErrors: Int? = nil, batchSize: Int? = nil, batchWait: Double = 0,
                canary: Int = 0) {
        self.maxConcurrency = maxConcurrency
        self.maxErrors = maxErrors
        self.batchSize = batchSize
        self.batchWait = batchWait
        self.canary = canary
    }

    /// Counts for a job of `nodeCount` nodes (percentages round up, at least 1).
    public init(_ r: RateControl, nodeCount: Int) {
        self.init(maxConcurrency: r.maxConcurrency?.resolve(nodeCount: nodeCount),
                  maxErrors: r.maxErrors?.resolve(nodeCount: nodeCount),
                  batchSize: r.batchSize?.resolve(nodeCount: nodeCount),
                  batchWait: r.batchWait ?? 0, canary: r.canary ?? 0)
    }
}

/// Which of a running job's nodes are told to run, and when (issue 13). The job machine queues
/// the nodes that passed the vote, reports each launched node's end, and asks which to launch
/// next; it never launches more than `maxConcurrency` at once, stops launching once
/// `maxErrors` launched nodes failed or a canary failed, and starts a batch only when the
/// previous one has ended and `batchWait` has passed. A value: no clocks, no I/O.
///
/// Liveness: while it is not stopped, a launcher with waiting nodes and nothing in flight
/// launches at least one node once the pause (if any) has passed, so every job ends.
public struct Launcher: Sendable, Equatable {
    public let limits: LaunchLimits
    /// Queued nodes in launch order; `waiting` holds those not yet launched nor withdrawn.
    private var queue: [String] = []
    private var head = 0
    private var waiting: Set<String> = []
    /// Launched nodes whose run has not ended.
    public private(set) var inFlight: Set<String> = []
    public private(set) var launched = 0
    /// Launched nodes that ended other than `succeeded`.
    public private(set) var errors = 0
    private var canaryLeft: Int
    private var canaryInFlight: Set<String> = []
    /// Nodes of the current batch not launched yet; batches started so far.
    private var batchLeft = 0
    public private(set) var batches = 0
    /// When the last batch (or the canaries) ended, while the next one waits `batchWait`.
    public private(set) var pauseFrom: Double?
    /// Why nothing more will be launched (nil while launching goes on).
    public private(set) var stopReason: String?

    public init(limits: LaunchLimits) {
        self.limits = limits
        canaryLeft = limits.canary
    }

    /// Queues nodes to launch, in order (the job's ready nodes once it passed its quorum).
    public mutating func enqueue(_ nodes: [String]) {
        queue += nodes
        waiting.formUnion(nodes)
    }

    /// A queued node left before its launch (went down, or disowned the job).
    public mutating func withdraw(_ node: String) {
        waiting.remove(node)
    }

    /// Whether `node` waits for its launch.
    public func isWaiting(_ node: String) -> Bool { waiting.contains(node) }

    /// Nodes still waiting for their launch, in order.
    public var pending: [String] { queue[head...].filter { waiting.contains($0) } }

    /// True when nothing waits and nothing runs.
    public var isDone: Bool { waiting.isEmpty && inFlight.isEmpty }

    /// Why a node still waits (for its view in the job).
    public var waitReason: String {
        if canaryLeft > 0 || !canaryInFlight.isEmpty { return "waiting for the \(limits.canary) canary node(s) to succeed" }
        if pauseFrom != nil { return "waiting \(Self.seconds(limits.batchWait)) between batches" }
        if let size = limits.batchSize { return "waiting for its batch (batch_size \(size))" }
        if let m = limits.maxConcurrency { return "waiting for a free slot (max_concurrency \(m))" }
        return "waiting to be launched"
    }

    /// The nodes to launch now (they count as in flight until `finished`).
    public mutating func next(now: Double) -> [String] {
        guard stopReason == nil else { return [] }
        var out: [String] = []
        // Canaries first; nothing else runs until every one of them ended well.
        while canaryLeft > 0, room(out) > 0, let n = pop() {
            canaryLeft -= 1
            canaryInFlight.insert(n)
            out.append(n)
        }
        if waiting.isEmpty { canaryLeft = 0 }
        if canaryLeft > 0 || !canaryInFlight.isEmpty { return taken(out) }
        if let from = pauseFrom {
            guard now >= from + limits.batchWait else { return taken(out) }
            pauseFrom = nil
        }
        if let size = limits.batchSize {
            if batchLeft == 0 {
                // A batch starts once the one before it has ended.
                guard inFlight.isEmpty, out.isEmpty, !waiting.isEmpty else { return taken(out) }
                batchLeft = size
                batches += 1
            }
            while batchLeft > 0, room(out) > 0, let n = pop() {
                batchLeft -= 1
                out.append(n)
            }
            if waiting.isEmpty { batchLeft = 0 }
        } else {
            while room(out) > 0, let n = pop() { out.append(n) }
        }
        return taken(out)
    }

    /// Nothing more will be launched: why, and the nodes that were still waiting.
    public struct Stop: Sendable, Equatable {
        public var reason: String
        public var skipped: [String]
    }

    /// A launched node's run ended (`failed`: anything but succeeded). Returns the stop this
    /// caused, if it caused one.
    public mutating func finished(_ node: String, failed: Bool, now: Double) -> Stop? {
        guard inFlight.remove(node) != nil else { return nil }
        if failed { errors += 1 }
        // Nothing waits: nothing to stop (the job just ends, without a "stopped launching").
        if failed, waiting.isEmpty { _ = canaryInFlight.remove(node); return nil }
        if canaryInFlight.remove(node) != nil {
            if failed { return stop("canary node \(node) did not succeed") }
            if canaryInFlight.isEmpty, canaryLeft == 0, limits.batchWait > 0, !waiting.isEmpty { pauseFrom = now }
        }
        if let m = limits.maxErrors, errors >= m {
            return stop("\(errors) launched node(s) did not succeed (max_errors \(m))")
        }
        if limits.batchSize != nil, batches > 0, batchLeft == 0, inFlight.isEmpty, limits.batchWait > 0,
           !waiting.isEmpty {
            pauseFrom = now
        }
        return nil
    }

    /// Stops launching (also when the job is aborted): returns the nodes that were waiting.
    public mutating func stop(_ reason: String) -> Stop? {
        guard stopReason == nil else { return nil }
        stopReason = reason
        let skipped = pending
        waiting.removeAll()
        head = queue.count
        return Stop(reason: reason, skipped: skipped)
    }

    private mutating func pop() -> String? {
        while head < queue.count {
            let n = queue[head]
            head += 1
            if waiting.remove(n) != nil { return n }
        }
        return nil
    }

    private func room(_ out: [String]) -> Int {
        guard let m = limits.maxConcurrency else { return Int.max }
        return m - inFlight.count - out.count
    }

    private mutating func taken(_ out: [String]) -> [String] {
        inFlight.formUnion(out)
        launched += out.count
        return out
    }

    static func seconds(_ s: Double) -> String {
        s.rounded() == s ? "\(Int(s)) s" : "\(s) s"
    }
}
