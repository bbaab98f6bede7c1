/// A whitelist that cannot be built: bad regex, malformed flag or JSON. The message says what to fix.
public struct WhitelistError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
