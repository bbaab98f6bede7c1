import PushyZMQ

/// What the engine needs from the ZeroMQ side: send to one agent, broadcast to all.
/// `ZMQServerTransport` is the real one; tests may record instead.
public protocol CommandTransport: Sendable {
    func send(to identity: [UInt8], frames: [[UInt8]])
    /// Many messages with one hand-off to the I/O thread.
    func sendBatch(_ messages: [(identity: [UInt8], frames: [[UInt8]])])
    func publish(_ frames: [[UInt8]])
    /// The last moment (seconds since 1970) every inbound message was in hand; nil when the
    /// transport cannot say (liveness is then judged at the clock's time).
    var caughtUpAt: Double? { get }
}

extension CommandTransport {
    public var caughtUpAt: Double? { nil }
}

extension ZMQServerTransport: CommandTransport {
    public var caughtUpAt: Double? { inboundCaughtUpAt }
}
