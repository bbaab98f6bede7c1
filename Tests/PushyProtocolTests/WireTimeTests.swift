import Foundation
import Testing

@testable import PushyProtocol

/// RFC 1123 (REST, ZeroMQ), ISO 8601 (request signing) and the SSE feed timestamp.
@Suite(.timeLimit(.minutes(2))) struct WireTimeTests {
    /// Known instants in all three forms (checked with `date -u -d @<seconds>`).
    static let known: [(Double, String, String)] = [
        (1_346_799_662, "Tue, 04 Sep 2012 23:01:02 GMT", "2012-09-04T23:01:02Z"),
        (1_346_800_676, "Tue, 04 Sep 2012 23:17:56 GMT", "2012-09-04T23:17:56Z"),
        (0, "Thu, 01 Jan 1970 00:00:00 GMT", "1970-01-01T00:00:00Z"),
        (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT", "2000-02-29T00:00:00Z"),
        (1_709_251_199, "Thu, 29 Feb 2024 23:59:59 GMT", "2024-02-29T23:59:59Z"),
        (4_102_444_800, "Fri, 01 Jan 2100 00:00:00 GMT", "2100-01-01T00:00:00Z"),
        (1_000_000_000, "Sun, 09 Sep 2001 01:46:40 GMT", "2001-09-09T01:46:40Z"),
        // Years under 1000 are written in four digits, so the parsers read them back (the fuzz-signing
        // harness found `0112-09-04T05:02:22Z` formatted as `112-09-04T05:02:22Z`).
        (-58_611_495_458, "Sun, 04 Sep 0112 05:02:22 GMT", "0112-09-04T05:02:22Z"),
        (-62_135_596_800, "Mon, 01 Jan 0001 00:00:00 GMT", "0001-01-01T00:00:00Z"),
    ]

    @Test(arguments: known)
    func knownDatesBothWays(_ seconds: Double, _ rfc: String, _ iso: String) {
        let date = Date(timeIntervalSince1970: seconds)
        #expect(WireTime.rfc1123(date) == rfc)
        #expect(WireTime.iso8601(date) == iso)
        #expect(WireTime.parseRFC1123(rfc) == date)
        #expect(WireTime.parseISO8601(iso) == date)
    }

    @Test func fractionsAreTruncatedToTheSecond() {
        let date = Date(timeIntervalSince1970: 1_346_799_662.999)
        #expect(WireTime.rfc1123(date) == "Tue, 04 Sep 2012 23:01:02 GMT")
        #expect(WireTime.iso8601(date) == "2012-09-04T23:01:02Z")
    }

    @Test func weekdayIsNotChecked() {
        #expect(WireTime.parseRFC1123("Mon, 04 Sep 2012 23:01:02 GMT") == Date(timeIntervalSince1970: 1_346_799_662))
    }

    @Test(arguments: [
        "", "Tue, 04 Sep 2012 23:01:02", "Tue, 04 Sep 2012 23:01:02 UTC", "Tue, 04 Foo 2012 23:01:02 GMT",
        "Tue, 32 Sep 2012 23:01:02 GMT", "Tue, 00 Sep 2012 23:01:02 GMT", "Tue, 04 Sep 2012 24:00:00 GMT",
        "Tue, 04 Sep 2012 23:60:00 GMT", "Tue, 04 Sep 2012 23:01 GMT", "Tue, 04 Sep 2012 23:01:xx GMT",
        "Tue, 04 Sep 2012 23:-1:02 GMT", "Tue, 30 Feb 2012 23:01:02 GMT", "Tue, 29 Feb 2013 00:00:00 GMT",
        "Tue, 04 Sep 99999999999 23:01:02 GMT", "Tue, 04 Sep -5 23:01:02 GMT", "2012-09-04T23:01:02Z",
    ])
    func badRFC1123IsNil(_ text: String) {
        #expect(WireTime.parseRFC1123(text) == nil)
    }

    @Test(arguments: [
        "", "2012-09-04T23:01:02", "2012-09-04 23:01:02Z", "2012-09-04T23:01:02+00:00", "2012-13-04T23:01:02Z",
        "2012-00-04T23:01:02Z", "2012-09-31T23:01:02Z", "2012-09-04T25:01:02Z", "2012-09-04T23:01:02.5Z",
        "20a2-09-04T23:01:02Z", "2012-09-04t23:01:02z", "Tue, 04 Sep 2012 23:01:02 GMT",
    ])
    func badISO8601IsNil(_ text: String) {
        #expect(WireTime.parseISO8601(text) == nil)
    }

    @Test func feedHasSixDigitMicroseconds() {
        #expect(WireTime.feed(Date(timeIntervalSince1970: 1_346_799_662)) == "2012-09-04 23:01:02.000000Z")
        #expect(WireTime.feed(Date(timeIntervalSince1970: 1_346_799_662.5)) == "2012-09-04 23:01:02.500000Z")
        #expect(WireTime.feed(Date(timeIntervalSince1970: 1_346_799_662.000_042)) == "2012-09-04 23:01:02.000042Z")
        #expect(WireTime.feed(Date(timeIntervalSince1970: 1_346_799_662.123_456)) == "2012-09-04 23:01:02.123456Z")
        // Just below the next second rounds up into it rather than printing seven digits.
        #expect(WireTime.feed(Date(timeIntervalSince1970: 1_346_799_662.999_999_9)) == "2012-09-04 23:01:03.000000Z")
    }

    @Test func feedShapeForManyInstants() throws {
        let shape = try Regex(#"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}Z$"#)
        for i in 0..<2000 {
            let text = WireTime.feed(Date(timeIntervalSince1970: 1_700_000_000 + Double(i) * 0.000_731_3))
            #expect(text.wholeMatch(of: shape) != nil, "\(text)")
        }
    }

    @Test func fixedFormatFastPathAgreesWithTheCalendar() {
        var g = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let date = Date(timeIntervalSince1970: Double(Int.random(in: -2_000_000_000...6_000_000_000, using: &g)))
            let text = WireTime.rfc1123(date)
            #expect(WireTime.parseFixedRFC1123(text) == date, "\(text)")
        }
        #expect(WireTime.parseFixedRFC1123("Thu, 29 Feb 2024 12:00:00 GMT") == Date(timeIntervalSince1970: 1_709_208_000))
        #expect(WireTime.parseFixedRFC1123("Thu, 29 Feb 2023 12:00:00 GMT") == nil)
        #expect(WireTime.parseFixedRFC1123("Thu, 31 Apr 2023 12:00:00 GMT") == nil)
        #expect(WireTime.parseFixedRFC1123("Thu, 01 Foo 2023 12:00:00 GMT") == nil)
        #expect(WireTime.parseFixedRFC1123("Thu, 01 Jan 2023 24:00:00 GMT") == nil)
    }
}
