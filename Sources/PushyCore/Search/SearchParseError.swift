/// Why a search query could not be parsed, and where (a character offset from 0 into the query text).
public struct SearchParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was expected or found, ending with "at position N".
    public let message: String
    /// Character offset into the query where the problem was noticed.
    public let position: Int

    public init(message: String, position: Int) {
        self.message = message
        self.position = position
    }

    /// `what` followed by " at position N" — every parser error reads the same way.
    init(_ what: String, at position: Int) {
        self.init(message: "\(what) at position \(position)", position: position)
    }

    public var description: String { message }
}
