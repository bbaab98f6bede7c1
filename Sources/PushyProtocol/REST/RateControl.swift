import FoundationEssentials

/// How fast a job reaches its nodes (issue 13): at most so many running at once, a stop after
/// so many errors, batches with a pause between them, canary nodes first. As the request gave
/// it (counts or percentages); `LaunchLimits.resolve` turns it into counts for one job.
/// Quorum keeps its meaning: how many nodes must agree before anything runs.
public struct RateControl: Sendable, Hashable {
    /// A number of nodes, or a percentage of the job's nodes (`"10%"`; rounded up, at least 1).
    public enum Amount: Sendable, Hashable, CustomStringConvertible {
        case count(Int)
        case percent(Double)

        /// The count for a job of `nodeCount` nodes.
        public func resolve(nodeCount: Int) -> Int {
            switch self {
            case .count(let c): return c
            case .percent(let p): return max(1, Int((p * Double(nodeCount) / 100 - 1e-9).rounded(.up)))
            }
        }

        /// Parses `N` (a whole number ≥ 1) or `N%` (0 < N ≤ 100); nil otherwise.
        public static func parse(_ text: String) -> Amount? {
            let t = text.trimmingWhitespace()
            if t.hasSuffix("%") {
                guard let p = Double(t.dropLast()), p > 0, p <= 100 else { return nil }
                return .percent(p)
            }
            guard let c = Int(t), c >= 1 else { return nil }
            return .count(c)
        }

        public var description: String {
            switch self {
            case .count(let c): return String(c)
            case .percent(let p): return (p.rounded() == p ? String(Int(p)) : String(p)) + "%"
            }
        }

        var json: JSONValue {
            switch self {
            case .count(let c): return .number(Double(c))
            case .percent: return .string(description)
            }
        }
    }

    /// At most this many nodes running (or told to run) at any moment.
    public var maxConcurrency: Amount?
    /// Once this many launched nodes have failed (failed, crashed, timed out), no new node is
    /// launched and the job ends when the running ones have.
    public var maxErrors: Amount?
    /// Nodes are launched in batches of this many; a batch starts when the previous one ended.
    public var batchSize: Amount?
    /// Seconds between the end of a batch (or of the canaries) and the start of the next.
    public var batchWait: Double?
    /// Run on the first N nodes first; stop the job if any of them fails.
    public var canary: Int?

    public init(maxConcurrency: Amount? = nil, maxErrors: Amount? = nil, batchSize: Amount? = nil,
                batchWait: Double? = nil, canary: Int? = nil) {
        self.maxConcurrency = maxConcurrency
        self.maxErrors = maxErrors
        self.batchSize = batchSize
        self.batchWait = batchWait
        self.canary = canary
    }

    /// The request keys (top level of a job request, and the `rate_control` object of a job view).
    public static let keys: Set<String> = ["max_concurrency", "max_errors", "batch_size", "batch_wait", "canary"]

    /// True when nothing is limited (the job runs everywhere at once, as in the reference).
    public var isEmpty: Bool {
        maxConcurrency == nil && maxErrors == nil && batchSize == nil && batchWait == nil && canary == nil
    }

    /// The fields set, as JSON members (empty when nothing is limited).
    public var members: [(String, JSONValue)] {
        var o: [(String, JSONValue)] = []
        if let maxConcurrency { o.append(("max_concurrency", maxConcurrency.json)) }
        if let maxErrors { o.append(("max_errors", maxErrors.json)) }
        if let batchSize { o.append(("batch_size", batchSize.json)) }
        if let batchWait { o.append(("batch_wait", .number(batchWait))) }
        if let canary { o.append(("canary", .number(Double(canary)))) }
        return o
    }

    public var json: JSONValue { .object(members) }

    /// The longest a job under this rate control can run once it passed its vote: every wave of
    /// nodes may take the whole run timeout, and every pause between batches `batch_wait`.
    /// Clients bound their waits with it (a job in waves has no job-wide deadline).
    public func longestRun(nodeCount: Int, runTimeout: Int) -> Double {
        let n = max(1, nodeCount)
        let m = max(1, maxConcurrency?.resolve(nodeCount: n) ?? n)
        func waves(_ k: Int) -> Int { (k + m - 1) / m }
        let canaries = min(canary ?? 0, n)
        let rest = n - canaries
        var total = waves(canaries)
        var pauses = 0
        if let b = batchSize?.resolve(nodeCount: n), b > 0 {
            // Batches never overlap: each takes its own waves.
            let full = rest / b, last = rest % b
            total += full * waves(b) + waves(last)
            pauses = max(0, full + (last > 0 ? 1 : 0) - 1)
        } else {
            total += waves(rest)
        }
        if canaries > 0, rest > 0 { pauses += 1 }
        // Each wave may also wait for the engine's tick (a fraction of a second) to notice an end.
        return Double(total) * (Double(runTimeout) + 1) + Double(pauses) * (batchWait ?? 0)
    }

    /// Reads the rate-control keys of a JSON object (others are the caller's); nil when none is set.
    public static func parse(_ v: JSONValue) throws(JobValidationError) -> RateControl? {
        var r = RateControl()
        if let x = v["max_concurrency"] { r.maxConcurrency = try amount(x, "max_concurrency", example: "10 or \"25%\"") }
        if let x = v["max_errors"] { r.maxErrors = try amount(x, "max_errors", example: "2 or \"5%\"") }
        if let x = v["batch_size"] { r.batchSize = try amount(x, "batch_size", example: "50 or \"10%\"") }
        if let x = v["batch_wait"] {
            guard let n = x.doubleValue, n >= 0, n <= 86_400 else {
                throw JobValidationError("invalid batch_wait supplied (expected seconds between batches, 0 to 86400)")
            }
            r.batchWait = n
        }
        if let x = v["canary"] {
            guard let n = x.doubleValue, n >= 1, n.rounded() == n, n < 1e9 else {
                throw JobValidationError("invalid canary supplied (expected a whole number of nodes >= 1 to run first)")
            }
            r.canary = Int(n)
        }
        if r.batchWait != nil, r.batchSize == nil, r.canary == nil {
            throw JobValidationError("batch_wait needs batch_size (or canary): it is the pause between batches")
        }
        return r.isEmpty ? nil : r
    }

    static func amount(_ v: JSONValue, _ key: String, example: String) throws(JobValidationError) -> Amount {
        if let n = v.doubleValue {
            guard n >= 1, n.rounded() == n, n < 1e9 else {
                throw JobValidationError("invalid \(key) supplied (expected a whole number of nodes >= 1 or a percentage, e.g. \(example))")
            }
            return .count(Int(n))
        }
        guard let s = v.stringValue, s.hasSuffix("%"), let a = Amount.parse(s) else {
            throw JobValidationError("invalid \(key) supplied (expected a whole number of nodes >= 1 or a percentage above 0% and at most 100%, e.g. \(example))")
        }
        return a
    }
}
