/// A message the ROUTER received: the peer's routing identity (assigned by libzmq, the
/// node's "address" in Push Jobs terms) and the frames the peer sent, normally `[header, body]`.
public struct RouterMessage: Sendable, Equatable {
    public var identity: [UInt8]
    public var frames: [[UInt8]]

    public init(identity: [UInt8], frames: [[UInt8]]) {
        self.identity = identity
        self.frames = frames
    }
}

/// What an agent receives: a server broadcast from the SUB socket, or a command-channel
/// message from the DEALER socket. Frames are passed on unvalidated; framing rules
/// (two frames, header limits) belong to the protocol layer.
public enum AgentInbound: Sendable, Equatable {
    case broadcast([[UInt8]])
    case command([[UInt8]])
}

/// How many received messages an inbound `AsyncStream` may hold while its consumer lags.
/// Messages beyond a bound are dropped (and counted in `TransportCounters.inboundDropped`).
public enum InboundBuffering: Sendable, Equatable {
    /// Never drop; memory grows while the consumer lags.
    case unbounded
    /// Keep the oldest `n`, drop new arrivals.
    case oldest(Int)
    /// Keep the newest `n`, drop the oldest.
    case newest(Int)

    func policy<T>(for _: T.Type) -> AsyncStream<T>.Continuation.BufferingPolicy {
        switch self {
        case .unbounded: .unbounded
        case .oldest(let n): .bufferingOldest(n)
        case .newest(let n): .bufferingNewest(n)
        }
    }
}
