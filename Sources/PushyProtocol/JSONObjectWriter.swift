/// Writes a flat JSON object member by member, straight into bytes: the same text as
/// `JSONValue.object(...).bytes` for the same members, without building the tree first.
/// Message bodies are written this way (one per message of every agent).
struct JSONObjectWriter {
    private(set) var out: [UInt8] = []

    init(capacity: Int = 256) {
        out.reserveCapacity(capacity)
        out.append(UInt8(ascii: "{"))
    }

    /// `"key":` (after a comma unless first); keys are plain ASCII, so nothing to escape.
    private mutating func key(_ k: StaticString) {
        if out.count > 1 { out.append(UInt8(ascii: ",")) }
        out.append(UInt8(ascii: "\""))
        k.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(UInt8(ascii: "\""))
        out.append(UInt8(ascii: ":"))
    }

    mutating func string(_ k: StaticString, _ v: String) {
        key(k)
        JSONValue.writeString(v, to: &out)
    }

    mutating func int(_ k: StaticString, _ v: Int) {
        key(k)
        if v.magnitude < 1_000_000_000_000_000 {
            out.append(contentsOf: String(v).utf8)
        } else {
            JSONValue.number(Double(v)).write(to: &out)
        }
    }

    mutating func bool(_ k: StaticString, _ v: Bool) {
        key(k)
        JSONValue.bool(v).write(to: &out)
    }

    mutating func value(_ k: StaticString, _ v: JSONValue) {
        key(k)
        v.write(to: &out)
    }

    /// The object's bytes, closed.
    mutating func finish() -> [UInt8] {
        out.append(UInt8(ascii: "}"))
        return out
    }
}
