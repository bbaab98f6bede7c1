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
    public var isAdmin: Bool
    public var createdAt: Date

    public init(org: String, name: String, type: PrincipalType, publicKey: String, isAdmin: Bool = false, createdAt: Date) {
        self.org = org
        self.name = name
        self.type = type
        self.publicKey = publicKey
        self.isAdmin = isAdmin
        self.createdAt = createdAt
    }
}
