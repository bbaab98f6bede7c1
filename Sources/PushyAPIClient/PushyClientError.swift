/// Why a REST call failed, in words an operator can act on.
public enum PushyClientError: Error, Sendable, CustomStringConvertible {
    case invalidServerURL(String)
    case unreachable(url: String, reason: String)
    case http(status: Int, message: String, url: String)
    case invalidResponse(String)
    case signing(String)

    public var description: String {
        switch self {
        case .invalidServerURL(let u):
            "invalid server URL '\(u)': expected something like http://HOST:10003/organizations/ORG"
        case .unreachable(let url, let reason):
            "cannot reach the Pushy server at \(url): \(reason) (is 'pushy-server run' running, and is the URL right?)"
        case .http(let status, let message, let url): "server answered \(status) for \(url): \(message)"
        case .invalidResponse(let m): "unexpected response from the server: \(m)"
        case .signing(let m): "cannot sign the request: \(m)"
        }
    }

    /// HTTP status when the server answered.
    public var status: Int? { if case .http(let s, _, _) = self { return s }; return nil }
}
