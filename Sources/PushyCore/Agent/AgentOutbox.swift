import PushyProtocol

/// The agent's record of its job messages (acks, results, output: everything but heartbeats)
/// until the socket has taken them, so none is lost to a reconnect (issue 11).
///
/// On a connection, each job message gets the next number; the transport counts how many it
/// handed to libzmq, in order (`handedOver`), so the messages numbered above that count when
/// the connection closes never left, and are sent again first thing on the next connection.
/// A message asked for while there is no connection waits here too. A value: the runtime owns
/// the sockets and says what happened.
public struct AgentOutbox: Sendable {
    /// Job messages given to the current connection, with their numbers, oldest first.
    public private(set) var inFlight: [(number: Int, message: AgentMessage)] = []
    /// Job messages waiting for the next connection, in the order they were first sent.
    public private(set) var carryOver: [AgentMessage] = []
    /// Job messages given to the current connection so far.
    public private(set) var sentOnConnection = 0

    public init() {}

    /// Whether `message` must not be lost (everything but heartbeats, which the next one replaces).
    public static func mustDeliver(_ message: AgentMessage) -> Bool { message.messageType != .heartbeat }

    /// Records a job message about to be given to the current connection (whose transport has
    /// handed over `handedOver` so far); returns nothing to do for heartbeats.
    public mutating func sending(_ message: AgentMessage, handedOver: Int) {
        guard Self.mustDeliver(message) else { return }
        forget(handedOver: handedOver)
        sentOnConnection += 1
        inFlight.append((sentOnConnection, message))
    }

    /// A job message asked for while there is no connection: it waits for the next one.
    public mutating func hold(_ message: AgentMessage) {
        guard Self.mustDeliver(message) else { return }
        carryOver.append(message)
    }

    /// Drops what the transport has taken (the first `handedOver` of this connection).
    public mutating func forget(handedOver: Int) {
        guard let first = inFlight.first, first.number <= handedOver else { return }
        inFlight.removeFirst(inFlight.prefix { $0.number <= handedOver }.count)
    }

    /// The connection closed after its transport handed over `handedOver` job messages: the rest
    /// join `carryOver`, ahead of anything held since. Returns how many were not sent.
    @discardableResult
    public mutating func connectionClosed(handedOver: Int) -> Int {
        forget(handedOver: handedOver)
        let unsent = inFlight.map(\.message)
        carryOver = unsent + carryOver
        inFlight = []
        sentOnConnection = 0
        return unsent.count
    }

    /// A new connection is up: what must be sent on it first, in order.
    public mutating func takeCarryOver() -> [AgentMessage] {
        defer { carryOver = [] }
        return carryOver
    }
}
