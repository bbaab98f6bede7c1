import FoundationEssentials

/// The `X-Ops-Timestamp` format: ISO 8601 UTC to the second, `YYYY-MM-DDTHH:MM:SSZ`.
public enum ChefTimestamp {
    private static let style = Date.ISO8601FormatStyle()

    /// Formats `date` (sub-second part dropped).
    public static func format(_ date: Date) -> String {
        style.format(Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down)))
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
