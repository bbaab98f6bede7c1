import PushyProtocol
import Synchronization

/// Every node's HMAC session key (spec 4.4), keyed once as a `SessionMAC`, shared by the
/// engine (which signs what it sends) and the inbound verifier (which checks what agents send,
/// off the engine's actor).
final class SessionKeyTable: Sendable {
    /// A class: a lookup for each agent message hands over a reference, not a copy of the keyed
    /// state (issue 16: a tuple's copy went through generic value witnesses).
    private final class Entry: Sendable {
        let key: [UInt8]
        let mac: SessionMAC

        init(key: [UInt8]) {
            self.key = key
            mac = SessionMAC(key: key)
        }
    }

    private let keys = Mutex<[NodeKey: Entry]>([:])

    /// The node's MAC, if it has fetched its config since this server started.
    func mac(for node: NodeKey) -> SessionMAC? {
        keys.withLock { $0[node] }?.mac
    }

    /// Whether `frame` (scanned) signs `body` with the node's key; nil when the node has none.
    func verify(_ node: NodeKey, frame: [UInt8], _ scanned: MessageHeader.Scanned, body: [UInt8]) -> Bool? {
        guard let entry = keys.withLock({ $0[node] }) else { return nil }
        return entry.mac.verify(frame: frame, scanned, body: body)
    }

    /// Nodes whose agent asked for `commit_run` in its last config request (issue 16). Kept
    /// beside the keys: an agent must fetch its config (and key) from this server process
    /// before it can say anything; only the node's own requests set it (`PushyAPI`).
    private let commitRun = Mutex<Set<NodeKey>>([])

    func setCommitRun(_ node: NodeKey, _ on: Bool) {
        commitRun.withLock { if on { $0.insert(node) } else { $0.remove(node) } }
    }

    func runsAtCommit(_ node: NodeKey) -> Bool { commitRun.withLock { $0.contains(node) } }

    /// The node's key, created (32 random bytes) on first request and kept for this process.
    func keyOrCreate(for node: NodeKey) -> [UInt8] {
        keys.withLock { keys in
            if let entry = keys[node] { return entry.key }
            var g = SystemRandomNumberGenerator()
            let key = (0..<32).map { _ in UInt8.random(in: 0...255, using: &g) }
            keys[node] = Entry(key: key)
            return key
        }
    }
}
