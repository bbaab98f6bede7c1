import AsyncHTTPClient
import FoundationEssentials
import NIOSSL
import Synchronization

/// How the CLI and the agent check the server's HTTPS certificate: the system roots plus an
/// optional certificate to trust (the one `pushy-server init` wrote), or — only for tests and
/// throw-away setups — no verification at all.
public struct ClientTLS: Sendable, Hashable {
    /// A PEM certificate (or bundle) trusted in addition to the system roots.
    public var trustedCertificatePath: String?
    /// Check the certificate chain and host name (default). Off = `--insecure`.
    public var verify: Bool

    public init(trustedCertificatePath: String? = nil, verify: Bool = true) {
        self.trustedCertificatePath = trustedCertificatePath
        self.verify = verify
    }

    public static let system = ClientTLS()

    private static let clients = Mutex<[ClientTLS: HTTPClient]>([:])

    /// One long-lived HTTP client per TLS setting (clients are never shut down: they live as
    /// long as the process). Fails fast when the server is down, like `defaultHTTPClient`.
    public func httpClient() throws(PushyClientError) -> HTTPClient {
        if self == .system { return PushyRESTClient.defaultHTTPClient }
        return try Self.clients.withLock { (clients) throws(PushyClientError) -> HTTPClient in
            if let c = clients[self] { return c }
            let client = try makeHTTPClient()
            clients[self] = client
            return client
        }
    }

    private func makeHTTPClient() throws(PushyClientError) -> HTTPClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        if verify {
            if let path = trustedCertificatePath {
                guard FileManager.default.isReadableFile(atPath: path) else {
                    throw .signing("cannot read the trusted certificate \(path)")
                }
                tls.additionalTrustRoots = [.file(path)]
            }
        } else {
            tls.certificateVerification = .none
        }
        var c = HTTPClient.Configuration(tlsConfiguration: tls)
        c.timeout = .init(connect: .seconds(5))
        c.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: c)
    }
}
