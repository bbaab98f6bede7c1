import Foundation
import PushyProtocol
import Testing

@testable import PushyCore

/// Instants written as UTC ISO 8601 (`2026-03-29T01:00:00Z`).
func utc(_ s: String) -> Date {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime]
    return f.date(from: s)!
}

func zone(_ id: String) -> TimeZone { TimeZone(identifier: id)! }

@Suite(.timeLimit(.minutes(1)))
struct CronExpressionTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var expr: String
        var zone = "UTC"
        var after: String
        /// The next run times, in order.
        var expect: [String]
        var testDescription: String { "\(expr) in \(zone) after \(after)" }
    }

    static let fieldForms: [Case] = [
        Case(expr: "* * * * *", after: "2026-01-01T00:00:30Z", expect: ["2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z"]),
        Case(expr: "*/15 * * * *", after: "2026-01-01T00:07:00Z", expect: ["2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z"]),
        // A run time equal to `after` is not next: strictly after.
        Case(expr: "*/15 * * * *", after: "2026-01-01T00:15:00Z", expect: ["2026-01-01T00:30:00Z"]),
        Case(expr: "5-10/2 * * * *", after: "2026-01-01T00:00:00Z",
             expect: ["2026-01-01T00:05:00Z", "2026-01-01T00:07:00Z", "2026-01-01T00:09:00Z", "2026-01-01T01:05:00Z"]),
        Case(expr: "7/20 * * * *", after: "2026-01-01T00:00:00Z",
             expect: ["2026-01-01T00:07:00Z", "2026-01-01T00:27:00Z", "2026-01-01T00:47:00Z", "2026-01-01T01:07:00Z"]),
        Case(expr: "0,30 9-17 * * mon-fri", after: "2026-04-03T17:30:00Z", expect: ["2026-04-06T09:00:00Z", "2026-04-06T09:30:00Z"]),
        Case(expr: "15 3 * JAN,jul *", after: "2026-02-01T00:00:00Z", expect: ["2026-07-01T03:15:00Z", "2026-07-02T03:15:00Z"]),
        Case(expr: "0 12 1-3,20 * *", after: "2026-05-03T12:00:00Z", expect: ["2026-05-20T12:00:00Z", "2026-06-01T12:00:00Z"]),
        // Weekday 7 is Sunday, like 0.
        Case(expr: "0 0 * * 7", after: "2026-01-01T00:00:00Z", expect: ["2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"]),
        Case(expr: "0 0 * * sun", after: "2026-01-01T00:00:00Z", expect: ["2026-01-04T00:00:00Z"]),
        // Both day fields restricted: either matches (cron's rule). 2026-02-06 is a Friday.
        Case(expr: "0 0 13 * fri", after: "2026-02-01T00:00:00Z", expect: ["2026-02-06T00:00:00Z", "2026-02-13T00:00:00Z", "2026-02-20T00:00:00Z"]),
        Case(expr: "0 0 13 * *", after: "2026-02-01T00:00:00Z", expect: ["2026-02-13T00:00:00Z", "2026-03-13T00:00:00Z"]),
        // A restricted day-of-week with `*/n` days: both must match.
        Case(expr: "0 0 */10 * fri", after: "2026-01-01T00:00:00Z", expect: ["2026-05-01T00:00:00Z"]),
    ]

    static let macros: [Case] = [
        Case(expr: "@hourly", after: "2026-01-01T10:20:00Z", expect: ["2026-01-01T11:00:00Z", "2026-01-01T12:00:00Z"]),
        Case(expr: "@daily", after: "2026-01-01T10:20:00Z", expect: ["2026-01-02T00:00:00Z"]),
        Case(expr: "@midnight", after: "2026-01-01T10:20:00Z", expect: ["2026-01-02T00:00:00Z"]),
        Case(expr: "@weekly", after: "2026-01-01T10:20:00Z", expect: ["2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"]),
        Case(expr: "@monthly", after: "2026-01-31T10:20:00Z", expect: ["2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"]),
        Case(expr: "@yearly", after: "2026-01-01T00:00:00Z", expect: ["2027-01-01T00:00:00Z"]),
        Case(expr: "@annually", after: "2026-06-01T00:00:00Z", expect: ["2027-01-01T00:00:00Z"]),
        Case(expr: "@DAILY", zone: "Europe/Berlin", after: "2026-01-01T10:20:00Z", expect: ["2026-01-01T23:00:00Z"]),
    ]

    static let monthEndsAndLeapYears: [Case] = [
        // The 31st skips the months without one.
        Case(expr: "0 0 31 * *", after: "2026-04-15T00:00:00Z", expect: ["2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z", "2026-08-31T00:00:00Z"]),
        Case(expr: "0 0 30 * *", after: "2026-01-30T00:00:00Z", expect: ["2026-03-30T00:00:00Z"]),
        Case(expr: "59 23 28-31 2 *", after: "2026-02-27T00:00:00Z", expect: ["2026-02-28T23:59:00Z", "2027-02-28T23:59:00Z"]),
        Case(expr: "59 23 28-31 2 *", after: "2028-02-28T23:59:00Z", expect: ["2028-02-29T23:59:00Z", "2029-02-28T23:59:00Z"]),
        // 29 February: leap years only, and 2100 is not one.
        Case(expr: "0 0 29 2 *", after: "2026-01-01T00:00:00Z", expect: ["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"]),
        Case(expr: "0 0 29 2 *", after: "2096-03-01T00:00:00Z", expect: ["2104-02-29T00:00:00Z"]),
        Case(expr: "0 0 29 2 *", after: "2000-01-01T00:00:00Z", expect: ["2000-02-29T00:00:00Z"]),
        // Year end.
        Case(expr: "30 23 31 12 *", after: "2026-12-31T23:29:59Z", expect: ["2026-12-31T23:30:00Z", "2027-12-31T23:30:00Z"]),
    ]

    /// Clocks going forward skip an hour (its run times run once, at the first instant after
    /// the gap, with a note); going back repeats one (its run times run once, the first time).
    static let daylightSaving: [Case] = [
        // Berlin: 2026-03-29 02:00 CET -> 03:00 CEST (01:00Z); 2026-10-25 03:00 CEST -> 02:00 CET (01:00Z).
        Case(expr: "30 2 * * *", zone: "Europe/Berlin", after: "2026-03-28T12:00:00Z",
             expect: ["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"]),
        Case(expr: "*/15 2 * * *", zone: "Europe/Berlin", after: "2026-03-29T00:00:00Z",
             expect: ["2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z", "2026-03-30T00:15:00Z"]),
        Case(expr: "0 3 * * *", zone: "Europe/Berlin", after: "2026-03-28T12:00:00Z",
             expect: ["2026-03-29T01:00:00Z", "2026-03-30T01:00:00Z"]),
        Case(expr: "30 2 * * *", zone: "Europe/Berlin", after: "2026-10-24T12:00:00Z",
             expect: ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]),
        Case(expr: "0 * * * *", zone: "Europe/Berlin", after: "2026-10-24T23:30:00Z",
             expect: ["2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z", "2026-10-25T03:00:00Z"]),
        // New York: 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z); 2026-11-01 02:00 EDT -> 01:00 EST (06:00Z).
        Case(expr: "30 2 * * *", zone: "America/New_York", after: "2026-03-07T12:00:00Z",
             expect: ["2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"]),
        Case(expr: "30 1 * * *", zone: "America/New_York", after: "2026-10-31T12:00:00Z",
             expect: ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"]),
        // Started during the repeated hour's second pass: 01:30 already ran the first time.
        Case(expr: "30 1 * * *", zone: "America/New_York", after: "2026-11-01T06:10:00Z", expect: ["2026-11-02T06:30:00Z"]),
        Case(expr: "*/30 * * * *", zone: "America/New_York", after: "2026-11-01T05:10:00Z",
             expect: ["2026-11-01T05:30:00Z", "2026-11-01T07:00:00Z", "2026-11-01T07:30:00Z"]),
        // A 3-hour fall-back: Casey 2023-03-09 03:00 +11 -> 00:00 +08 (16:00Z). The repeated hours
        // run once (their first pass, before `after`); `next` skips early local times by the
        // zone's lowest offset, so the hour after the change is still found.
        Case(expr: "0 * * * *", zone: "Antarctica/Casey", after: "2023-03-08T15:30:00Z",
             expect: ["2023-03-08T19:00:00Z", "2023-03-08T20:00:00Z"]),
        // Southern hemisphere: Sydney goes forward 2026-10-04 02:00 AEST -> 03:00 AEDT (16:00Z the day before).
        Case(expr: "30 2 * * *", zone: "Australia/Sydney", after: "2026-10-03T00:00:00Z",
             expect: ["2026-10-03T16:00:00Z", "2026-10-04T15:30:00Z"]),
    ]

    @Test(arguments: fieldForms + macros + monthEndsAndLeapYears + daylightSaving)
    func nextRunTimes(_ c: Case) throws {
        let e = try CronExpression.parse(c.expr)
        let got = e.upcoming(after: utc(c.after), in: zone(c.zone), count: c.expect.count).map { ScheduleMachine.stamp($0.at) }
        #expect(got == c.expect)
    }

    @Test func aSkippedTimeSaysSo() throws {
        let berlin = try CronExpression.parse("30 2 * * *").next(after: utc("2026-03-28T12:00:00Z"), in: zone("Europe/Berlin"))
        #expect(berlin?.note == "02:30 does not exist on 2026-03-29 in Europe/Berlin (the clocks skip from 02:00 to 03:00); run once at 03:00")
        #expect(berlin?.local.description == "2026-03-29 02:30")
        let ny = try CronExpression.parse("30 2 * * *").next(after: utc("2026-03-07T12:00:00Z"), in: zone("America/New_York"))
        #expect(ny?.note == "02:30 does not exist on 2026-03-08 in America/New_York (the clocks skip from 02:00 to 03:00); run once at 03:00")
        // An ordinary day and a repeated hour carry no note.
        #expect(try CronExpression.parse("30 2 * * *").next(after: utc("2026-03-29T12:00:00Z"), in: zone("Europe/Berlin"))?.note == nil)
        #expect(try CronExpression.parse("30 1 * * *").next(after: utc("2026-10-31T12:00:00Z"), in: zone("America/New_York"))?.note == nil)
    }

    @Test func parsedFields() throws {
        let e = try CronExpression.parse("  0,30 */6 1-7 jan-mar,DEC 1-5/2 ")
        #expect(e.minutes == [0, 30])
        #expect(e.hours == [0, 6, 12, 18])
        #expect(e.daysOfMonth == Set(1...7))
        #expect(e.months == [1, 2, 3, 12])
        #expect(e.daysOfWeek == [1, 3, 5])
        #expect(e.description == "0,30 */6 1-7 jan-mar,DEC 1-5/2")
    }

    static let errors: [(String, String)] = [
        ("* * * *", "a cron expression has 5 fields (minute hour day-of-month month day-of-week), e.g. '30 2 * * 1-5'; '* * * *' has 4"),
        ("* * * * * *", "has 6"),
        ("61 * * * *", "invalid minute '61': 61 is outside 0-59"),
        ("* 24 * * *", "invalid hour '24': 24 is outside 0-23"),
        ("* * 0 * *", "invalid day-of-month '0': 0 is outside 1-31"),
        ("* * * 13 *", "invalid month '13': 13 is outside 1-12"),
        ("* * * * 8", "invalid day-of-week '8': 8 is outside 0-7"),
        ("* * * foo *", "invalid month 'foo': 'foo' is not a number from 1 to 12 or a name (jan, feb"),
        ("*/0 * * * *", "the step after '/' must be a whole number from 1 to 60, not '0'"),
        // A huge step used to overflow the expansion loop (a crash through POST /schedules).
        ("5/9223372036854775807 * * * *", "the step after '/' must be a whole number from 1 to 60, not '9223372036854775807'"),
        ("* */25 * * *", "the step after '/' must be a whole number from 1 to 24, not '25'"),
        ("5-2 * * * *", "invalid minute '5-2': range 5-2 runs backwards"),
        ("1,,2 * * * *", "invalid minute '1,,2': empty list item"),
        ("1/2/3 * * * *", "more than one '/'"),
        ("@fortnightly", "unknown macro '@fortnightly' (use @hourly, @daily, @weekly, @monthly or @yearly, or five fields)"),
        ("0 0 30 2 *", "'0 0 30 2 *' never runs: day 30 does not occur in the month(s) it names"),
        ("0 0 31 4,6,9,11 *", "never runs"),
    ]

    @Test(arguments: errors)
    func badExpressionsSayWhatIsWrong(_ text: String, _ expected: String) {
        #expect(throws: CronParseError.self) { try CronExpression.parse(text) }
        do { _ = try CronExpression.parse(text) } catch { #expect(error.message.contains(expected), "\(error.message)") }
    }

    @Test func civilDates() {
        #expect(CivilDate(daysSinceEpoch: 0).description == "1970-01-01")
        #expect(CivilDate(daysSinceEpoch: 0).weekday == 4)
        #expect(CivilDate(daysSinceEpoch: -1).description == "1969-12-31")
        #expect(CivilDate(daysSinceEpoch: 11016).description == "2000-02-29")
    }
}
