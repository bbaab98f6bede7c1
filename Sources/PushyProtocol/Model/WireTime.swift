#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Time formats used on the wire: RFC 1123 in REST bodies and ZeroMQ messages, ISO 8601 in
/// request signing, and the SSE feed's microsecond timestamp. Hand-rolled because
/// DateFormatter is slow and not Sendable, and these formats are fixed.
public enum WireTime {
    static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func components(_ date: Date) -> tm {
        var t = time_t(floor(date.timeIntervalSince1970))
        var out = tm()
        gmtime_r(&t, &out)
        return out
    }

    static func pad(_ v: Int32, _ width: Int = 2) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    /// `Tue, 04 Sep 2012 23:01:02 GMT`
    public static func rfc1123(_ date: Date) -> String {
        let t = components(date)
        return "\(days[Int(t.tm_wday)]), \(pad(t.tm_mday)) \(months[Int(t.tm_mon)]) \(t.tm_year + 1900) "
            + "\(pad(t.tm_hour)):\(pad(t.tm_min)):\(pad(t.tm_sec)) GMT"
    }

    /// `2012-09-04T23:01:02Z` (request signing).
    public static func iso8601(_ date: Date) -> String {
        let t = components(date)
        return "\(t.tm_year + 1900)-\(pad(t.tm_mon + 1))-\(pad(t.tm_mday))T\(pad(t.tm_hour)):\(pad(t.tm_min)):\(pad(t.tm_sec))Z"
    }

    /// `2012-09-04 23:01:02.123456Z` (SSE data timestamps).
    public static func feed(_ date: Date) -> String {
        // Round to whole microseconds first (truncating 0.123456 can give 123455), carrying into the second.
        let total = (date.timeIntervalSince1970 * 1_000_000).rounded()
        let seconds = floor(total / 1_000_000)
        let t = components(Date(timeIntervalSince1970: seconds))
        let micros = Int32(total - seconds * 1_000_000)
        return "\(t.tm_year + 1900)-\(pad(t.tm_mon + 1))-\(pad(t.tm_mday)) \(pad(t.tm_hour)):\(pad(t.tm_min)):\(pad(t.tm_sec)).\(pad(micros, 6))Z"
    }

    /// Parses RFC 1123 (`Tue, 04 Sep 2012 23:01:02 GMT`); the weekday is not checked.
    public static func parseRFC1123(_ text: String) -> Date? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT", let day = Int(parts[1]),
            let month = months.firstIndex(of: String(parts[2])), let year = Int(parts[3])
        else { return nil }
        let hms = parts[4].split(separator: ":").compactMap { Int($0) }
        guard hms.count == 3 else { return nil }
        return make(year: year, month: month + 1, day: day, hour: hms[0], minute: hms[1], second: hms[2])
    }

    /// Parses `YYYY-MM-DDTHH:MM:SSZ`.
    public static func parseISO8601(_ text: String) -> Date? {
        let u = Array(text.utf8)
        guard u.count == 20, u[4] == UInt8(ascii: "-"), u[7] == UInt8(ascii: "-"), u[10] == UInt8(ascii: "T"),
            u[13] == UInt8(ascii: ":"), u[16] == UInt8(ascii: ":"), u[19] == UInt8(ascii: "Z")
        else { return nil }
        func num(_ r: Range<Int>) -> Int? {
            var v = 0
            for i in r {
                guard (0x30...0x39).contains(u[i]) else { return nil }
                v = v * 10 + Int(u[i] - 0x30)
            }
            return v
        }
        guard let y = num(0..<4), let mo = num(5..<7), let d = num(8..<10), let h = num(11..<13),
            let mi = num(14..<16), let s = num(17..<19)
        else { return nil }
        return make(year: y, month: mo, day: d, hour: h, minute: mi, second: s)
    }

    static func make(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) -> Date? {
        // The year bound also keeps `Int32(year - 1900)` from trapping on hostile input.
        guard (1...9999).contains(year), (1...12).contains(month), (1...31).contains(day), (0...23).contains(hour), (0...59).contains(minute),
            (0...60).contains(second)
        else { return nil }
        var t = tm()
        t.tm_year = Int32(year - 1900)
        t.tm_mon = Int32(month - 1)
        t.tm_mday = Int32(day)
        t.tm_hour = Int32(hour)
        t.tm_min = Int32(minute)
        t.tm_sec = Int32(second)
        var secs = timegm(&t)
        // timegm normalises 30 Feb to 2 Mar; such a date is invalid, not another day.
        var back = tm()
        gmtime_r(&secs, &back)
        guard back.tm_mday == Int32(day) || second == 60 else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(secs))
    }
}
