import PushyZMQ

/// What the engine needs from the ZeroMQ side: send to one agent, broadcast to all.
/// `ZMQServerTransport` is the real one; tests may record instead.
public protocol CommandTransport: Sendable {
    func send(to identity: [UInt8], frames: [[UInt8]])
    /// Many messages with one hand-off to the I/O thread.
    func sendBatch(_ messages: [(identity: [UInt8], frames: [[UInt8]])])
    func publish(_ frames: [[UInt8]])
}

extension ZMQServerTransport: CommandTransport {}
