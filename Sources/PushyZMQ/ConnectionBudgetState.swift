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
    /// Connections accepted since start (never decreases; `open` is what is still open).
    public private(set) var acceptedTotal = 0
    public private(set) var acceptFailures = 0

    private var refusalsUnreported = 0
    private var lastRefusalReport = -Double.infinity
    private var acceptFailuresUnreported = 0
    /// Connections promised to agents that were given a config and have not connected yet.
    /// Without them, every config answered while the first agents are still connecting sees
    /// the same low `open`, and a crowd overshoots the budget into the file limit (measured:
    /// 10,500 agents against a budget of 9,800 reached EMFILE).
    public private(set) var promised = 0
    /// Grants, oldest first: when, and how many of their connections have not arrived.
    private var grants: [Grant] = []
    private struct Grant: Sendable, Equatable {
        var at: Double
        var remaining: Int
    }
    private var grantsHead = 0
    /// How long a config's promise holds: an agent connects within a second or two of its config.
    public static let grantLifetime = 15.0
    private var lastAcceptFailureReport = -Double.infinity

    /// `budget` is clamped to at least one agent's worth of connections.
    public init(budget: Int) {
        self.budget = max(Self.connectionsPerAgent, budget)
        resumeBelow = min(self.budget - 1, Int(Double(self.budget) * 0.98))
    }

    /// Whether a config request (a new agent) may proceed (`grantAgent` also records it).
    public var admitsAgent: Bool { open + promised + Self.connectionsPerAgent <= budget }

    /// A config request: true (and the agent's two connections promised) when they fit
    /// beside the open and already promised ones.
    public mutating func grantAgent(now: Double) -> Bool {
        expireGrants(now: now)
        guard admitsAgent else { return false }
        grants.append(Grant(at: now, remaining: Self.connectionsPerAgent))
        promised += Self.connectionsPerAgent
        return true
    }

    private mutating func expireGrants(now: Double) {
        while grantsHead < grants.count, now - grants[grantsHead].at >= Self.grantLifetime {
            promised -= grants[grantsHead].remaining
            grantsHead += 1
        }
        compactGrants()
    }

    /// An accepted connection fulfils the oldest open promise, if any.
    private mutating func fulfilPromise() {
        while grantsHead < grants.count, grants[grantsHead].remaining == 0 { grantsHead += 1 }
        guard grantsHead < grants.count else { return }
        grants[grantsHead].remaining -= 1
        promised -= 1
        compactGrants()
    }

    private mutating func compactGrants() {
        if grantsHead == grants.count {
            grants.removeAll(keepingCapacity: true)
            grantsHead = 0
        } else if grantsHead > 1024, grantsHead * 2 > grants.count {
            grants.removeFirst(grantsHead)
            grantsHead = 0
        }
    }

    /// Whether a handshake on an already-counted connection may proceed.
    public var admitsConnection: Bool { open <= budget }

    /// Applies one event at time `now` (seconds, any monotonic origin); returns what to log.
    public mutating func handle(_ event: Event, now: Double) -> Notice? {
        switch event {
        case .accepted:
            open += 1
            acceptedTotal += 1
            fulfilPromise()
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
