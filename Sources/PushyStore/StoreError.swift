/// Why a store operation failed. `kind` is the stable code callers branch on (and map to HTTP
/// in one place); `message` says which record was involved, for logs and error bodies.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The stable reason code.
    public enum Kind: String, Sendable, Equatable {
        /// A record with the same key already exists.
        case duplicate
        /// A record the operation needs (or targets) does not exist.
        case notFound = "not_found"
        /// The storage itself failed (disk, corrupt row, closed database, cancellation).
        case io
    }

    public var kind: Kind
    public var message: String

    public init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }

    /// `what` names the clashing record, e.g. `organization 'acme'`.
    public static func duplicate(_ what: String) -> StoreError {
        StoreError(kind: .duplicate, message: "\(what) already exists")
    }

    /// `what` names the missing record, e.g. `job 'abc…' in organization 'acme'`.
    public static func notFound(_ what: String) -> StoreError {
        StoreError(kind: .notFound, message: "\(what) not found")
    }

    public static func io(_ message: String) -> StoreError {
        StoreError(kind: .io, message: "storage error: \(message)")
    }

    public var description: String { message }
}
