extension ZMQServerTransport {
    /// Server socket settings. Defaults suit a server with thousands of agents.
    public struct Options: Sendable {
        /// ROUTER (command channel) bind address; a `tcp://…:0` port means "any free port".
        public var routerEndpoint: String
        /// PUB (heartbeat broadcast) bind address; `:0` as above.
        public var pubEndpoint: String
        /// Z85 server secret key; when set the ROUTER is a CURVE server.
        public var curveSecretKey: String?
        /// When set (requires `curveSecretKey`), a ZAP handler admits only CURVE clients whose
        /// raw 32-byte public key this returns true for. It runs on the I/O thread: keep it quick.
        /// Without it, a CURVE server accepts any client key (encryption without client allow-listing).
        public var zapAuthorizer: (@Sendable (_ clientPublicKey: [UInt8]) -> Bool)?
        /// When set, the transport counts its connections into this budget (socket monitors) and
        /// a ZAP handler refuses handshakes, CURVE and plaintext alike, once it is exceeded.
        public var connectionBudget: ConnectionBudget?
        /// With a budget: also ask ZAP about SUB handshakes on the PUB, refusing subscribers
        /// past the budget. libzmq then keeps a ZAP pipe per subscriber (≈ 10 KB, measured).
        public var screenSubscribers = false
        /// Pending-connection queue for both listeners (`ZMQ_BACKLOG`; libzmq's default is 100).
        public var backlog: Int32
        /// Per-subscriber PUB queue (`ZMQ_SNDHWM`); PUB silently drops beyond it.
        public var pubSendHighWaterMark: Int32
        /// Per-peer ROUTER send queue (`ZMQ_SNDHWM`); sends beyond it fail and are counted.
        public var routerSendHighWaterMark: Int32
        /// Per-peer ROUTER receive queue (`ZMQ_RCVHWM`).
        public var routerReceiveHighWaterMark: Int32
        /// Longest the I/O thread sleeps in `zmq_poll` before rechecking for shutdown.
        /// Outbound work and shutdown wake it at once, so this is only a safety net.
        public var pollTimeoutMilliseconds: Int
        /// Most messages read from the ROUTER before the thread serves its outbox again.
        public var receiveBatchLimit: Int
        /// Most received messages not yet reported handled (`consumed`) before the I/O thread
        /// stops reading the ROUTER (back-pressure instead of unbounded memory).
        public var inboundLimit: Int
        /// Largest frame the ROUTER and PUB accept (`ZMQ_MAXMSGSIZE`, bytes); a peer that sends a
        /// bigger one is disconnected before libzmq buffers it. -1 = no limit.
        public var maxFrameSize: Int64 = -1
        /// Received messages that may wait (idle heartbeats): the I/O thread holds those this
        /// says yes to and delivers them later in one batch, in order — once
        /// `inboundHoldMilliseconds` passed since the oldest, or once `receiveBatchLimit` are
        /// held, or, for one connection's, at once before the next message it says no to from
        /// that connection (order is kept per connection; other connections' held messages keep
        /// waiting). One hand-off per hold instead of one per message. nil: every batch is
        /// delivered at once.
        public var mayHold: (@Sendable (RouterMessage) -> Bool)?
        /// How long a held message may wait (see `mayHold`).
        public var inboundHoldMilliseconds = 100
        /// While messages are held and nothing was sent on the ROUTER for
        /// `promptAfterSendMilliseconds`, the ROUTER is read at most this often: an idle
        /// server's heartbeats are read a few dozen at a time instead of with a wake-up each
        /// (issue 16). An answer to anything the server sent is read at once. 0: always at once.
        public var quietReadMilliseconds = 100
        /// See `quietReadMilliseconds`.
        public var promptAfterSendMilliseconds = 10_000
        /// When set, received batches go to this function, called on the I/O thread, instead of
        /// `inbound` (which then only finishes at shutdown): the server checks them there and
        /// hands them on in one hop. It must not block. Its messages count as unhandled until
        /// `consumed`, as `inbound`'s do.
        public var inboundSink: (@Sendable ([RouterMessage]) -> Void)?

        public init(
            routerEndpoint: String = "tcp://*:10002",
            pubEndpoint: String = "tcp://*:10000",
            curveSecretKey: String? = nil,
            zapAuthorizer: (@Sendable (_ clientPublicKey: [UInt8]) -> Bool)? = nil,
            connectionBudget: ConnectionBudget? = nil,
            backlog: Int32 = 4096,
            pubSendHighWaterMark: Int32 = 100_000,
            routerSendHighWaterMark: Int32 = 1000,
            routerReceiveHighWaterMark: Int32 = 1000,
            pollTimeoutMilliseconds: Int = 250,
            receiveBatchLimit: Int = 512,
            inboundLimit: Int = 20_000
        ) {
            self.routerEndpoint = routerEndpoint
            self.pubEndpoint = pubEndpoint
            self.curveSecretKey = curveSecretKey
            self.zapAuthorizer = zapAuthorizer
            self.connectionBudget = connectionBudget
            self.backlog = backlog
            self.pubSendHighWaterMark = pubSendHighWaterMark
            self.routerSendHighWaterMark = routerSendHighWaterMark
            self.routerReceiveHighWaterMark = routerReceiveHighWaterMark
            self.pollTimeoutMilliseconds = pollTimeoutMilliseconds
            self.receiveBatchLimit = receiveBatchLimit
            self.inboundLimit = inboundLimit
        }
    }
}
