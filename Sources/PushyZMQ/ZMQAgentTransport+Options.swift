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
        /// DEALER `ZMQ_SNDHWM`: libzmq holds at most this many messages (spec: 3); beyond it a
        /// guaranteed message waits in the transport's own queue and a best-effort one is dropped.
        public var sendHighWaterMark: Int32
        /// SUB `ZMQ_RCVHWM` (0 = unlimited). The DEALER's is always 0, as in the spec.
        public var subReceiveHighWaterMark: Int32
        /// Called on the I/O thread when a best-effort message was dropped (e.g. `EAGAIN` at the
        /// high-water mark). Must not block. Drops are also counted in `counters.sendFailures`.
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
