import PushyCore
import PushyProtocol

/// Identifies a node across orgs.
struct NodeKey: Hashable, Sendable {
    var org: String
    var node: String
}

/// The server's view of one connected node (spec 6.1 node FSM): present = online; `rehab`
/// = unavailable until it answers `aborted`; `idle` = available. A class owned by the engine's
/// actor, so handling a message looks the node up once and changes it in place.
final class NodeSession {
    enum State: Sendable { case rehab, idle }

    var identity: [UInt8]
    var incarnation: String
    var state: State = .rehab
    var liveness: NodeLiveness
    var lastAbortAt: Double = 0
    /// Last sequence number received on the current connection (replay protection).
    var lastInboundSequence: Int = 0
    /// Last sequence number sent; carried over from the node's previous session, so it keeps
    /// increasing on the agent's side for the whole server run (agents drop replays).
    var outboundSequence: Int
    /// The node's session key, keyed (from `SessionKeyTable`, which never changes a key).
    let mac: SessionMAC

    init(identity: [UInt8], incarnation: String, liveness: NodeLiveness, outboundSequence: Int, mac: SessionMAC) {
        self.identity = identity
        self.incarnation = incarnation
        self.liveness = liveness
        self.outboundSequence = outboundSequence
        self.mac = mac
    }

    /// The next outbound sequence number.
    func nextSequence() -> Int {
        outboundSequence += 1
        return outboundSequence
    }
}
