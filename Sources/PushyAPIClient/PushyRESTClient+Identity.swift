import AsyncHTTPClient
import FoundationEssentials
import NIOCore
import NIOHTTP1
import PushyProtocol

/// A group as the server shows it (Chef's shape).
public struct GroupInfo: Sendable, Equatable {
    public var name: String
    public var users: [String]
    public var clients: [String]
    public var groups: [String]

    init(_ v: JSONValue) throws(PushyClientError) {
        guard let name = v["groupname"]?.stringValue else { throw .invalidResponse("not a group object") }
        func names(_ key: String) -> [String] { (v[key]?.arrayValue ?? []).compactMap(\.stringValue) }
        self.name = name
        users = names("users")
        clients = names("clients")
        groups = names("groups")
    }
}

/// A one-time enrolment token, shown once when created.
public struct EnrollmentToken: Sendable, Equatable {
    public var token: String
    /// ISO 8601 (UTC).
    public var expiresAt: String
}

/// One audit log entry.
public struct AuditEntry: Sendable, Equatable {
    public var id: Int
    public var at: String
    public var actor: String
    public var actorType: String
    public var action: String
    public var target: String
    public var detail: String
    public var remoteAddress: String

    init(_ v: JSONValue) {
        id = v["id"]?.intValue ?? 0
        at = v["at"]?.stringValue ?? ""
        actor = v["actor"]?.stringValue ?? ""
        actorType = v["actor_type"]?.stringValue ?? ""
        action = v["action"]?.stringValue ?? ""
        target = v["target"]?.stringValue ?? ""
        detail = v["detail"]?.stringValue ?? ""
        remoteAddress = v["remote_address"]?.stringValue ?? ""
    }
}

/// Organizations (superuser), users, groups, enrolment tokens and the audit log.
extension PushyRESTClient {
    // MARK: Organizations (server-wide; the signer must be a superuser)

    public func organizations() async throws(PushyClientError) -> [String] {
        try await send("GET", "/organizations").json().keys
    }

    /// Creates an organization (with an empty `admins` group); returns its guid.
    @discardableResult
    public func createOrganization(name: String) async throws(PushyClientError) -> String {
        try await send("POST", "/organizations", json: ["name": .string(name)]).json()["guid"]?.stringValue ?? ""
    }

    public func deleteOrganization(name: String) async throws(PushyClientError) {
        _ = try await send("DELETE", "/organizations/\(Self.escape(name))")
    }

    // MARK: Users

    /// Registers a user's public key; `admin` also puts the user in the `admins` group.
    public func createUser(name: String, publicKeyPEM: String, admin: Bool = false) async throws(PushyClientError) {
        _ = try await send("POST", "users", json: [
            "name": .string(name), "public_key": .string(publicKeyPEM), "admin": .bool(admin),
        ])
    }

    public func users() async throws(PushyClientError) -> [String] {
        try await send("GET", "users").json().keys
    }

    /// The user object: `username`, `public_key`, `superuser`, `groups` (recursive membership).
    public func user(_ name: String) async throws(PushyClientError) -> JSONValue {
        try await send("GET", "users/\(Self.escape(name))").json()
    }

    public func deleteUser(name: String) async throws(PushyClientError) {
        _ = try await send("DELETE", "users/\(Self.escape(name))")
    }

    // MARK: Groups

    public func groups() async throws(PushyClientError) -> [String] {
        try await send("GET", "groups").json().keys
    }

    public func group(_ name: String) async throws(PushyClientError) -> GroupInfo {
        try GroupInfo(try await send("GET", "groups/\(Self.escape(name))").json())
    }

    /// Adds a member (`type` is `user`, `client` or `group`), creating the group if needed.
    @discardableResult
    public func addGroupMember(group: String, type: String, name: String) async throws(PushyClientError) -> GroupInfo {
        try GroupInfo(try await send("POST", "groups/\(Self.escape(group))/members",
                                     json: ["type": .string(type), "name": .string(name)]).json())
    }

    @discardableResult
    public func removeGroupMember(group: String, type: String, name: String) async throws(PushyClientError) -> GroupInfo {
        try GroupInfo(try await send(
            "DELETE", "groups/\(Self.escape(group))/members/\(Self.escape(type))/\(Self.escape(name))").json())
    }

    public func deleteGroup(_ name: String) async throws(PushyClientError) {
        _ = try await send("DELETE", "groups/\(Self.escape(name))")
    }

    // MARK: Enrolment tokens and the audit log

    /// A one-time token a new node can enrol with, valid for `expiresIn` seconds (server default 1 h).
    public func createEnrollmentToken(expiresIn: Int? = nil) async throws(PushyClientError) -> EnrollmentToken {
        let v = try await send("POST", "enrollment_tokens",
                               json: expiresIn.map { ["expires_in": .number(Double($0))] } ?? .object([])).json()
        guard let token = v["token"]?.stringValue else { throw .invalidResponse("no 'token' in the response") }
        return EnrollmentToken(token: token, expiresAt: v["expires_at"]?.stringValue ?? "")
    }

    /// The org's audit log, newest first.
    public func audit(limit: Int = 100) async throws(PushyClientError) -> [AuditEntry] {
        (try await send("GET", "audit?limit=\(limit)").json().arrayValue ?? []).map(AuditEntry.init)
    }

    /// Enrols a new node (unsigned: the token is the credential): registers `publicKeyPEM` as
    /// client `name` in the org at `orgURL`. Throws `.http` 401 for an unknown, used or expired
    /// token and 409 when the name is taken.
    public static func enroll(orgURL: String, token: String, name: String, publicKeyPEM: String,
                              httpClient: HTTPClient = defaultHTTPClient) async throws(PushyClientError) {
        var trimmed = orgURL
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard URL(string: trimmed)?.host != nil else { throw .invalidServerURL(orgURL) }
        let url = trimmed + "/enroll"
        let body: JSONValue = ["token": .string(token), "name": .string(name), "public_key": .string(publicKeyPEM)]
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body.serialized()))
        let reply: Reply
        do {
            let response = try await httpClient.execute(request, timeout: .seconds(30))
            let bytes = try await response.body.collect(upTo: 1024 * 1024)
            reply = Reply(status: Int(response.status.code), body: Array(bytes.readableBytesView),
                          headers: response.headers.map { ($0.name, $0.value) })
        } catch {
            throw .unreachable(url: url, reason: describe(error))
        }
        guard (200..<300).contains(reply.status) else {
            throw .http(status: reply.status, message: errorMessage(reply), url: url)
        }
    }
}
