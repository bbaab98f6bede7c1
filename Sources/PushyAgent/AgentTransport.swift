import PushyZMQ

/// What the runtime needs from one session's sockets: the server's messages in, signed frames
/// out, and how far the out side got. `ZMQAgentTransport` is the real one; tests record instead.
protocol AgentTransport: Sendable {
    /// Broadcasts and commands from the server; finishes after `close()`.
    var inbound: AsyncStream<AgentInbound> { get }
    /// Queues `frames`; false when the transport is closed.
    @discardableResult
    func send(_ frames: [[UInt8]], delivery: ZMQAgentTransport.Delivery) -> Bool
    /// Guaranteed messages the socket has taken so far.
    var handedOver: Int { get }
    /// Messages still waiting for the socket.
    var backlog: Int { get }
    /// Best-effort messages (heartbeats) the socket refused and dropped.
    var sendFailures: Int { get }
    func close()
}

extension ZMQAgentTransport: AgentTransport {
    var sendFailures: Int { counters.sendFailures }
}
