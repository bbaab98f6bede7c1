/// The descriptor budget as pure state: connection events in, decisions and log notices out
/// (no I/O, no clock; time is an input). `ConnectionBudget` wraps it for use across threads.
///
/// Two gates, on purpose different:
/// - a new *agent* (config request) is admitted while its connections still fit:
///   `open + connectionsPerAgent <= budget`;
/// - a new *connection* (ZAP handshake; it is already counted when ZAP asks) is admitted while
///   `open <= budget`, so agents that reconnect after a network blip always get back in.
///
/// `refusing` has hysteresis and only drives the operator's view (the two log lines and
/// `/pushy/_status`): it turns on when `open` reaches `budget` and off below `resumeBelow`
/// (98 % of the budget), so a server hovering at its limit does not log on every connection.
public struct ConnectionBudgetState: Sendable, Equatable {
    /// What happened on the sockets (or in the ZAP handler).
    public enum Event: Sendable, Equatable {
        /// A listener accepted a TCP connection (`ZMQ_EVENT_ACCEPTED`).
        case accepted
        /// A connection closed for any reason: peer left, handshake or ZAP failed (`ZMQ_EVENT_DISCONNECTED`).
        case disconnected
        /// `accept()` failed (`ZMQ_EVENT_ACCEPT_FAILED`), e.g. `EMFILE`.
        case acceptFailed(errno: Int32)
        /// The ZAP handler refused a handshake because the budget is full.
        case refused
    }

    /// Something the operator should read in the log.
    public enum Notice: Sendable, Equatable {
        /// `open` reached the budget: new agents are turned away from now on.
        case budgetReached(open: Int, budget: Int, resumeBelow: Int)
        /// `open` fell below `resumeBelow` again.
        case resumed(open: Int, budget: Int)
        /// `count` connections were refused since the previous such notice (rate-limited).
        case refusals(count: Int, open: Int, budget: Int)
        /// `count` accepts failed since the previous such notice (rate-limited); `errno` is the latest.
        case acceptFailures(count: Int, errno: Int32)
    }

    /// Two TCP connections per agent: SUB → PUB (heartbeats) and DEALER → ROUTER (commands).
    public static let connectionsPerAgent = 2
    /// At most one `refusals` / `acceptFailures` notice per this many seconds.
    public static let reportInterval = 10.0

    public let budget: Int
    public let resumeBelow: Int
    public private(set) var open = 0
    public private(set) var refusing = false
    public private(set) var refusedTotal = 0
    public private(set) var acceptFailures = 0

    private var refusalsUnreported = 0
    private var lastRefusalReport = -Double.infinity
    private var acceptFailuresUnreported = 0
    private var lastAcceptFailureReport = -Double.infinity

    /// `budget` is clamped to at least one agent's worth of connections.
    public init(budget: Int) {
        self.budget = max(Self.connectionsPerAgent, budget)
        resumeBelow = min(self.budget - 1, Int(Double(self.budget) * 0.98))
    }

    /// Whether a config request (a new agent) may proceed.
    public var admitsAgent: Bool { open + Self.connectionsPerAgent <= budget }

    /// Whether a handshake on an already-counted connection may proceed.
    public var admitsConnection: Bool { open <= budget }

    /// Applies one event at time `now` (seconds, any monotonic origin); returns what to log.
    public mutating func handle(_ event: Event, now: Double) -> Notice? {
        switch event {
        case .accepted:
            open += 1
            if !refusing, open >= budget {
                refusing = true
                return .budgetReached(open: open, budget: budget, resumeBelow: resumeBelow)
            }
        case .disconnected:
            open = max(0, open - 1)
            if refusing, open < resumeBelow {
                refusing = false
                return .resumed(open: open, budget: budget)
            }
        case .refused:
            refusedTotal += 1
            refusalsUnreported += 1
            if now - lastRefusalReport >= Self.reportInterval {
                defer { refusalsUnreported = 0; lastRefusalReport = now }
                return .refusals(count: refusalsUnreported, open: open, budget: budget)
            }
        case .acceptFailed(let code):
            acceptFailures += 1
            acceptFailuresUnreported += 1
            if now - lastAcceptFailureReport >= Self.reportInterval {
                defer { acceptFailuresUnreported = 0; lastAcceptFailureReport = now }
                return .acceptFailures(count: acceptFailuresUnreported, errno: code)
            }
        }
        return nil
    }

    /// The usual budget for a process allowed `fileLimit` descriptors: everything but a reserve
    /// of max(256, 2 %) for SQLite, HTTP connections, libzmq mailboxes and log files.
    public static func defaultBudget(fileLimit: Int) -> Int {
        max(connectionsPerAgent, fileLimit - max(256, fileLimit / 50))
    }
}
