#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// How many ZeroMQ connections the server may hold, and how many it holds now.
///
/// libzmq does not degrade at the file limit: when `accept()` fails with `EMFILE` its listener
/// spins on the still-readable listen socket. So the server never goes there: the transport
/// counts connections with socket monitors, its ZAP handler refuses handshakes past the budget
/// and the REST API turns new agents away (503) before they connect. Thread-safe; read anywhere.
public final class ConnectionBudget: Sendable {
    /// Receives every notice, outside the lock, on the thread that caused it (usually the I/O thread).
    public typealias NoticeHandler = @Sendable (ConnectionBudgetState.Notice) -> Void

    /// A consistent reading of the counters.
    public struct Snapshot: Sendable, Equatable {
        public var open: Int
        public var budget: Int
        public var refusing: Bool
        public var refusedTotal: Int
        public var acceptFailures: Int
        /// Connections promised to agents given a config that have not connected yet.
        public var promised: Int = 0
        /// Connections accepted since start.
        public var acceptedTotal: Int = 0
    }

    /// The soft `RLIMIT_NOFILE` the budget was derived from (nil when configured explicitly).
    public let fileLimit: Int?
    private let state: Mutex<ConnectionBudgetState>
    private let onNotice: NoticeHandler
    private let origin = ContinuousClock.now

    /// A budget of `budget` connections; `fileLimit` is only quoted in messages.
    public init(budget: Int, fileLimit: Int? = nil, onNotice: @escaping NoticeHandler = { _ in }) {
        state = Mutex(ConnectionBudgetState(budget: budget))
        self.fileLimit = fileLimit
        self.onNotice = onNotice
    }

    /// The default budget for this process: its soft file limit minus a reserve
    /// (`ConnectionBudgetState.defaultBudget`).
    public convenience init(onNotice: @escaping NoticeHandler = { _ in }) {
        let limit = Self.processFileLimit()
        self.init(budget: ConnectionBudgetState.defaultBudget(fileLimit: limit), fileLimit: limit, onNotice: onNotice)
    }

    public var snapshot: Snapshot {
        state.withLock {
            Snapshot(open: $0.open, budget: $0.budget, refusing: $0.refusing,
                     refusedTotal: $0.refusedTotal, acceptFailures: $0.acceptFailures, promised: $0.promised,
                     acceptedTotal: $0.acceptedTotal)
        }
    }

    public var budget: Int { state.withLock { $0.budget } }
    public var resumeBelow: Int { state.withLock { $0.resumeBelow } }

    /// Whether one more agent fits (checked by the config endpoint).
    public var admitsAgent: Bool { state.withLock { $0.admitsAgent } }

    /// ZAP's question for a connection that is already counted; a "no" is counted as a refusal.
    /// A config request: whether the agent may come, promising its two connections if so.
    public func grantAgent() -> Bool {
        let now = seconds()
        return state.withLock { $0.grantAgent(now: now) }
    }

    private func seconds() -> Double {
        let elapsed = ContinuousClock.now - origin
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }

    func admitConnection() -> Bool {
        let admitted = state.withLock { $0.admitsConnection }
        if !admitted { record(.refused) }
        return admitted
    }

    /// Applies a socket-monitor (or ZAP) event and reports its notice, if any.
    public func record(_ event: ConnectionBudgetState.Event) {
        let elapsed = ContinuousClock.now - origin
        let now = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        if let notice = state.withLock({ $0.handle(event, now: now) }) { onNotice(notice) }
    }

    /// The soft `RLIMIT_NOFILE` of this process.
    /// Raises this process's soft file limit to its hard limit (as servers that hold many
    /// connections do) and returns the soft limit now in force.
    @discardableResult
    public static func raiseFileLimitToHard() -> Int {
        var rl = rlimit()
        #if os(Linux)
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
        let resource = RLIMIT_NOFILE
        #endif
        if getrlimit(resource, &rl) == 0, rl.rlim_cur < rl.rlim_max {
            rl.rlim_cur = rl.rlim_max
            _ = setrlimit(resource, &rl)
        }
        return processFileLimit()
    }

    public static func processFileLimit() -> Int {
        var rl = rlimit()
        #if os(Linux)
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &rl) == 0 else { return 1024 }
        #else
        guard getrlimit(RLIMIT_NOFILE, &rl) == 0 else { return 1024 }
        #endif
        return Int(clamping: rl.rlim_cur)
    }
}
