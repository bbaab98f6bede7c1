import PushyCore
import PushyProtocol

/// Identifies a node across orgs.
struct NodeKey: Hashable, Sendable {
    let org: String
    let node: String
    /// Both names hashed once, when the key is made: the engine looks a node up in several
    /// tables for each of its messages (issue 16), each lookup then hashes one integer.
    private let nameHash: Int

    init(org: String, node: String) {
        self.org = org
        self.node = node
        var h = Hasher()
        h.combine(org)
        h.combine(node)
        nameHash = h.finalize()
    }

    static func == (a: NodeKey, b: NodeKey) -> Bool { a.nameHash == b.nameHash && a.node == b.node && a.org == b.org }
    func hash(into hasher: inout Hasher) { hasher.combine(nameHash) }
}

/// One connected node: its state machine (`NodeMachine`: incarnation, replay protection,
/// rehab/idle, the job holding it) and liveness, plus what only the engine needs — the
/// connection to answer on, the MAC and the outbound sequence. Present = online. A class owned
/// by the engine's actor, so handling a message looks the node up once and changes it in place.
final class NodeSession {
    var identity: [UInt8]
    /// The connection `identity` replaced, if any, and when: a heartbeat arriving on it soon
    /// after is older than the node's messages on the new one (the transport holds heartbeats
    /// back, `CommandEngine.replacedConnectionGrace`).
    var replacedIdentity: [UInt8]?
    var replacedAt = -Double.infinity
    var machine: NodeMachine
    var liveness: NodeLiveness
    /// Last sequence number sent; carried over from the node's previous session, so it keeps
    /// increasing on the agent's side for the whole server run (agents drop replays).
    var outboundSequence: Int
    /// The node's session key, keyed (from `SessionKeyTable`, which never changes a key).
    let mac: SessionMAC
    /// When the node's last heartbeat arrived (seconds since 1970; the dashboard shows it).
    var lastHeartbeat: Double?
    /// The agent asked for `commit_run` (issue 16) when it fetched its config.
    let runsAtCommit: Bool

    init(identity: [UInt8], machine: NodeMachine, liveness: NodeLiveness, outboundSequence: Int, mac: SessionMAC,
         runsAtCommit: Bool = false) {
        self.identity = identity
        self.machine = machine
        self.liveness = liveness
        self.outboundSequence = outboundSequence
        self.mac = mac
        self.runsAtCommit = runsAtCommit
    }

    var isAvailable: Bool { machine.availability == .idle }

    /// The next outbound sequence number.
    func nextSequence() -> Int {
        outboundSequence += 1
        return outboundSequence
    }
}
