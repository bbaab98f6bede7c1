import FoundationEssentials
import PushyProtocol

/// A five-field cron expression (minute hour day-of-month month day-of-week) read in a named
/// IANA time zone (issue 14). Fields take `*`, numbers, ranges `a-b`, steps `*/n`, `a-b/n` and
/// `a/n`, and comma lists; months and weekdays also take names (`jan`, `mon`); weekday 7 is
/// Sunday like 0. `@hourly`, `@daily` (`@midnight`), `@weekly`, `@monthly`, `@yearly`
/// (`@annually`) stand for their usual expressions. When both day fields are restricted a day
/// matching either runs (cron's rule); otherwise both must match.
///
/// Daylight saving: a local time the clocks skip runs once at the first instant after the gap
/// (`Occurrence.note` says so); a local time that happens twice runs once, the first time.
public struct CronExpression: Sendable, Equatable, CustomStringConvertible {
    /// The text as given (trimmed).
    public let source: String
    public let minutes: Set<Int>
    public let hours: Set<Int>
    public let daysOfMonth: Set<Int>
    public let months: Set<Int>
    /// 0 = Sunday … 6 = Saturday.
    public let daysOfWeek: Set<Int>
    let domRestricted: Bool
    let dowRestricted: Bool

    public var description: String { source }

    static let macros: [String: String] = [
        "@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@weekly": "0 0 * * 0",
        "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *",
    ]
    static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    /// Parses `text`; the error says which field is wrong and how.
    public static func parse(_ text: String) throws(CronParseError) -> CronExpression {
        let source = text.trimmingWhitespace()
        var body = source
        if source.hasPrefix("@") {
            guard let m = macros[source.lowercased()] else {
                throw CronParseError("unknown macro '\(source)' (use @hourly, @daily, @weekly, @monthly or @yearly, or five fields)")
            }
            body = m
        }
        let parts = body.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard parts.count == 5 else {
            throw CronParseError("a cron expression has 5 fields (minute hour day-of-month month day-of-week), e.g. '30 2 * * 1-5'; '\(source)' has \(parts.count)")
        }
        let minutes = try field(parts[0], "minute", 0...59, names: [])
        let hours = try field(parts[1], "hour", 0...23, names: [])
        let dom = try field(parts[2], "day-of-month", 1...31, names: [])
        let months = try field(parts[3], "month", 1...12, names: monthNames, nameBase: 1)
        var dow = try field(parts[4], "day-of-week", 0...7, names: dayNames)
        if dow.remove(7) != nil { dow.insert(0) }
        let e = CronExpression(
            source: source, minutes: minutes, hours: hours, daysOfMonth: dom, months: months, daysOfWeek: dow,
            domRestricted: !parts[2].hasPrefix("*"), dowRestricted: !parts[4].hasPrefix("*"))
        // A day of month no chosen month has (e.g. 30 2) would never run: say so now.
        if e.domRestricted && !e.dowRestricted {
            let longest = months.map { CivilDate.maxDays(month: $0) }.max() ?? 31
            if (dom.min() ?? 1) > longest {
                throw CronParseError("'\(source)' never runs: day \(dom.min()!) does not occur in the month(s) it names")
            }
        }
        return e
    }

