import AsyncHTTPClient
import FoundationEssentials
import NIOCore
import NIOHTTP1
import PushyProtocol

/// A signed-request client for one organization of a Pushy server (used by the CLI, the
/// agent and the tests). Every call is signed with Chef signing protocol 1.3.
public struct PushyRESTClient: Sendable {
    /// The org URL, e.g. `http://127.0.0.1:10003/organizations/pushy`.
    public let orgURL: String
    public let org: String
    public let userId: String
    let key: RSAPrivateKey
    let http: HTTPClient
    let timeout: TimeAmount
    /// URL scheme + authority, and the org path prefix.
    let base: String
    let orgPath: String

    /// A process-wide client that fails fast when the server is down (AsyncHTTPClient's shared
    /// client retries a refused connection until the request deadline, which looks like a hang).
    public static let defaultHTTPClient: HTTPClient = {
        var c = HTTPClient.Configuration()
        c.timeout = .init(connect: .seconds(5))
        c.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: c)
    }()

    /// A client checking the server certificate as `tls` says.
    public init(orgURL: String, userId: String, key: RSAPrivateKey, tls: ClientTLS,
                timeout: Duration = .seconds(30)) throws(PushyClientError) {
        try self.init(orgURL: orgURL, userId: userId, key: key, httpClient: try tls.httpClient(), timeout: timeout)
    }

    public init(orgURL: String, userId: String, key: RSAPrivateKey, httpClient: HTTPClient = defaultHTTPClient,
                timeout: Duration = .seconds(30)) throws(PushyClientError) {
        var trimmed = orgURL
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let url = URL(string: trimmed), let scheme = url.scheme, scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty
        else { throw .invalidServerURL(orgURL) }
        let parts = url.path.split(separator: "/")
        guard let i = parts.lastIndex(of: "organizations"), i + 1 < parts.count else { throw .invalidServerURL(orgURL) }
        self.org = String(parts[i + 1])
        self.orgURL = trimmed
        self.userId = userId
        self.key = key
        self.http = httpClient
        self.timeout = .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000)
        let hostPart = host.contains(":") ? "[\(host)]" : host
        self.base = "\(scheme)://\(hostPart)" + (url.port.map { ":\($0)" } ?? "")
        self.orgPath = url.path
    }

    /// A raw response.
    public struct Reply: Sendable {
        public var status: Int
        public var body: [UInt8]
        public var headers: [(String, String)]
        public var text: String { String(decoding: body, as: UTF8.self) }
        /// The first header with this name (case-insensitive).
        public func header(_ name: String) -> String? {
            let wanted = name.lowercased()
            return headers.first { $0.0.lowercased() == wanted }?.1
        }
        public func json() throws(PushyClientError) -> JSONValue {
            do { return try JSONValue.parse(body) } catch { throw .invalidResponse("body is not JSON: \(error)") }
        }
    }

    /// Sends a signed request. `path` is relative to the org URL (`pushy/jobs`) or absolute
    /// (`/pushy/_status`); it may carry a query string. Non-2xx answers throw `.http`.
    public func send(_ method: String, _ path: String, json: JSONValue? = nil, accept: String = "application/json",
                     allowStatus: Set<Int> = []) async throws(PushyClientError) -> Reply {
        let (request, url) = try signedRequest(method, path, json: json, accept: accept)
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await http.execute(request, timeout: timeout)
            bytes = try await response.body.collect(upTo: 64 * 1024 * 1024)
        } catch {
            throw .unreachable(url: url, reason: Self.describe(error))
        }
        let reply = Reply(status: Int(response.status.code), body: Array(bytes.readableBytesView),
                          headers: response.headers.map { ($0.name, $0.value) })
        guard (200..<300).contains(reply.status) || allowStatus.contains(reply.status) else {
            if reply.status == 503 {
                throw .unavailable(retryAfter: reply.header("Retry-After").flatMap { Int($0) },
                                   message: Self.errorMessage(reply), url: url)
            }
            throw .http(status: reply.status, message: Self.errorMessage(reply), url: url)
        }
        return reply
    }

    /// Builds a request carrying the Chef 1.3 signature headers (shared by `send` and the feeds).
    func signedRequest(_ method: String, _ path: String, json: JSONValue? = nil, accept: String,
                       extraHeaders: [(String, String)] = []) throws(PushyClientError) -> (HTTPClientRequest, String) {
        let fullPath = path.hasPrefix("/") ? path : orgPath + "/" + path
        let url = base + fullPath
        let body = json.map { Array($0.serialized().utf8) } ?? []
        let pathOnly = String(fullPath.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0])
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        request.headers.add(name: "Accept", value: accept)
        request.headers.add(name: "X-Chef-Version", value: "pushy")
        for (k, v) in extraHeaders { request.headers.add(name: k, value: v) }
        do {
            for (k, v) in try SignedRequestHeaders.sign(method: method, path: pathOnly, body: body, userId: userId,
                                                         timestamp: Date(), key: key) {
                request.headers.add(name: k, value: v)
            }
        } catch { throw .signing("\(error)") }
        if json != nil {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        return (request, url)
    }

    static func describe(_ error: any Error) -> String {
        let s = String(describing: error)
        if s.contains("connectTimeout") { return "connection timed out" }
        if s.contains("connectionRefused") || s.contains("Connection refused") { return "connection refused" }
        if s.contains("deadlineExceeded") { return "the request timed out" }
        if s.contains("handshakeFailed") || s.contains("CERTIFICATE_VERIFY_FAILED") || s.contains("certificate") {
            return "TLS certificate not trusted (\(s)); pass the server's certificate with --trusted-cert (pushy-server init wrote DATA_DIR/tls.crt)"
        }
        if s.contains("remoteConnectionClosed") || s.contains("uncleanShutdown") || s.contains("wrong version number") {
            return "the connection was closed (\(s)); is the URL's scheme right (https vs http)?"
        }
        return s
    }

    /// The `error` text of a Pushy/Chef error body (string or array form), else the raw body.
    static func errorMessage(_ r: Reply) -> String {
        if let v = try? JSONValue.parse(r.body) {
            if let s = v["error"]?.stringValue { return s }
            if let a = v["error"]?.arrayValue { return a.compactMap(\.stringValue).joined(separator: "; ") }
        }
        return r.text.isEmpty ? "(no body)" : r.text
    }
}
