/// `GET node_states` entries and `GET node_states/{node}` (spec 2.3). Both read the same state
/// (spec 12 point 9), so the list carries `status` too.
public struct NodeStateView: Sendable, Equatable {
    public enum Status: String, Sendable { case online, offline }
    public enum Availability: String, Sendable { case available, unavailable }
    public var nodeName: String
    public var status: Status
    public var availability: Availability

    public init(nodeName: String, status: Status, availability: Availability) {
        self.nodeName = nodeName
        self.status = status
        self.availability = availability
    }

    public var json: JSONValue {
        ["node_name": .string(nodeName), "status": .string(status.rawValue), "availability": .string(availability.rawValue)]
    }

    public static func parse(_ v: JSONValue) -> NodeStateView? {
        guard let n = v["node_name"]?.stringValue else { return nil }
        return NodeStateView(
            nodeName: n, status: v["status"]?.stringValue.flatMap(Status.init(rawValue:)) ?? .online,
            availability: v["availability"]?.stringValue.flatMap(Availability.init(rawValue:)) ?? .unavailable)
    }
}
