import FoundationEssentials
import PushyProtocol

/// One distinct output of a job, with every node that produced exactly these bytes (issue 13:
/// read the output of 1,000 nodes once per variant, not 1,000 times).
public struct OutputGroup: Sendable, Equatable {
    public var bytes: [UInt8]
    /// Whether the agents cut these bytes to their tail (spec 12 point 8).
    public var truncated: Bool
    /// In the order the nodes were given.
    public var nodes: [String]

    public init(bytes: [UInt8], truncated: Bool, nodes: [String]) {
        self.bytes = bytes
        self.truncated = truncated
        self.nodes = nodes
    }

    /// Groups per-node outputs by their exact bytes (and truncation), the largest group first;
    /// groups of one size keep the order of their first node.
    public static func group(_ outputs: [(node: String, bytes: [UInt8], truncated: Bool)]) -> [OutputGroup] {
        struct Key: Hashable {
            var bytes: [UInt8]
            var truncated: Bool
        }
        var index: [Key: Int] = [:]
        var groups: [OutputGroup] = []
        for o in outputs {
            let key = Key(bytes: o.bytes, truncated: o.truncated)
            if let i = index[key] {
                groups[i].nodes.append(o.node)
            } else {
                index[key] = groups.count
                groups.append(OutputGroup(bytes: o.bytes, truncated: o.truncated, nodes: [o.node]))
            }
        }
        // A stable sort: equal sizes keep first-seen order.
        return groups.enumerated().sorted { a, b in
            a.element.nodes.count != b.element.nodes.count ? a.element.nodes.count > b.element.nodes.count : a.offset < b.offset
        }.map(\.element)
    }

    /// The group as JSON: `count`, `nodes`, `truncated`, and the bytes as `data` with their
    /// `encoding` (`utf-8` when they are valid UTF-8, else `base64`).
    public var json: JSONValue {
        var o: [(String, JSONValue)] = [
            ("count", .number(Double(nodes.count))), ("nodes", .array(nodes.map(JSONValue.string))),
            ("truncated", .bool(truncated)),
        ]
        if let text = String(validating: bytes, as: UTF8.self) {
            o += [("encoding", .string("utf-8")), ("data", .string(text))]
        } else {
            o += [("encoding", .string("base64")), ("data", .string(Data(bytes).base64EncodedString()))]
        }
        return .object(o)
    }
}
