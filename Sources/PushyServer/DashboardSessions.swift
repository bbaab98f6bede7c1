import Foundation
import Synchronization

/// The dashboard's sign-in links and browser sessions, in memory (docs/decisions.md,
/// "Dashboard sessions"): a server restart signs every browser out, which a new `pushy dashboard`
/// undoes. Each is bound to one user of one organization; the user's rights are looked up again
/// on every request (`PushyAPI.sessionPrincipal`), so removing a user from a group takes effect
/// at once and deleting the user ends the session.
///
/// Time comes in as seconds since 1970 (`now`), so the expiry rules are tested without a clock.
public final class DashboardSessions: Sendable {
    /// What a link or a session belongs to.
    public struct Owner: Sendable, Equatable {
        public var org: String
        public var user: String
    }

    /// A signed-in browser.
    public struct Session: Sendable, Equatable {
        public var id: String
        public var owner: Owner
        /// Sent by the page in `X-Pushy-CSRF` with every state-changing request.
        public var csrfToken: String
        public var expiresAt: Double
    }

    public enum Redemption: Sendable, Equatable {
        case signedIn(Session)
        /// Never issued, or already used (the two are indistinguishable on purpose).
        case unknown
        case expired
    }

    struct Link { var owner: Owner; var expiresAt: Double }

    /// How long a sign-in link may wait before it is used (seconds).
    public let linkLifetime: Double
    /// How long a session lasts from sign-in (seconds); no sliding renewal.
    public let sessionLifetime: Double
    /// At most this many links and sessions each are kept; past it the oldest go first, so a
    /// flood of sign-ins cannot grow the server's memory without bound.
    public let capacity: Int
    /// At most this many sessions per user of an organization; a new sign-in past it ends that
    /// user's oldest session, so one user's links cannot push everyone else's sessions out.
    public let perUser: Int

    private let state = Mutex<(links: [String: Link], sessions: [String: Session], expiredLinks: [String: Double])>(
        ([:], [:], [:]))

    public init(linkLifetime: Double = 300, sessionLifetime: Double = 8 * 3600, capacity: Int = 10_000, perUser: Int = 20) {
        self.linkLifetime = linkLifetime
        self.sessionLifetime = sessionLifetime
        self.capacity = capacity
        self.perUser = perUser
    }

    /// A new one-time sign-in link token for `owner`.
    public func issueLink(for owner: Owner, now: Double) -> (token: String, expiresAt: Double) {
        let token = Self.randomToken()
        let expiresAt = now + linkLifetime
        state.withLock { s in
            Self.prune(&s, now: now)
            if s.links.count >= capacity, let oldest = s.links.min(by: { $0.value.expiresAt < $1.value.expiresAt }) {
                s.links[oldest.key] = nil
            }
            s.links[token] = Link(owner: owner, expiresAt: expiresAt)
        }
        return (token, expiresAt)
    }

    /// What a link would sign in as, without using it (the confirmation page shows it).
    public func peek(_ token: String, now: Double) -> LinkState {
        state.withLock { s -> LinkState in
            guard let link = s.links[token] else { return s.expiredLinks[token] != nil ? .expired : .unknown }
            return now < link.expiresAt ? .valid(link.owner) : .expired
        }
    }

    public enum LinkState: Sendable, Equatable {
        case valid(Owner)
        case unknown
        case expired
    }

    /// Turns a link into a session; the link is gone afterwards whatever the outcome.
    public func redeem(_ token: String, now: Double) -> Redemption {
        state.withLock { s -> Redemption in
            guard let link = s.links.removeValue(forKey: token) else {
                return s.expiredLinks[token] != nil ? .expired : .unknown
            }
            guard now < link.expiresAt else {
                s.expiredLinks[token] = link.expiresAt
                return .expired
            }
            Self.prune(&s, now: now)
            let own = s.sessions.filter { $0.value.owner == link.owner }
            if own.count >= perUser, let oldest = own.min(by: { $0.value.expiresAt < $1.value.expiresAt }) {
                s.sessions[oldest.key] = nil
            } else if s.sessions.count >= capacity, let oldest = s.sessions.min(by: { $0.value.expiresAt < $1.value.expiresAt }) {
                s.sessions[oldest.key] = nil
            }
            let session = Session(id: Self.randomToken(), owner: link.owner, csrfToken: Self.randomToken(),
                                  expiresAt: now + sessionLifetime)
            s.sessions[session.id] = session
            return .signedIn(session)
        }
    }

    /// The live session with this cookie value, if any.
    public func session(_ id: String, now: Double) -> Session? {
        state.withLock { s -> Session? in
            guard let session = s.sessions[id] else { return nil }
            guard now < session.expiresAt else {
                s.sessions[id] = nil
                return nil
            }
            return session
        }
    }

    /// Signs a browser out (its cookie no longer works, even if the browser keeps it).
    public func revoke(_ id: String) {
        state.withLock { _ = $0.sessions.removeValue(forKey: id) }
    }

    public var sessionCount: Int { state.withLock { $0.sessions.count } }

    /// Drops what has expired. Expired links are remembered for an hour (at most 10,000) so that a
    /// late visitor is told "expired" rather than "unknown".
    private static func prune(_ s: inout (links: [String: Link], sessions: [String: Session], expiredLinks: [String: Double]),
                              now: Double) {
        for (token, link) in s.links where now >= link.expiresAt {
            s.links[token] = nil
            s.expiredLinks[token] = link.expiresAt
        }
        for (id, session) in s.sessions where now >= session.expiresAt { s.sessions[id] = nil }
        for (token, at) in s.expiredLinks where now >= at + 3600 { s.expiredLinks[token] = nil }
        if s.expiredLinks.count > 10_000 { s.expiredLinks.removeAll() }
    }

    /// 32 random bytes, base64url without padding (43 characters, valid in a cookie and a URL).
    static func randomToken() -> String {
        var g = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &g) }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
