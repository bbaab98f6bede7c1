import FoundationEssentials
import PushyProtocol

/// When a schedule runs: a cron expression in a zone, or once at an instant.
public enum ScheduleTiming: Sendable, Equatable {
    case cron(CronExpression, zone: TimeZone)
    case at(Date)

    /// The first run time strictly after `t`, nil when there is none (a one-shot already past).
    public func next(after t: Date) -> CronExpression.Occurrence? {
        switch self {
        case .cron(let e, let zone): return e.next(after: t, in: zone)
        case .at(let d):
            guard d > t else { return nil }
            return CronExpression.Occurrence(at: d, local: LocalTime(date: CivilDate(daysSinceEpoch: 0), hour: 0, minute: 0), note: nil)
        }
    }

    /// Up to `count` run times after `t`.
    public func upcoming(after t: Date, count: Int) -> [CronExpression.Occurrence] {
        var out: [CronExpression.Occurrence] = []
        var cursor = t
        while out.count < count, let o = next(after: cursor) {
            out.append(o)
            cursor = o.at
        }
        return out
    }
}

/// What to do with runs whose time passed while the server was not running (or was too busy
/// to start them within the grace period).
public enum MissedRunPolicy: String, Sendable, CaseIterable {
    /// Record them as skipped and wait for the next run time (the default).
    case skip
    /// Run the latest of them once, and record the others as skipped.
    case runOnce = "run_once"
}

/// What to do when a run is due and the schedule's previous job is still going.
public enum OverlapPolicy: String, Sendable, CaseIterable {
    /// Record the run as skipped (the default).
    case skip
    /// Start it when the previous job ends (at most one waits; more are skipped).
    case queue
}

/// The scheduler's decisions for one schedule, as a pure function of its timing, policies,
/// what was handled so far and the time (issue 14). The caller performs the actions; a run is
/// only started once its tick's row is inserted (the store's UNIQUE(schedule, tick) decides
/// which server, or which life of the server, takes it).
public struct ScheduleMachine: Sendable {
    public var timing: ScheduleTiming
    public var missedRuns: MissedRunPolicy
    public var overlap: OverlapPolicy
    /// How late a run may start and still count as on time.
    public var grace: TimeInterval

    public init(timing: ScheduleTiming, missedRuns: MissedRunPolicy = .skip, overlap: OverlapPolicy = .skip,
                grace: TimeInterval = 60) {
        self.timing = timing
        self.missedRuns = missedRuns
        self.overlap = overlap
        self.grace = grace
    }

    /// What the schedule has handled.
    public struct State: Sendable, Equatable {
        /// Every run time up to and including this one has been fired, skipped or queued.
        public var cursor: Date
        /// A run time waiting for the previous job to end (overlap `queue`).
        public var queued: Date?

        public init(cursor: Date, queued: Date? = nil) {
            self.cursor = cursor
            self.queued = queued
        }
    }

    public enum Action: Sendable, Equatable {
        /// Start the run for `tick` (`note`: e.g. a DST gap moved it, or it waited in the queue).
        case fire(tick: Date, note: String?)
        /// Record `tick` as not run, and why.
        case skip(tick: Date, reason: String)
        /// `tick` waits for the previous job to end.
        case queue(tick: Date)
    }

    /// At most this many past run times are counted one by one when the server was down.
    static let missedScan = 1000

