import FoundationEssentials

/// The `X-Ops-Timestamp` format: ISO 8601 UTC to the second, `YYYY-MM-DDTHH:MM:SSZ`.
public enum ChefTimestamp {
    private static let style = Date.ISO8601FormatStyle()

    /// Formats `date` (sub-second part dropped).
    public static func format(_ date: Date) -> String {
        style.format(Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down)))
    }

    /// Parses exactly `YYYY-MM-DDTHH:MM:SSZ` with valid field values; anything else is nil.
    public static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count == 20 else { return nil }
        let separators: [Int: UInt8] = [4: UInt8(ascii: "-"), 7: UInt8(ascii: "-"), 10: UInt8(ascii: "T"),
                                        13: UInt8(ascii: ":"), 16: UInt8(ascii: ":"), 19: UInt8(ascii: "Z")]
        for (index, byte) in bytes.enumerated() {
            if let separator = separators[index] {
                guard byte == separator else { return nil }
            } else {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            }
        }
        guard let date = try? style.parse(text) else { return nil }
        // Round-tripping rejects out-of-range fields that a lenient parser might roll over.
        return format(date) == text ? date : nil
    }
}
