/// What every agent of one job does, chosen per job and per agent so that each job sees a mix.
///
/// The job's command names the shares: `mix-f20-n10-s15-d300-l6000` = 20 % of the agents fail,
/// 10 % nack the commit, 15 % are slow; a normal command runs 0–300 ms, a slow one 6,000 ms.
/// Every field is optional (absent = 0). Which agents fail, nack or are slow is drawn from a hash
/// of the job id and the agent's index, so it differs from job to job but is the same for anyone
/// who asks (the soak can tell what an agent will do). A command not starting with `mix` has no
/// plan: agents then follow the swarm's fixed per-agent ratios.
public struct JobPlan: Sendable, Equatable {
    public var failPercent = 0
    public var nackPercent = 0
    public var slowPercent = 0
    public var durationMs = 0
    public var slowMs = 0

    public init(failPercent: Int = 0, nackPercent: Int = 0, slowPercent: Int = 0, durationMs: Int = 0, slowMs: Int = 0) {
        self.failPercent = failPercent
        self.nackPercent = nackPercent
        self.slowPercent = slowPercent
        self.durationMs = durationMs
        self.slowMs = slowMs
    }

    /// What one agent does in one job.
    public enum Outcome: Sendable, Equatable {
        case nack
        case run(seconds: Double, fails: Bool)
    }

    /// The command that carries this plan.
    public var command: String {
        "mix-f\(failPercent)-n\(nackPercent)-s\(slowPercent)-d\(durationMs)-l\(slowMs)"
    }

    /// The plan a command names, or nil when it is not a `mix` command (or a field is malformed).
    public static func parse(_ command: String) -> JobPlan? {
        let parts = command.split(separator: "-")
        guard parts.first == "mix" else { return nil }
        var p = JobPlan()
        for part in parts.dropFirst() {
            guard let key = part.first, let value = Int(part.dropFirst()), value >= 0 else { return nil }
            switch key {
            case "f": p.failPercent = min(value, 100)
            case "n": p.nackPercent = min(value, 100)
            case "s": p.slowPercent = min(value, 100)
            case "d": p.durationMs = value
            case "l": p.slowMs = value
            default: return nil
            }
        }
        return p
    }

    /// The outcome for the agent with global `index` in job `jobId`.
    public func outcome(jobId: String, index: Int) -> Outcome {
        if Self.draw(jobId, index, salt: 1) < Double(nackPercent) / 100 { return .nack }
        let fails = Self.draw(jobId, index, salt: 2) < Double(failPercent) / 100
        let seconds: Double
        if Self.draw(jobId, index, salt: 3) < Double(slowPercent) / 100 {
            seconds = Double(slowMs) / 1000
        } else {
            seconds = Self.draw(jobId, index, salt: 4) * Double(durationMs) / 1000
        }
        return .run(seconds: seconds, fails: fails)
    }

    /// A uniform value in [0, 1) from FNV-1a over the job id, the index and a salt.
    static func draw(_ jobId: String, _ index: Int, salt: UInt64) -> Double {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in jobId.utf8 {
            h ^= UInt64(b)
            h &*= 0x0000_0100_0000_01b3
        }
        for v in [UInt64(truncatingIfNeeded: index), salt] {
            for shift in stride(from: 0, to: 64, by: 8) {
                h ^= (v >> UInt64(shift)) & 0xff
                h &*= 0x0000_0100_0000_01b3
            }
        }
        // Finish with a murmur-style mix so neighbouring indexes are not correlated.
        h ^= h >> 33
        h &*= 0xff51_afd7_ed55_8ccd
        h ^= h >> 33
        return Double(h >> 11) / Double(1 << 53)
    }
}