    /// The actions due at `now` and the state after them. `paused`: nothing runs, and run times
    /// passing meanwhile are dropped (not missed). `previousRunning`: the last run's job is still going.
    public func step(_ state: State, now: Date, paused: Bool, previousRunning: Bool) -> (State, [Action]) {
        var state = state
        if paused {
            state.queued = nil
            if let last = lastDue(after: state.cursor, now: now) { state.cursor = last.at }
            return (state, [])
        }
        var actions: [Action] = []
        // A queued run goes first, once the previous job has ended.
        if let q = state.queued, !previousRunning {
            actions.append(.fire(tick: q, note: "waited for the previous run to end (overlap: queue)"))
            state.queued = nil
        }
        var due: [CronExpression.Occurrence] = []
        var cursor = state.cursor
        while due.count < Self.missedScan, let o = timing.next(after: cursor), o.at <= now {
            due.append(o)
            cursor = o.at
        }
        var more = false
        if due.count == Self.missedScan, let last = lastDue(after: cursor, now: now) {
            more = true
            due.append(last)
        }
        guard let newest = due.last else { return (state, actions) }
        state.cursor = newest.at
        let late = due.filter { now.timeIntervalSince($0.at) > grace }
        let onTime = due.filter { now.timeIntervalSince($0.at) <= grace }
        var candidate: CronExpression.Occurrence? = onTime.last
        if !late.isEmpty {
            if candidate == nil && missedRuns == .runOnce {
                candidate = late.last
                if late.count > 1 {
                    let earlier = Array(late.dropLast())
                    let n = more ? "more than \(Self.missedScan)" : "\(earlier.count)"
                    actions.append(.skip(tick: earlier.last!.at, reason: "missed \(n) earlier run(s) \(Self.span(earlier, more: more)) while the server was not running; only the latest runs (missed_runs: run_once)"))
                }
            } else {
                let n = more ? "more than \(Self.missedScan)" : "\(late.count)"
                let why = candidate == nil ? "missed_runs: skip" : "a later run time is due now"
                actions.append(.skip(tick: late.last!.at, reason: "missed \(n) run(s) \(Self.span(late, more: more)) while the server was not running (\(why))"))
            }
        }
        // Several on-time run times at once (a loop that fell behind): only the newest runs.
        if onTime.count > 1 {
            actions.append(.skip(tick: onTime[onTime.count - 2].at,
                                 reason: "\(onTime.count - 1) run time(s) passed while the scheduler was busy; only the newest runs"))
        }
        guard let c = candidate else { return (state, actions) }
        let firedQueued = actions.contains { if case .fire = $0 { true } else { false } }
        if previousRunning || firedQueued {
            switch overlap {
            case .skip:
                actions.append(.skip(tick: c.at, reason: "the previous run was still going (overlap: skip)"))
            case .queue where state.queued == nil:
                state.queued = c.at
                actions.append(.queue(tick: c.at))
            case .queue:
                actions.append(.skip(tick: c.at, reason: "a run was already waiting for the previous one to end (overlap: queue keeps one)"))
            }
        } else {
            actions.append(.fire(tick: c.at, note: c.note))
        }
        return (state, actions)
    }

    /// The run times' span; with `more`, only the first is known exactly.
    static func span(_ ticks: [CronExpression.Occurrence], more: Bool) -> String {
        if more { return "from \(stamp(ticks[0].at)) on" }
        return ticks.count == 1 ? "at \(stamp(ticks[0].at))" : "from \(stamp(ticks[0].at)) to \(stamp(ticks.last!.at))"
    }

    /// The newest run time in (`after`, `now`], found without walking every one (a schedule
    /// every minute and a server down for a month).
    func lastDue(after: Date, now: Date) -> CronExpression.Occurrence? {
        var from = after
        // Jump close to now: run times are at most a few years apart (29 February).
        for back: TimeInterval in [3600, 86400, 86400 * 40, 86400 * 400, 86400 * 3000] where now.addingTimeInterval(-back) > after {
            if let o = timing.next(after: now.addingTimeInterval(-back)), o.at <= now { from = now.addingTimeInterval(-back); break }
        }
        var last: CronExpression.Occurrence?
        while let o = timing.next(after: from), o.at <= now {
            last = o
            from = o.at
        }
        return last
    }

    /// UTC, to the second, as the history shows it.
    public static func stamp(_ d: Date) -> String {
        let s = Int64(d.timeIntervalSince1970.rounded(.down))
        let day = CivilDate(daysSinceEpoch: CivilDate.floorDiv(s, 86400))
        let r = CivilDate.floorMod(s, 86400)
        return "\(day)T\(LocalTime.two(Int(r / 3600))):\(LocalTime.two(Int(r % 3600 / 60))):\(LocalTime.two(Int(r % 60)))Z"
    }
}
