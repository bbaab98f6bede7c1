import Foundation

/// A PostgreSQL connection URL as operators write it for libpq tools:
/// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?PARAM=VALUE&…]`, or over a Unix socket
/// `postgres://USER@/DATABASE?host=/run/postgresql` (the socket `DIR/.s.PGSQL.PORT`).
///
/// Parameters: `sslmode` (`disable`, `prefer` (default over TCP), `require`, `verify-full`, with
/// libpq's meaning: only `verify-full` checks the server's certificate), `sslrootcert` (a PEM file
/// of CAs for `verify-full`), `host` (a socket directory), `pool_max_conns` (most connections the
/// server opens, default 10) and `connect_timeout` (seconds a call waits for a connection before
/// it fails, default 5). Anything else is refused, so a typo cannot silently change behaviour.
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    /// libpq's `sslmode` values that Pushy supports.
    public enum TLSMode: String, Sendable, CaseIterable {
        case disable
        case prefer
        case require
        case verifyFull = "verify-full"
    }

    public var user: String
    public var password: String?
    /// The TCP host; nil over a Unix socket.
    public var host: String?
    public var port: Int
    /// The directory holding the server's socket (`?host=/dir`); nil over TCP.
    public var socketDirectory: String?
    public var database: String
    public var tlsMode: TLSMode
    public var rootCertificate: String?
    public var maxConnections: Int
    /// Seconds a store call waits for a connection (the database down: the call fails after this).
    public var connectTimeout: Double

    static let parameters = ["sslmode", "sslrootcert", "host", "pool_max_conns", "connect_timeout"]
    static let form = "postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require|verify-full]"

    /// Parses `text`; the error says what is wrong and shows the expected form.
    public init(parsing text: String) throws(PostgresURLError) {
        func fail(_ why: String) -> PostgresURLError { PostgresURLError("\(why) (expected \(Self.form))") }
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        var scheme = ""
        for s in ["postgresql://", "postgres://"] where rest.lowercased().hasPrefix(s) {
            scheme = s
            rest = rest.dropFirst(s.count)
        }
        guard !scheme.isEmpty else { throw fail("a PostgreSQL URL starts with postgres:// or postgresql://") }

        var query = ""
        if let q = rest.firstIndex(of: "?") {
            query = String(rest[rest.index(after: q)...])
            rest = rest[..<q]
        }
        var path = ""
        if let slash = rest.firstIndex(of: "/") {
            path = String(rest[rest.index(after: slash)...])
            rest = rest[..<slash]
        }
        // The authority: [user[:password]@]host[:port]. The password may hold '@' only percent-encoded.
        var userInfo: Substring = ""
        if let at = rest.lastIndex(of: "@") {
            userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
        }
        var hostText = String(rest)
        var portText: String?
        if hostText.hasPrefix("[") {
            guard let close = hostText.firstIndex(of: "]") else { throw fail("an IPv6 host needs its closing ']'") }
            let after = hostText[hostText.index(after: close)...]
            if after.hasPrefix(":") { portText = String(after.dropFirst()) } else if !after.isEmpty {
                throw fail("unexpected '\(after)' after the host")
            }
            hostText = String(hostText[hostText.index(after: hostText.startIndex)..<close])
        } else if let colon = hostText.lastIndex(of: ":") {
            portText = String(hostText[hostText.index(after: colon)...])
            hostText = String(hostText[..<colon])
        }

        var user = ""
        var password: String?
        if let colon = userInfo.firstIndex(of: ":") {
            user = try Self.decode(userInfo[..<colon], "user")
            password = try Self.decode(userInfo[userInfo.index(after: colon)...], "password")
        } else {
            user = try Self.decode(userInfo, "user")
        }
        guard !user.isEmpty else { throw fail("name the database user before '@'") }

        var port = 5432
        if let portText {
            guard let p = Int(portText), (1...65535).contains(p) else { throw fail("the port '\(portText)' is not a number 1-65535") }
            port = p
        }
        let database = try Self.decode(Substring(path), "database")
        guard !database.contains("/") else { throw fail("the database name '\(database)' has a '/'") }

        var tlsMode: TLSMode?
        var rootCertificate: String?
        var socketDirectory: String?
        var maxConnections = 10
        var connectTimeout = 5.0
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = try Self.decode(parts[0], "parameter name")
            let value = parts.count > 1 ? try Self.decode(parts[1], "value of \(name)") : ""
            switch name {
            case "sslmode":
                guard let m = TLSMode(rawValue: value) else {
                    throw fail("sslmode '\(value)' is not one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                tlsMode = m
            case "sslrootcert":
                rootCertificate = value
            case "host":
                guard value.hasPrefix("/") else { throw fail("host= names a socket directory, an absolute path (got '\(value)')") }
                socketDirectory = value
            case "pool_max_conns":
                // One connection is kept for LISTEN (messages between servers): one more at least.
                guard let n = Int(value), (2...1000).contains(n) else {
                    throw fail("pool_max_conns '\(value)' is not a number 2-1000 (one connection is kept for LISTEN)")
                }
                maxConnections = n
            case "connect_timeout":
                guard let t = Double(value), t.isFinite, t > 0, t <= 3600 else {
                    throw fail("connect_timeout '\(value)' is not a number of seconds (more than 0, at most 3600)")
                }
                connectTimeout = t
            default:
                throw fail("unknown parameter '\(name)' (known: \(Self.parameters.joined(separator: ", ")))")
            }
        }
        if socketDirectory != nil {
            guard hostText.isEmpty else { throw fail("give either a host or ?host=/socket/dir, not both") }
            guard tlsMode == nil || tlsMode == .disable || tlsMode == .prefer else {
                throw fail("a Unix socket connection does not use TLS (sslmode=\(tlsMode!.rawValue))")
            }
        } else if hostText.isEmpty {
            throw fail("name the host after '@' (or a socket directory with ?host=/dir)")
        }
        if tlsMode == .verifyFull || rootCertificate != nil {
            guard tlsMode == .verifyFull else { throw fail("sslrootcert needs sslmode=verify-full") }
        }

        self.user = user
        self.password = password
        self.host = socketDirectory == nil ? hostText : nil
        self.port = port
        self.socketDirectory = socketDirectory
        self.database = database.isEmpty ? user : database
        self.tlsMode = tlsMode ?? (socketDirectory == nil ? .prefer : .disable)
        self.rootCertificate = rootCertificate
        self.maxConnections = maxConnections
        self.connectTimeout = connectTimeout
    }

    /// The socket file for a Unix-socket URL.
    public var socketPath: String? { socketDirectory.map { ($0 as NSString).appendingPathComponent(".s.PGSQL.\(port)") } }

    /// Where the database is, without the password: `USER@HOST:PORT/DATABASE`, for messages and logs.
    public var location: String {
        let place = socketPath ?? ((host ?? "").contains(":") ? "[\(host!)]:\(port)" : "\(host ?? ""):\(port)")
        return "\(user)@\(place)/\(database)"
    }

    /// The URL with the password hidden (messages, `pushy-server config`).
    public var description: String { text(showingPassword: false) }

    /// The URL again, with or without the password.
    public func text(showingPassword: Bool) -> String {
        var s = "postgres://" + Self.encode(user)
        if let password { s += ":" + (showingPassword ? Self.encode(password) : "****") }
        s += "@"
        if let host { s += host.contains(":") ? "[\(host)]" : host }
        if host != nil || port != 5432 { s += ":\(port)" }
        s += "/" + Self.encode(database)
        var params: [String] = []
        if let socketDirectory { params.append("host=" + Self.encode(socketDirectory, keepSlash: true)) }
        if tlsMode != (socketDirectory == nil ? .prefer : .disable) { params.append("sslmode=\(tlsMode.rawValue)") }
        if let rootCertificate { params.append("sslrootcert=" + Self.encode(rootCertificate, keepSlash: true)) }
        if maxConnections != 10 { params.append("pool_max_conns=\(maxConnections)") }
        if connectTimeout != 5 { params.append("connect_timeout=\(connectTimeout == connectTimeout.rounded() ? String(Int(connectTimeout)) : String(connectTimeout))") }
        if !params.isEmpty { s += "?" + params.joined(separator: "&") }
        return s
    }

    /// The same server and settings, another database (tests make one per test).
    public func with(database: String) -> PostgresURL {
        var copy = self
        copy.database = database
        return copy
    }

    /// `text` with the password of a parsable URL hidden; unparsable text is shown as `(unreadable URL)`.
    public static func redact(_ text: String) -> String {
        (try? PostgresURL(parsing: text))?.description ?? "(unreadable URL)"
    }

    static func decode(_ s: Substring, _ what: String) throws(PostgresURLError) -> String {
        guard let d = String(s).removingPercentEncoding else {
            throw PostgresURLError("the \(what) has a bad %-escape (expected \(form))")
        }
        return d
    }

    static func encode(_ s: String, keepSlash: Bool = false) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~" + (keepSlash ? "/" : ""))
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }
}

/// A `postgres_url` that cannot be used, and why.
public struct PostgresURLError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
