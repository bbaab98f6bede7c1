#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FoundationEssentials
import Synchronization

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

    /// The year in at least four digits (`0112`), as both formats require.
    static func year(_ t: tm) -> String {
        let year = t.tm_year + 1900
        return year >= 0 ? pad(year, 4) : String(year)
    }

    /// `Tue, 04 Sep 2012 23:01:02 GMT`. Every message carries one and most are sent within the
    /// same second as the previous, so the last second's text is kept.
    public static func rfc1123(_ date: Date) -> String {
        let second = Int(floor(date.timeIntervalSince1970))
        if let cached = lastRFC1123.withLock({ $0.second == second ? $0.text : nil }) { return cached }
        let text = formatRFC1123(date)
        lastRFC1123.withLock { $0 = (second, text) }
        return text
    }

    private static let lastRFC1123 = Mutex<(second: Int, text: String)>((Int.min, ""))

    static func formatRFC1123(_ date: Date) -> String {
        let t = components(date)
        return "\(days[Int(t.tm_wday)]), \(pad(t.tm_mday)) \(months[Int(t.tm_mon)]) \(year(t)) "
            + "\(pad(t.tm_hour)):\(pad(t.tm_min)):\(pad(t.tm_sec)) GMT"
    }

    /// `2012-09-04T23:01:02Z` (request signing).
    public static func iso8601(_ date: Date) -> String {
        let t = components(date)
        return "\(year(t))-\(pad(t.tm_mon + 1))-\(pad(t.tm_mday))T\(pad(t.tm_hour)):\(pad(t.tm_min)):\(pad(t.tm_sec))Z"
    }

    /// `2012-09-04 23:01:02.123456Z` (SSE data timestamps).
    public static func feed(_ date: Date) -> String {
        // Round to whole microseconds first (truncating 0.123456 can give 123455), carrying into the second.
        let total = (date.timeIntervalSince1970 * 1_000_000).rounded()
        let seconds = floor(total / 1_000_000)
        let t = components(Date(timeIntervalSince1970: seconds))
        let micros = Int32(total - seconds * 1_000_000)
        return "\(year(t))-\(pad(t.tm_mon + 1))-\(pad(t.tm_mday)) \(pad(t.tm_hour)):\(pad(t.tm_min)):\(pad(t.tm_sec)).\(pad(micros, 6))Z"
    }

    /// Parses RFC 1123 (`Tue, 04 Sep 2012 23:01:02 GMT`); the weekday is not checked.
    public static func parseRFC1123(_ text: String) -> Date? {
        if let fast = parseFixedRFC1123(text) { return fast }
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT", let day = Int(parts[1]),
            let month = months.firstIndex(of: String(parts[2])), let year = Int(parts[3])
        else { return nil }
        let hms = parts[4].split(separator: ":").compactMap { Int($0) }
        guard hms.count == 3 else { return nil }
        return make(year: year, month: month + 1, day: day, hour: hms[0], minute: hms[1], second: hms[2])
    }

    /// The common exact form `Www, DD Mon YYYY HH:MM:SS GMT` (29 bytes) without splitting or
    /// libc calls: every agent message carries one. Anything else goes the general way.
    static func parseFixedRFC1123(_ text: String) -> Date? {
        var text = text
        return text.withUTF8 { u -> Date? in
            guard u.count == 29, u[3] == UInt8(ascii: ","), u[4] == 0x20, u[7] == 0x20, u[11] == 0x20, u[16] == 0x20,
                u[19] == UInt8(ascii: ":"), u[22] == UInt8(ascii: ":"), u[25] == 0x20, u[26] == UInt8(ascii: "G"),
                u[27] == UInt8(ascii: "M"), u[28] == UInt8(ascii: "T")
            else { return nil }
            func num(_ from: Int, _ count: Int) -> Int? {
                var v = 0
                for i in from..<(from + count) {
                    guard (0x30...0x39).contains(u[i]) else { return nil }
                    v = v * 10 + Int(u[i] - 0x30)
                }
                return v
            }
            guard let day = num(5, 2), let year = num(12, 4), let hour = num(17, 2), let minute = num(20, 2),
                let second = num(23, 2), let month = monthBytes.firstIndex(where: { $0[0] == u[8] && $0[1] == u[9] && $0[2] == u[10] })
            else { return nil }
            return civil(year: year, month: month + 1, day: day, hour: hour, minute: minute, second: second)
        }
    }

    private static let monthBytes = months.map { Array($0.utf8) }

    /// Seconds since 1970 for a proleptic Gregorian UTC date by arithmetic (Howard Hinnant's
    /// days-from-civil); nil for an impossible date such as 30 Feb.
    static func civil(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) -> Date? {
        guard (1...9999).contains(year), (1...12).contains(month), (0...23).contains(hour), (0...59).contains(minute),
            (0...60).contains(second)
        else { return nil }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard (1...monthDays[month - 1]).contains(day) else { return nil }
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return Date(timeIntervalSince1970: TimeInterval(days * 86_400 + hour * 3_600 + minute * 60 + second))
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
