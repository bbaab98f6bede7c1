import Foundation
import Logging
import PushyPostgres
import PushyProtocol
import PushyStore

/// `pushy-server init`: a data directory with the server key, the database, the default org,
/// the admin user with its private key, the server config and a CLI config.
public enum DataDirectory {
    public struct Result: Sendable {
        public var orgURL: String
        public var adminName: String
        public var adminKeyPath: String
        public var cliConfigPath: String
        /// The certificate agents and the CLI should trust (nil without TLS).
        public var certificatePath: String?
        public var created: [String]
    }

    /// Creates what is missing and never overwrites an existing key (re-running init is safe).
    public static func initialize(config: ServerConfiguration, adminName: String = "admin",
                                  cliConfigPath: String? = nil) async throws -> Result {
        let fm = FileManager.default
        var created: [String] = []
        if let url = config.postgresURL {
            // Before anything is written: a URL that cannot work stops init with nothing half made.
            do { _ = try PostgresURL(parsing: url) } catch {
                throw ServerStartError("postgres_url = \(PostgresURL.redact(url)): \(error)")
            }
        }
        try fm.createDirectory(atPath: config.dataDir, withIntermediateDirectories: true,
                               attributes: [.posixPermissions: 0o700])
        if !fm.fileExists(atPath: config.serverKeyPath) {
            try writePrivate(try RSAPrivateKey.generate().pemRepresentation, to: config.serverKeyPath)
            created.append(config.serverKeyPath)
        }
        if config.tls, config.tlsCertificate == nil, !fm.fileExists(atPath: config.certificatePath) {
            var names = ["localhost", "127.0.0.1", "::1", config.advertisedHost, hostName()]
            if config.listenAddress != "0.0.0.0", config.listenAddress != "::" { names.append(config.listenAddress) }
            try SelfSignedCertificate.create(names: names, certificatePath: config.certificatePath,
                                             keyPath: config.certificateKeyPath)
            created.append(config.certificatePath)
        }
        try settingsFile(config).write(to: URL(fileURLWithPath: config.configFilePath))
        created.append(config.configFilePath)

        var logger = Logger(label: "pushy-server-init")
        logger.logLevel = .warning
        let store = try await config.openStore(logger: logger)
        let adminKeyPath = (config.dataDir as NSString).appendingPathComponent("\(adminName).pem")
        do {
            try await seed(store, org: config.defaultOrg, adminName: adminName) {
                if fm.fileExists(atPath: adminKeyPath) {
                    return try RSAPrivateKey(pemRepresentation: try String(contentsOfFile: adminKeyPath, encoding: .utf8))
                }
                let key = try RSAPrivateKey.generate()
                try writePrivate(key.pemRepresentation, to: adminKeyPath)
                created.append(adminKeyPath)
                return key
            }
        } catch {
            await store.shutdown()
            throw error
        }
        await store.shutdown()
        let host = config.advertisedHost.contains(":") ? "[\(config.advertisedHost)]" : config.advertisedHost
        let orgURL = "\(config.scheme)://\(host):\(config.apiPort)/organizations/\(config.defaultOrg)"
        let cliPath = cliConfigPath ?? (config.dataDir as NSString).appendingPathComponent("cli.json")
        var cli: JSONValue = [
            "server_url": .string(orgURL), "user": .string(adminName), "key": .string(adminKeyPath),
        ]
        if config.tls, case .object(var pairs) = cli {
            pairs.append(("trusted_cert", .string(config.certificatePath)))
            cli = .object(pairs)
        }
        try fm.createDirectory(atPath: (cliPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try writePrivate(cli.serialized() + "\n", to: cliPath)
        created.append(cliPath)
        return Result(orgURL: orgURL, adminName: adminName, adminKeyPath: adminKeyPath, cliConfigPath: cliPath,
                      certificatePath: config.tls ? config.certificatePath : nil, created: created)
    }

    /// The default org and its superuser admin, each unless it exists; `adminKey` is asked for
    /// only when the admin is created. `init` seeds the database with it, tests an in-memory store.
    static func seed(_ store: any PushyStore, org: String, adminName: String,
                     adminKey: () throws -> RSAPrivateKey) async throws {
        if try await store.org(named: org) == nil {
            try await store.createOrg(OrgRecord(name: org, guid: randomHex(32), createdAt: Date()))
        }
        if try await store.principal(org: org, name: adminName) == nil {
            let key = try adminKey()
            try await store.createPrincipal(PrincipalRecord(
                org: org, name: adminName, type: .user, publicKey: key.publicKey.pemRepresentation,
                isAdmin: true, isSuperuser: true, createdAt: Date()))  // isAdmin: joins `admins`
        }
    }

    static func writePrivate(_ text: String, to path: String) throws {
        let fm = FileManager.default
        if fm.fileExists(atPath: path) { try fm.removeItem(atPath: path) }
        guard fm.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw ServerStartError("cannot write \(path)")
        }
    }

    static func hostName() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, 255)
        return String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func randomHex(_ n: Int) -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<n).map { _ in String(UInt8.random(in: 0...15, using: &g), radix: 16) }.joined()
    }

    /// `server.json` for `config`: `data_dir` and the settings that differ from their defaults, so
    /// `pushy-server config` tells a chosen value from a default and a later version's new
    /// defaults apply to what was never chosen.
    static func settingsFile(_ config: ServerConfiguration) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let defaults = ServerConfiguration(dataDir: config.dataDir)
        guard var object = try JSONSerialization.jsonObject(with: try encoder.encode(config)) as? [String: Any],
              let defaultObject = try JSONSerialization.jsonObject(with: try encoder.encode(defaults)) as? [String: Any]
        else { return try encoder.encode(config) }
        for (key, value) in defaultObject where key != "data_dir" {
            if let mine = object[key] as? NSObject, mine.isEqual(value as? NSObject) { object[key] = nil }
        }
        return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }

    /// The keys `DATA_DIR/server.json` sets (none when it is absent or unreadable).
    static func keysInFile(dataDir: String) -> [String] {
        let path = (dataDir as NSString).appendingPathComponent("server.json")
        guard let data = FileManager.default.contents(atPath: path),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [] }
        return Array(object.keys)
    }

    /// Loads `DATA_DIR/server.json` if present, else defaults for that directory.
    public static func loadConfig(dataDir: String) throws -> ServerConfiguration {
        let path = (dataDir as NSString).appendingPathComponent("server.json")
        guard let data = FileManager.default.contents(atPath: path) else { return ServerConfiguration(dataDir: dataDir) }
        let c: ServerConfiguration
        do {
            c = try JSONDecoder().decode(ServerConfiguration.self, from: data)
        } catch let DecodingError.typeMismatch(type, context), let DecodingError.valueNotFound(type, context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw ServerStartError("cannot read \(path): \(key) must be \(ServerConfiguration.describe(type))")
        } catch DecodingError.dataCorrupted {
            throw ServerStartError("cannot read \(path): it is not valid JSON (an object of settings, e.g. {\"heartbeat_interval\": 10}; 'pushy-server config --list' lists them)")
        } catch {
            throw ServerStartError("cannot read \(path): \(error)")
        }
        if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
            let unknown = ServerConfiguration.unknownKeys(in: object)
            if !unknown.isEmpty {
                throw ServerStartError("cannot read \(path): unknown setting(s) \(unknown.joined(separator: ", ")); every setting is listed by 'pushy-server config --list' and in docs/configuration.md")
            }
        }
        var config = c
        config.dataDir = dataDir
        return config
    }
}
