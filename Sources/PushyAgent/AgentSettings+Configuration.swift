import Logging
import PushyAPIClient
import PushyCore
import PushyProtocol

extension AgentSettings {
    /// How the server's HTTPS certificate is checked.
    public var tls: ClientTLS { ClientTLS(trustedCertificatePath: trustedCert, verify: sslVerifyMode != "verify_none") }

    /// `logLevel` as swift-log's level (`info` when it is not one; `validate()` reports that).
    public var loggerLevel: Logger.Level { Logger.Level(rawValue: logLevel) ?? .info }

    /// The runtime's configuration with the node's `key`; throws what `validate()` throws.
    public func configuration(key: RSAPrivateKey) throws(AgentSettingsError) -> AgentConfiguration {
        try validate()
        guard let serverURL, let nodeName, let list = try? whitelist.isEmpty ? Whitelist.chefDefault : Whitelist(entries: whitelist)
        else { throw AgentSettingsError(problems: ["server_url, node_name and whitelist must be valid"]) }
        var c = AgentConfiguration(serverURL: serverURL, nodeName: nodeName, key: key, whitelist: list)
        c.tls = tls
        c.roles = roles
        c.environment = environment
        c.tags = tags
        c.attributes = attributes
        c.fileDir = fileDir
        c.allowedOverwritableEnvVars = allowedOverwritableEnvVars
        c.maxBodySize = maxBodySize
        c.lockFile = lockfile
        c.allowUnencrypted = allowUnencrypted
        return c
    }

    /// One line per key, `name = value (source)`, for `pushy-client --check-config`. The
    /// enrolment token is not shown.
    public var summary: [String] {
        Self.keys.map { key in
            let source = sources[key.name].map { "(\($0))" } ?? "(default)"
            return "\(key.name) = \(shown(key)) \(source)"
        }
    }

    private func shown(_ key: Key) -> String {
        switch key.kind {
        case .string(let path): return quoted(self[keyPath: path])
        case .optionalString(let path):
            guard let v = self[keyPath: path] else { return "none" }
            return key.name == "enrollment_token" ? "(set)" : quoted(v)
        case .int(let path): return "\(self[keyPath: path])"
        case .bool(let path): return "\(self[keyPath: path])"
        case .strings(let path): return "[" + self[keyPath: path].map(quoted).joined(separator: ", ") + "]"
        case .optionalStrings(let path):
            return self[keyPath: path].map { "[" + $0.map(quoted).joined(separator: ", ") + "]" } ?? "none (every key)"
        case .whitelist:
            guard !whitelist.isEmpty else { return "{\"chef-client\": \"chef-client\"}" }
            return "{" + whitelist.map(describe).joined(separator: ", ") + "}"
        case .attributes: return "{" + attributes.map { "\(quoted($0.0)): \(quoted($0.1))" }.joined(separator: ", ") + "}"
        }
    }

    private func quoted(_ s: String) -> String { JSONValue.string(s).serialized() }

    private func describe(_ entry: WhitelistEntry) -> String {
        let name = switch entry.pattern {
        case .exact(let n): n
        case .regex(let r): "/\(r)/"
        }
        let lock = switch entry.lock {
        case nil: ""
        case .defaultLock?: " (lock)"
        case .path(let p)?: " (lock \(p))"
        }
        return "\(quoted(name)): \(quoted(entry.commandLine))\(lock)"
    }
}
