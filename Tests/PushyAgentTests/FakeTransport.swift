@testable import PushyAgent
import PushyProtocol
import PushyZMQ
import Synchronization

/// One session's sockets without sockets: the test delivers what the server would send, and
/// every message the agent sends is checked (HMAC), parsed and recorded.
final class FakeTransport: AgentTransport {
    let inbound: AsyncStream<AgentInbound>
    private let continuation: AsyncStream<AgentInbound>.Continuation
    private let sessionKey: [UInt8]
    private let taken = Mutex((guaranteed: 0, closed: false, taking: true))
    /// Every message the agent sent on this transport, in order.
    let sent = Recorder<AgentMessage>()
    /// Frames that did not verify or parse (should stay empty).
    let malformed = Recorder<[[UInt8]]>()
    /// Opened when the agent closes the transport.
    let closed = Recorder<Void>()

    init(sessionKey: [UInt8]) {
        self.sessionKey = sessionKey
        (inbound, continuation) = AsyncStream.makeStream(of: AgentInbound.self)
    }

    /// The server's command channel (DEALER side).
    func deliver(command frames: [[UInt8]]) { continuation.yield(.command(frames)) }
    /// The server's heartbeat broadcast (SUB side).
    func deliver(broadcast frames: [[UInt8]]) { continuation.yield(.broadcast(frames)) }

    /// From now on the socket takes nothing: sends are recorded but never counted as handed
    /// over, as when libzmq holds them for a peer that went away.
    func stopTaking() { taken.withLock { $0.taking = false } }

    /// The connection dies under the agent: its inbound stream ends (as when the I/O thread stops).
    func drop() { continuation.finish() }

    func send(_ frames: [[UInt8]], delivery: ZMQAgentTransport.Delivery) -> Bool {
        let open = taken.withLock { t -> Bool in
            guard !t.closed else { return false }
            if delivery == .guaranteed, t.taking { t.guaranteed += 1 }
            return true
        }
        guard open else { return false }
        guard frames.count == 2, MessageSigner.verifyHMAC(header: frames[0], body: frames[1], key: sessionKey),
              let message = try? AgentMessage.parse(frames[1])
        else {
            malformed.append(frames)
            return true
        }
        sent.append(message)
        return true
    }

    var handedOver: Int { taken.withLock { $0.guaranteed } }
    var backlog: Int { 0 }
    var sendFailures: Int { 0 }

    func close() {
        let first = taken.withLock { t -> Bool in
            defer { t.closed = true }
            return !t.closed
        }
        guard first else { return }
        continuation.finish()
        closed.append(())
    }
}
