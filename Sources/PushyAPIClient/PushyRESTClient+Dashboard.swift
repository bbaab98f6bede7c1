import FoundationEssentials
import PushyProtocol

/// A one-time dashboard sign-in link (`POST pushy/dashboard_links`, issue 15).
public struct DashboardLink: Sendable, Equatable {
    /// The whole link: the server's scheme, host and port as this client reaches it, plus the path.
    public var url: String
    public var expiresAt: String
    public var expiresIn: Double
    public var user: String
}

extension PushyRESTClient {
    /// Asks the server for a sign-in link for this client's user.
    public func dashboardLink() async throws(PushyClientError) -> DashboardLink {
        let v = try await send("POST", "pushy/dashboard_links", json: .object([])).json()
        guard let path = v["path"]?.stringValue, path.hasPrefix("/") else {
            throw .invalidResponse("no 'path' in the dashboard link response")
        }
        return DashboardLink(url: Self.origin(of: orgURL) + path, expiresAt: v["expires_at"]?.stringValue ?? "",
                             expiresIn: v["expires_in"]?.doubleValue ?? 0, user: v["user"]?.stringValue ?? userId)
    }

    /// `https://host:port` of a URL (its path dropped).
    static func origin(of url: String) -> String {
        guard let c = URLComponents(string: url), let scheme = c.scheme, let host = c.host else { return url }
        let h = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        return "\(scheme)://\(h)" + (c.port.map { ":\($0)" } ?? "")
    }
}
