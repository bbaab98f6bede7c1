/// When each node's liveness is next due for evaluation, bucketed by whole second: the tick
/// visits only the nodes whose EWMA interval has ended instead of scanning every session
/// (one wheel for all nodes, no per-node timers). A key is scheduled at most once: scheduling
/// it again moves it.
struct LivenessWheel<Key: Hashable> {
    private var buckets: [Int: [Key]] = [:]
    private var scheduled: [Key: Int] = [:]
    /// Seconds up to which every bucket has been drained.
    private var drainedThrough: Int?

    var count: Int { scheduled.count }

    /// Schedules `key` for an evaluation at or after `time` (replacing an earlier schedule).
    mutating func schedule(_ key: Key, at time: Double) {
        var second = Int(time.rounded(.up))
        if let d = drainedThrough, second <= d { second = d + 1 }
        if scheduled[key] == second { return }
        scheduled[key] = second
        buckets[second, default: []].append(key)
    }

    /// Removes and returns every key due at or before `now`, each once.
    mutating func due(at now: Double) -> [Key] {
        let upTo = Int(now.rounded(.down))
        let from = drainedThrough.map { $0 + 1 } ?? (buckets.keys.min() ?? upTo + 1)
        guard from <= upTo else { return [] }
        var out: [Key] = []
        for second in from...upTo {
            guard let keys = buckets.removeValue(forKey: second) else { continue }
            for k in keys where scheduled[k] == second {
                scheduled[k] = nil
                out.append(k)
            }
        }
        drainedThrough = upTo
        return out
    }
}
