import FoundationEssentials

#if canImport(Glibc)
import Glibc  // pow
#elseif canImport(Darwin)
import Darwin
#endif

/// Per-node liveness as an exponentially weighted moving average of heartbeats per interval
/// (the reference's `pushy_node_stats`, spec section 6.1). It is a simple IIR filter: jitter and a
/// single missed beat are tolerated, while a node that stops beating is judged dead 2.5 intervals
/// (25 s) after its last beat with the default parameters (see `heartbeat(at:)`).
///
/// Time is passed in as seconds on any monotonic scale; nothing here reads a clock.
public struct NodeLiveness: Sendable, Equatable {
    public let parameters: LivenessParameters
    /// The filtered heartbeats-per-interval; starts at 2×threshold so a new node gets a grace period.
    public private(set) var average: Double
    /// Start of the interval currently being counted.
    public private(set) var intervalStart: Double
    /// Heartbeats seen in the current interval (saturating, so a flood cannot trap).
    public private(set) var count: Int

    /// A node first seen at `now`. No heartbeat is counted yet: call `heartbeat(at:)` for the message that
    /// created it if it was one.
    public init(now: Double, parameters: LivenessParameters = LivenessParameters()) {
        self.parameters = parameters
        self.average = 2 * parameters.threshold
        self.intervalStart = now
        self.count = 0
    }

    /// Whether the node counts as alive with the average as it stands (no advancing).
    public var isAlive: Bool { average >= parameters.threshold }

    /// Records one heartbeat received at `now`, after folding in every interval that has fully elapsed.
    /// Returns whether the node is still alive, which is how the reference evaluates on every beat.
    ///
    /// The first beat of an interval centres the interval on itself (a Pushy deviation): the
    /// interval then ends half an interval after the beat. With fixed boundaries a node whose
    /// beats fall early in its intervals was judged dead 30 s after its last beat, one whose beats
    /// fall late after 20 s; centred, every node is judged dead 25 s after its last beat (default
    /// parameters), and a beat may come up to half an interval early or late without leaving an
    /// interval empty.
    @discardableResult
    public mutating func heartbeat(at now: Double) -> Bool {
        advance(to: now)
        if count == 0, now.isFinite, now >= intervalStart { intervalStart = now - parameters.interval / 2 }
        if count < Int.max { count += 1 }
        return isAlive
    }

    /// Folds in every fully elapsed interval and returns whether the node is still alive
    /// (`average >= threshold`); the caller takes a `false` as "node went offline".
    public mutating func evaluate(at now: Double) -> Bool {
        advance(to: now)
        return isAlive
    }

    /// The first elapsed interval contributes its count; each further one was empty and only decays.
    /// A clock that goes backwards, or a non-finite time, changes nothing.
    private mutating func advance(to now: Double) {
        let length = parameters.interval
        guard now.isFinite, length > 0, now >= intervalStart + length else { return }
        let elapsed = ((now - intervalStart) / length).rounded(.down)
        let keep = 1 - 1 / parameters.decayWindow
        // Capped at one beat per interval (a Pushy deviation): a node whose beats jitter into
        // doubles must not bank credit that delays its death past 3 intervals (spec 6.1 says 2–3).
        average = min(max(average, 1), average * keep + Double(min(count, 1)) / parameters.decayWindow)
        let empty = elapsed - 1
        if empty > 0 { average *= pow(keep, empty) }
        intervalStart += elapsed * length
        count = 0
    }
}
