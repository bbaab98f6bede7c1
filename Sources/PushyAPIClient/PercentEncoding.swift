/// Percent-encoding for URL path segments and query values, by hand over UTF-8 bytes
/// (FoundationEssentials has no `addingPercentEncoding`). Gives what Foundation gave: every byte
/// outside the allowed ASCII set becomes `%XX` with upper-case hex.
enum PercentEncoding {
    /// Foundation's `CharacterSet.urlPathAllowed` without "/", "?" and "#": a path segment.
    static func isPathSegmentAllowed(_ byte: UInt8) -> Bool {
        isUnreserved(byte) || "!$&'()*+,:=@".utf8.contains(byte)
    }

    /// ASCII letters, digits and `-._~`: a query value.
    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            "-._~".utf8.contains(byte)
        }
    }

    static func encode(_ s: String, allowing allowed: (UInt8) -> Bool) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        for byte in s.utf8 {
            if allowed(byte) {
                out.append(byte)
            } else {
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
