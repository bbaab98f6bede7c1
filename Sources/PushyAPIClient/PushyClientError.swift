/// Why a REST call failed, in words an operator can act on.
public enum PushyClientError: Error, Sendable, CustomStringConvertible {
    case invalidServerURL(String)
    case unreachable(url: String, reason: String)
    case http(status: Int, message: String, url: String)
    /// 503: the server cannot take this request now (e.g. it is at its connection budget);
    /// `retryAfter` is its `Retry-After` in seconds, when it sent one.
    case unavailable(retryAfter: Int?, message: String, url: String)
    case invalidResponse(String)
    case signing(String)

    public var description: String {
        switch self {
        case .invalidServerURL(let u):
            "invalid server URL '\(u)': expected something like http://HOST:10003/organizations/ORG"
        case .unreachable(let url, let reason):
            "cannot reach the Pushy server at \(url): \(reason) (is 'pushy-server run' running, and is the URL right?)"
        case .http(let status, let message, let url): "server answered \(status) for \(url): \(message)"
        case .unavailable(_, let message, let url): "server answered 503 (unavailable) for \(url): \(message)"
        case .invalidResponse(let m): "unexpected response from the server: \(m)"
        case .signing(let m): "cannot sign the request: \(m)"
        }
    }

    /// HTTP status when the server answered.
    public var status: Int? {
        switch self {
        case .http(let s, _, _): s
        case .unavailable: 503
        default: nil
        }
    }

    /// The server's `Retry-After` (seconds) on a 503.
    public var retryAfter: Int? { if case .unavailable(let s, _, _) = self { return s }; return nil }
}
