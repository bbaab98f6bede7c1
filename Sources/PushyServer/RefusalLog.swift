import Foundation
import Logging
import Synchronization

/// Decides which refused REST requests (bad signature, unknown user, clock skew, …) are logged,
/// so every kind of refusal shows in the server log once, and a flood of them (a script with a
/// wrong key retrying in a loop, a scanner) cannot fill the disk. A refusal is logged when its
/// (principal, reason, remote address) was not logged in the last `window` seconds and fewer
/// than `perWindow` refusals were logged in the last window; the line after a quiet spell says
/// how many were left out. A value: the caller keeps it, passes the time in and logs what it says.
struct RefusalLog: Sendable {
    struct Refusal: Hashable, Sendable {
        var principal: String
        var reason: String
        var remote: String
    }

    enum Decision: Equatable, Sendable {
        /// Log it; `suppressed` refusals were left out of the log since the last line logged.
        case log(suppressed: Int)
        case skip
    }

    var window: Double = 60
    var perWindow = 20
    /// When each refusal was last logged (pruned as the window moves on).
    private(set) var lastLogged: [Refusal: Double] = [:]
    /// When the lines of the current window were logged.
    private var recent: [Double] = []
    private(set) var suppressed = 0

    init(window: Double = 60, perWindow: Int = 20) {
        self.window = window
        self.perWindow = perWindow
    }

    mutating func record(_ r: Refusal, now: Double) -> Decision {
        recent.removeAll { now - $0 >= window }
        if lastLogged.count > 4 * perWindow { lastLogged = lastLogged.filter { now - $0.value < window } }
        if let last = lastLogged[r], now - last < window {
            suppressed += 1
            return .skip
        }
        guard recent.count < perWindow else {
            suppressed += 1
            return .skip
        }
        lastLogged[r] = now
        recent.append(now)
        defer { suppressed = 0 }
        return .log(suppressed: suppressed)
    }
}

/// The server's `RefusalLog`, shared by every request, with the refusals counted by reason
/// (`pushy_http_refusals_total`) and the last one logged (tests).
final class RefusalLogger: Sendable {
    struct Counts: Sendable {
        var byReason: [String: Int] = [:]
        var logged = 0
        var lastLogged: RefusalLog.Refusal?
    }

    private let state = Mutex(RefusalLog())
    private let counts = Mutex(Counts())
    var snapshot: Counts { counts.withLock { $0 } }
    private let logger: Logger
    private let clock: @Sendable () -> Double

    init(logger: Logger, clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.logger = logger
        self.clock = clock
    }

    func refused(principal: String, reason: String, remote: String, path: String) {
        // The name is the client's text (up to NIO's header limit): logged short.
        let principal = principal.count > 100 ? String(principal.prefix(100)) + "…" : principal
        let r = RefusalLog.Refusal(principal: principal, reason: reason, remote: remote)
        let now = clock()
        let decision = state.withLock { $0.record(r, now: now) }
        counts.withLock { c in
            c.byReason[reason, default: 0] += 1
            if case .log = decision {
                c.logged += 1
                c.lastLogged = r
            }
        }
        guard case .log(let suppressed) = decision else { return }
        var metadata: Logger.Metadata = [
            "pushy.principal": "\(principal)", "pushy.reason": "\(reason)", "pushy.remote": "\(remote)", "pushy.path": "\(path)",
        ]
        if suppressed > 0 { metadata["pushy.refusals_not_logged"] = "\(suppressed)" }
        logger.warning("request refused: authentication failed", metadata: metadata)
    }
}

/// The peer of the request being handled (set around each route's handler), for log lines
/// written below the handler (`authenticate`), where the request context is not at hand.
enum RequestPeer {
    @TaskLocal static var address = "unknown"
}
