import FoundationEssentials

/// The `X-Ops-Timestamp` format: ISO 8601 UTC to the second, `YYYY-MM-DDTHH:MM:SSZ`, in the
/// proleptic Gregorian calendar ISO 8601 prescribes, for years 0001 to 9999. (Foundation's
/// formatter counts Julian days before the reform of 1582; both agree from then on.)
public enum ChefTimestamp {
    private static let style = Date.ISO8601FormatStyle()

    /// Formats `date` (sub-second part dropped). Years outside 0001–9999, which no request
    /// carries, are left to Foundation's formatter.
    public static func format(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970
        // Beyond any year 9999 (or not a number): Foundation's formatter, no integer conversion.
        guard seconds.isFinite, abs(seconds) < 1e12 else { return style.format(date) }
        let t = Int(seconds.rounded(.down))
        var days = t / 86_400, second = t % 86_400
        if second < 0 {
            second += 86_400
            days -= 1
        }
        let (year, month, day) = civil(fromDays: days)
        guard (1...9999).contains(year) else { return style.format(Date(timeIntervalSince1970: Double(t))) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(20)
        func put(_ n: Int, _ width: Int, then separator: Character) {
            var digits = [UInt8](repeating: UInt8(ascii: "0"), count: width), v = n
            for i in stride(from: width - 1, through: 0, by: -1) {
                digits[i] = UInt8(48 + v % 10)
                v /= 10
            }
            bytes += digits
            bytes.append(separator.asciiValue!)
        }
        put(year, 4, then: "-")
        put(month, 2, then: "-")
        put(day, 2, then: "T")
        put(second / 3_600, 2, then: ":")
        put(second / 60 % 60, 2, then: ":")
        put(second % 60, 2, then: "Z")
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Parses exactly `YYYY-MM-DDTHH:MM:SSZ` with valid field values (a real day of the
    /// proleptic Gregorian calendar, year 0001 or later, no leap second); anything else is nil.
    /// Plain arithmetic on the bytes: every signed request's timestamp is parsed, and Foundation's
    /// parser with a formatted round trip cost ≈ 40 µs of the server's CPU a request.
    public static func parse(_ text: String) -> Date? {
        var text = text
        return text.withUTF8 { b -> Date? in
            guard b.count == 20, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"), b[10] == UInt8(ascii: "T"),
                  b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"), b[19] == UInt8(ascii: "Z") else { return nil }
            func number(_ at: Int, _ count: Int) -> Int? {
                var n = 0
                for i in at..<(at + count) {
                    let d = Int(b[i]) - 48
                    guard d >= 0, d <= 9 else { return nil }
                    n = n * 10 + d
                }
                return n
            }
            guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
                  let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
                  year >= 1, (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
                  hour <= 23, minute <= 59, second <= 59 else { return nil }
            let seconds = daysFromEpoch(year: year, month: month, day: day) * 86_400 + hour * 3_600 + minute * 60 + second
            return Date(timeIntervalSince1970: Double(seconds))
        }
    }

    /// The day of the proleptic Gregorian calendar `days` after 1970-01-01 (the inverse of
    /// `daysFromEpoch`).
    static func civil(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 to the given day of the proleptic Gregorian calendar (negative
    /// before it), counted in 400-year eras from 0000-03-01.
    static func daysFromEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
