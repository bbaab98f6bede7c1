import PushyCore

/// Identifies a node across orgs.
struct NodeKey: Hashable, Sendable {
    var org: String
    var node: String
}

/// The server's view of one connected node (spec 6.1 node FSM): present = online; `rehab`
/// = unavailable until it answers `aborted`; `idle` = available.
struct NodeSession: Sendable {
    enum State: Sendable { case rehab, idle }

    var identity: [UInt8]
    var incarnation: String
    var state: State = .rehab
    var liveness: NodeLiveness
    var lastAbortAt: Double = 0
    /// Last sequence number received on the current connection (replay protection).
    var lastInboundSequence: Int = 0
    /// Active jobs this node is part of.
    var jobs: Set<String> = []
}
