/// Tunables of the server's per-node liveness filter (protocol spec section 6.1).
///
/// The defaults are the reference server's: 10 s heartbeat interval, decay window 4, death threshold 0.6.
public struct LivenessParameters: Sendable, Equatable {
    /// Length of one counting interval in seconds (the heartbeat interval advertised to agents).
    public var interval: Double
    /// Decay window W: each interval contributes 1/W of its heartbeat count to the average.
    public var decayWindow: Double
    /// A node whose average drops below this is dead.
    public var threshold: Double

    public init(interval: Double = 10, decayWindow: Double = 4, threshold: Double = 0.6) {
        self.interval = interval
        self.decayWindow = decayWindow
        self.threshold = threshold
    }
}
