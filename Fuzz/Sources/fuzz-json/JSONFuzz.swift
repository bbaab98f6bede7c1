import FuzzSupport
@testable import PushyProtocol

/// Keys the member reader looks for in this harness: a few message fields (so the byte-compare
/// fast path hits) and ones that differ only in length or an escape.
private let keyTable = JSONKeyTable(["node", "job_id", "type", "a", "nod", "nodes", "\u{e9}", ""])

/// `JSONValue.parse` (REST bodies, node attributes) and the tree-less member reader
/// `JSONParser.readObject` (every agent and server message).
///
/// - Whatever parses serialises to text that parses to an equal value, and serialising is a fixed
///   point (the wire form is canonical).
/// - `readObject` agrees with `JSONValue.parse` exactly: the same inputs are rejected, it says
///   "object" exactly when the value is one, and it reports precisely the members whose key is in
///   its table, in document order, with equal values.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = fuzzBytes(data, count)
    let value: JSONValue?
    do { value = try JSONValue.parse(bytes) } catch { value = nil }

    var found: [(Int, JSONValue)] = []
    let isObject: Bool?
    do { isObject = try JSONParser.readObject(bytes, keys: keyTable) { found.append(($0, $1)) } } catch { isObject = nil }
    fuzzCheck((value == nil) == (isObject == nil), "JSONValue.parse and readObject disagree on validity")

    guard let value else { return 0 }
    fuzzCheck(isObject == (value.objectValue != nil), "readObject's object answer is wrong")
    if let pairs = value.objectValue {
        let expected = pairs.compactMap { k, v in keyTable.index(of: ArraySlice(k.utf8)).map { ($0, v) } }
        fuzzCheck(found.count == expected.count && zip(found, expected).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 },
                  "readObject reported \(found.map(\.0)) but the object has \(expected.map(\.0))")
    }

    let text = value.bytes
    let again: JSONValue
    do { again = try JSONValue.parse(text) } catch {
        fuzzCheck(false, "serialised value \(String(decoding: text, as: UTF8.self)) does not parse: \(error)")
        return 0
    }
    fuzzCheck(again == value, "round trip changed the value: \(String(decoding: text, as: UTF8.self))")
    fuzzCheck(again.bytes == text, "serialisation is not a fixed point")
    fuzzCheck(value.serialized() == String(decoding: text, as: UTF8.self), "serialized() differs from bytes")
    return 0
}

@_cdecl("fuzz_json_main")
public func fuzzJSONMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    fuzzMain(argc, argv, fuzzJSON)
}
