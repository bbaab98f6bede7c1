extension ZMQAgentTransport {
    /// Agent socket settings; the defaults are those of the Push Jobs client (spec 4.1).
    public struct Options: Sendable {
        /// The server's PUB endpoint (config `push_jobs.heartbeat.out_addr`).
        public var subEndpoint: String
        /// The server's ROUTER endpoint (config `push_jobs.heartbeat.command_addr`).
        public var dealerEndpoint: String
        /// The server's Z85 public key; when set the DEALER is a CURVE client and
        /// `curveKeyPair` is required.
        public var curveServerKey: String?
        /// This agent's own key pair (its public key is what the server's ZAP handler checks).
        public var curveKeyPair: CurveKeyPair?
        /// DEALER `ZMQ_SNDHWM`: queue at most this many messages while disconnected (spec: 3);
        /// beyond it sends fail with `EAGAIN`.
        public var sendHighWaterMark: Int32
        /// SUB `ZMQ_RCVHWM` (0 = unlimited). The DEALER's is always 0, as in the spec.
        public var subReceiveHighWaterMark: Int32
        /// Called on the I/O thread when a queued message could not be sent (e.g. `EAGAIN`
        /// when the high-water mark is reached); the Push Jobs client reconfigures then.
        /// Must not block. Failures are also counted in `counters.sendFailures`.
        public var onSendFailure: (@Sendable (ZMQError) -> Void)?
        /// Longest the I/O thread sleeps in `zmq_poll` before rechecking for shutdown.
        public var pollTimeoutMilliseconds: Int
        /// Buffering of `inbound` while its consumer lags.
        public var inboundBuffering: InboundBuffering

        public init(
            subEndpoint: String,
            dealerEndpoint: String,
            curveServerKey: String? = nil,
            curveKeyPair: CurveKeyPair? = nil,
            sendHighWaterMark: Int32 = 3,
            subReceiveHighWaterMark: Int32 = 0,
            onSendFailure: (@Sendable (ZMQError) -> Void)? = nil,
            pollTimeoutMilliseconds: Int = 250,
            inboundBuffering: InboundBuffering = .unbounded
        ) {
            self.subEndpoint = subEndpoint
            self.dealerEndpoint = dealerEndpoint
            self.curveServerKey = curveServerKey
            self.curveKeyPair = curveKeyPair
            self.sendHighWaterMark = sendHighWaterMark
            self.subReceiveHighWaterMark = subReceiveHighWaterMark
            self.onSendFailure = onSendFailure
            self.pollTimeoutMilliseconds = pollTimeoutMilliseconds
            self.inboundBuffering = inboundBuffering
        }
    }
}
