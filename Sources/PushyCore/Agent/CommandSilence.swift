/// How long an agent waits, after connecting, for its first message on the command channel
/// before it takes the encrypted channel for broken and fetches a new config (spec 4.5: 4 s).
///
/// When that keeps happening each further wait doubles, up to `maximum`, and any command message
/// brings it back to the first. A server far behind on its inbound answers late rather than
/// never, and a fixed 4 s turned its lateness into more load: every agent it had not answered in
/// time signed a new config request, and the server verified it and set up a new CURVE session
/// (issue 17's cluster run 3). A channel that is really broken is still refetched, less often.
public struct CommandSilence: Sendable, Equatable {
    public let first: Double
    public let maximum: Double
    /// Seconds the current session may stay silent.
    public private(set) var limit: Double

    public init(first: Double = 4, maximum: Double = 60) {
        self.first = first
        self.maximum = max(first, maximum)
        limit = first
    }

    /// The session stayed silent for `limit`: the next one waits twice as long.
    public mutating func expired() {
        limit = min(maximum, limit * 2)
    }

    /// A command message arrived: the channel works; back to the first limit.
    public mutating func heard() {
        limit = first
    }
}
