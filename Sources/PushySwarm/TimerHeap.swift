/// A binary min-heap of deadlines: the swarm's per-agent timers (heartbeats, command ends,
/// reconnects) without a task or a dispatch timer each.
struct TimerHeap {
    enum Kind { case connect, heartbeat, finish, reconfigure }

    struct Entry {
        var at: Double
        var slot: Int
        /// The agent's generation (session or job) when scheduled; a stale entry is ignored.
        var token: Int
        var kind: Kind
    }

    private var entries: [Entry] = []

    var count: Int { entries.count }

    mutating func push(_ e: Entry) {
        entries.append(e)
        var i = entries.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard entries[i].at < entries[parent].at else { break }
            entries.swapAt(i, parent)
            i = parent
        }
    }

    /// Removes and returns the earliest entry due at or before `now`.
    mutating func popDue(_ now: Double) -> Entry? {
        guard let first = entries.first, first.at <= now else { return nil }
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < entries.count, entries[l].at < entries[m].at { m = l }
                if r < entries.count, entries[r].at < entries[m].at { m = r }
                if m == i { break }
                entries.swapAt(i, m)
                i = m
            }
        }
        return first
    }
}
