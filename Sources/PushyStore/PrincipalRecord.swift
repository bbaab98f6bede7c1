import Foundation

/// Whether a principal is a person (`user`) or a node identity (`client`).
public enum PrincipalType: String, Sendable, Hashable, CaseIterable {
    case user
    case client
}

/// An identity that signs requests. Names are unique per organization across both types,
/// so a signed request's user id names exactly one key.
public struct PrincipalRecord: Sendable, Hashable {
    public var org: String
    public var name: String
    public var type: PrincipalType
    /// The RSA public key in PEM.
    public var publicKey: String
    /// Legacy (schema v1) admin flag. Authorization no longer reads it: migration v3 moved every
    /// flagged principal into its org's `admins` group, and `createPrincipal` does the same.
    public var isAdmin: Bool
    /// A server-wide administrator (the `admin` user `pushy-server init` creates): manages
    /// organizations and acts as an admin of every organization.
    public var isSuperuser: Bool
    public var createdAt: Date

    public init(org: String, name: String, type: PrincipalType, publicKey: String, isAdmin: Bool = false,
                isSuperuser: Bool = false, createdAt: Date) {
        self.org = org
        self.name = name
        self.type = type
        self.publicKey = publicKey
        self.isAdmin = isAdmin
        self.isSuperuser = isSuperuser
        self.createdAt = createdAt
    }
}
