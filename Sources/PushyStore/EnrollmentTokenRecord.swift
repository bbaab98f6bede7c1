import Foundation

/// A one-time enrolment token: lets a new node register its own client key once, before
/// `expiresAt`. Only the SHA-256 of the token is stored, so a database leak reveals no token.
public struct EnrollmentTokenRecord: Sendable, Hashable {
    public var org: String
    /// Lowercase hex SHA-256 of the token text.
    public var tokenHash: String
    /// Who created it.
    public var createdBy: String
    public var createdAt: Date
    public var expiresAt: Date
    /// Set once, when a node enrols with it.
    public var usedAt: Date?
    /// The client created with it.
    public var usedBy: String?

    public init(org: String, tokenHash: String, createdBy: String, createdAt: Date, expiresAt: Date,
                usedAt: Date? = nil, usedBy: String? = nil) {
        self.org = org
        self.tokenHash = tokenHash
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.usedAt = usedAt
        self.usedBy = usedBy
    }
}

/// What `PushyStore.enroll` did. Only `.enrolled` changed anything.
public enum EnrollmentOutcome: Sendable, Hashable {
    /// The client was created and the token (as returned, now used) consumed.
    case enrolled(EnrollmentTokenRecord)
    /// No such token in that organization.
    case unknownToken
    /// The token was already used.
    case alreadyUsed
    /// The token expired before `at`.
    case expired
}