    /// One field: a comma list of `*`, `N`, `A-B`, each optionally `/STEP`.
    static func field(_ text: String, _ name: String, _ range: ClosedRange<Int>, names: [String], nameBase: Int = 0)
        throws(CronParseError) -> Set<Int> {
        func value(_ s: Substring) throws(CronParseError) -> Int {
            if let n = Int(s) {
                guard range.contains(n) else {
                    throw CronParseError("invalid \(name) '\(text)': \(n) is outside \(range.lowerBound)-\(range.upperBound)")
                }
                return n
            }
            if let i = names.firstIndex(of: s.lowercased()) { return i + nameBase }
            let hint = names.isEmpty ? "" : " or a name (\(names.joined(separator: ", ")))"
            throw CronParseError("invalid \(name) '\(text)': '\(s)' is not a number from \(range.lowerBound) to \(range.upperBound)\(hint)")
        }
        var out = Set<Int>()
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard !item.isEmpty else { throw CronParseError("invalid \(name) '\(text)': empty list item") }
            let stepParts = item.split(separator: "/", omittingEmptySubsequences: false)
            guard stepParts.count <= 2 else { throw CronParseError("invalid \(name) '\(text)': more than one '/' in '\(item)'") }
            var step = 1
            if stepParts.count == 2 {
                // At most the field's width: a larger step means the same, and a huge one would
                // overflow the loop below (a remote crash through POST /schedules).
                let widest = range.upperBound - range.lowerBound + 1
                guard let s = Int(stepParts[1]), (1...widest).contains(s) else {
                    throw CronParseError("invalid \(name) '\(text)': the step after '/' must be a whole number from 1 to \(widest), not '\(stepParts[1])'")
                }
                step = s
            }
            let base = stepParts[0]
            var lo: Int, hi: Int
            if base == "*" {
                (lo, hi) = (range.lowerBound, range.upperBound)
            } else if let dash = base.firstIndex(of: "-") {
                lo = try value(base[..<dash])
                hi = try value(base[base.index(after: dash)...])
                guard lo <= hi else { throw CronParseError("invalid \(name) '\(text)': range \(base) runs backwards; write the low value first (or a list)") }
            } else {
                lo = try value(base)
                // `N/STEP` means N through the end of the field.
                hi = stepParts.count == 2 ? range.upperBound : lo
            }
            var v = lo
            while v <= hi { out.insert(v); v += step }
        }
        return out
    }

    // MARK: Matching

    func matches(day d: CivilDate) -> Bool {
        guard months.contains(d.month) else { return false }
        let domOK = daysOfMonth.contains(d.day), dowOK = daysOfWeek.contains(d.weekday)
        if domRestricted && dowRestricted { return domOK || dowOK }
        return domOK && dowOK
    }

    /// When the expression next runs strictly after `after`, in `zone`; nil if not within
    /// `years` years (only a 29 February schedule gets near that).
    public func next(after: Date, in zone: TimeZone, years: Int = 9) -> Occurrence? {
        let clock = ZoneClock(zone)
        let afterSeconds = Int64(after.timeIntervalSince1970.rounded(.down))
        let startDay = CivilDate.floorDiv(afterSeconds + Int64(zone.secondsFromGMT(for: after)), 86400)
        let hs = hours.sorted(), ms = minutes.sorted()
        // A local time L stands for the instant L − offset; it is after `after` only if
        // L > after + (the offset then). Offsets over the days scanned first are at least the
        // smallest of the offsets now and a day and a half on (one clock change a day at most;
        // an hour kept besides), so earlier local times are skipped without asking the zone: a
        // pass late in the day does not convert every earlier minute of it.
        let lowestOffset = min(zone.secondsFromGMT(for: after), zone.secondsFromGMT(for: after.addingTimeInterval(129_600)))
        let earliestLocal = afterSeconds + Int64(lowestOffset) - 3600
        for dayNumber in startDay..<(startDay + Int64(366 * years)) {
            let d = CivilDate(daysSinceEpoch: dayNumber)
            guard matches(day: d) else { continue }
            for h in hs {
                guard dayNumber * 86400 + Int64(h * 3600 + 3599) >= earliestLocal else { continue }
                for m in ms {
                    let local = dayNumber * 86400 + Int64(h * 3600 + m * 60)
                    guard local >= earliestLocal else { continue }
                    let (instant, gap) = clock.instant(local: local)
                    guard instant > afterSeconds else { continue }
                    let localTime = LocalTime(date: d, hour: h, minute: m)
                    var note: String?
                    if let gap {
                        note = "\(localTime.clock) does not exist on \(localTime.dateText) in \(zone.identifier) (the clocks skip from \(gap.from) to \(gap.to)); run once at \(gap.to)"
                    }
                    return Occurrence(at: Date(timeIntervalSince1970: TimeInterval(instant)), local: localTime, note: note)
                }
            }
        }
        return nil
    }

    /// The next `count` run times after `after`.
    public func upcoming(after: Date, in zone: TimeZone, count: Int) -> [Occurrence] {
        var out: [Occurrence] = []
        var t = after
        while out.count < count, let o = next(after: t, in: zone) {
            out.append(o)
            t = o.at
        }
        return out
    }

    /// One run time: the instant, the local slot it stands for, and a note when the clocks
    /// skipped that local time.
    public struct Occurrence: Sendable, Equatable {
        public var at: Date
        public var local: LocalTime
        public var note: String?
    }
}

public struct CronParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A wall-clock minute in some zone.
public struct LocalTime: Sendable, Equatable, CustomStringConvertible {
    public var date: CivilDate
    public var hour: Int
    public var minute: Int

    public var clock: String { Self.two(hour) + ":" + Self.two(minute) }
    public var dateText: String { date.description }
    public var description: String { "\(dateText) \(clock)" }
    static func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
}

/// Turns local wall-clock seconds into an instant in one zone, handling offset changes.
struct ZoneClock {
    let zone: TimeZone
    init(_ zone: TimeZone) { self.zone = zone }

    func offset(_ t: Int64) -> Int64 { Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(t)))) }

    /// The instant of local time `local` (seconds since 1970 as if the zone were UTC). A time
    /// that happens twice gives the first; a skipped time gives the first instant after the gap,
    /// with the gap's local edges.
    func instant(local: Int64) -> (Int64, gap: (from: String, to: String)?) {
        // Real zones change offset at most once in a day either side.
        let before = offset(local - 86400), after = offset(local + 86400)
        var valid: [Int64] = []
        for o in Set([before, after]) where offset(local - o) == o { valid.append(local - o) }
        if let first = valid.min() { return (first, nil) }
        // In a gap: find the transition between the two candidate instants.
        var lo = min(local - before, local - after), hi = max(local - before, local - after)
        let startOffset = offset(lo)
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2
            if offset(mid) == startOffset { lo = mid } else { hi = mid }
        }
        func wall(_ t: Int64, _ o: Int64) -> String {
            let s = CivilDate.floorMod(t + o, 86400)
            return LocalTime.two(Int(s / 3600)) + ":" + LocalTime.two(Int((s % 3600) / 60))
        }
        return (hi, (wall(hi, startOffset), wall(hi, offset(hi))))
    }
}
