/// The keys a flat message reader looks for, as UTF-8, matched against a key's raw bytes.
struct JSONKeyTable: Sendable {
    let names: [[UInt8]]

    init(_ names: [String]) { self.names = names.map { Array($0.utf8) } }

    func index(of key: ArraySlice<UInt8>) -> Int? {
        names.firstIndex { $0.count == key.count && $0.elementsEqual(key) }
    }
}

extension JSONParser {
    /// Reads a document that must be one JSON object without building it: every member whose
    /// key is in `keys` is handed to `found` (key index, value) in document order; other members
    /// are parsed, so the text is checked as strictly as by `JSONValue.parse`, and dropped.
    /// Returns false when the document is valid JSON but not an object. Agent and server
    /// messages are read this way: one per message of every agent, no tree, no key strings.
    static func readObject(
        _ bytes: [UInt8], keys: JSONKeyTable, _ found: (Int, JSONValue) -> Void
    ) throws(JSONParseError) -> Bool {
        var p = JSONParser(bytes)
        p.skipWS()
        guard p.i < p.b.count, p.b[p.i] == UInt8(ascii: "{") else {
            _ = try p.parseDocument()
            return false
        }
        p.i += 1
        p.skipWS()
        if p.i < p.b.count, p.b[p.i] == UInt8(ascii: "}") {
            p.i += 1
        } else {
            while true {
                p.skipWS()
                guard p.i < p.b.count, p.b[p.i] == UInt8(ascii: "\"") else { throw p.fail("expected a string key") }
                let key = try p.parseKey(keys)
                p.skipWS()
                guard p.i < p.b.count, p.b[p.i] == UInt8(ascii: ":") else { throw p.fail("expected ':'") }
                p.i += 1
                p.skipWS()
                let value = try p.parseValue()
                if let key { found(key, value) }
                p.skipWS()
                guard p.i < p.b.count else { throw p.fail("unexpected end of input in object") }
                if p.b[p.i] == UInt8(ascii: ",") { p.i += 1; continue }
                if p.b[p.i] == UInt8(ascii: "}") { p.i += 1; break }
                throw p.fail("expected ',' or '}'")
            }
        }
        p.skipWS()
        if p.i != p.b.count { throw p.fail("unexpected trailing characters") }
        return true
    }

    /// A key's index in `keys` (nil when not there), compared on its bytes when it has no escapes.
    mutating func parseKey(_ keys: JSONKeyTable) throws(JSONParseError) -> Int? {
        let start = i + 1
        var end = start
        while end < b.count, b[end] != UInt8(ascii: "\""), b[end] != UInt8(ascii: "\\"), b[end] >= 0x20 { end += 1 }
        if end < b.count, b[end] == UInt8(ascii: "\""), let k = keys.index(of: b[start..<end]) {
            i = end + 1
            return k
        }
        // Escapes, an unknown key or bad text: the full string rules decide.
        let s = try parseString()
        return keys.index(of: ArraySlice(s.utf8))
    }
}
