import CZMQ

/// A failure reported by libzmq (or by this module's own argument checks), carrying the
/// errno-style code so callers can tell "address in use" from "bad key".
public struct ZMQError: Error, Sendable, Equatable, CustomStringConvertible {
    /// errno value (`EADDRINUSE`, `EINVAL`, `EMFILE`, ...).
    public let code: Int32
    /// Human-readable text, naming the operation that failed.
    public let message: String

    public init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(message) (errno \(code))" }

    /// The error libzmq just reported for `operation` on this thread.
    static func last(_ operation: String) -> ZMQError {
        let code = zmq_errno()
        return ZMQError(code: code, message: "\(operation): \(String(cString: zmq_strerror(code)))")
    }

    /// An invalid argument detected before calling libzmq.
    static func invalid(_ message: String) -> ZMQError {
        ZMQError(code: EINVAL, message: message)
    }
}
