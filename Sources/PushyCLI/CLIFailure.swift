import PushyAPIClient

/// A failure the CLI reports as `error: <message>` with a chosen exit code.
struct CLIFailure: Error, CustomStringConvertible {
    /// Exit code for server and job failures.
    static let failureCode: Int32 = 1
    /// Exit code for usage and configuration problems.
    static let usageCode: Int32 = 2

    var message: String
    var code: Int32
    var description: String { message }

    /// A usage or configuration problem (exit 2).
    static func usage(_ message: String) -> CLIFailure { CLIFailure(message: message, code: usageCode) }
    /// A server or job failure (exit 1).
    static func failure(_ message: String) -> CLIFailure { CLIFailure(message: message, code: failureCode) }

    /// A bad server URL or an unusable key is a configuration problem; the rest are server failures.
    static func exitCode(for error: PushyClientError) -> Int32 {
        switch error {
        case .invalidServerURL, .signing: usageCode
        default: failureCode
        }
    }
}
